"""The MS/MS forward model, trained on MassBank spectra of training-split skeletons and
measured on test-split ones: median entropy similarity of predicted to measured spectra
beside a baseline that averages the training spectra of the nearest precursor masses. With
`--ship`, the model is written where `molvis spectra predict` finds it.

Run: python -m bench.forward_model [--config FILE] [--max-spectra 6000] [--epochs 8] [--ship]"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from rdkit import Chem, RDLogger
from tqdm import tqdm

from bench.common import RESULTS, massbank_records, write_result
from models.fragment_model import FragmentConfig
from molvis.workflows.forward_model import Spectrum, train_and_measure
from molvis.workflows.spectra_file import SHIPPED


def massbank_spectra(limit: int | None = None) -> list[Spectrum]:
    """MassBank [M+H]+ / [M-H]- spectra with a precursor and a structure RDKit reads (the
    first `limit`)."""
    out: list[Spectrum] = []
    for r, mol in tqdm(massbank_records(), desc="MassBank spectra", unit=" spectra"):
        if not r.precursor_mz:
            continue
        out.append(
            Spectrum(
                Chem.MolToInchiKey(mol), Chem.MolToSmiles(mol), r.adduct, r.collision_energy,
                r.precursor_mz, r.mz, r.intensity,
            )
        )  # fmt: skip
        if limit and len(out) >= limit:
            break
    return out


def forward_model_section(r: dict) -> list[str]:
    """The BENCHMARKS.md section of this benchmark (bench.report puts it in)."""
    test = r["metrics"]["test"]

    def line(name: str, s: dict) -> str:
        return (
            f"| {name} | {s['spectra']} | {s['median']:.3f} | {s['mean']:.3f} | "
            f"{s['baseline_median']:.3f} | {s['baseline_mean']:.3f} |"
        )

    rows = [line("all", test["all"])]
    rows += [line(a, s) for a, s in test["by_adduct"].items()]
    rows += [line(f"collision energy {b}", s) for b, s in test["by_energy"].items()]
    return [
        "## MS/MS forward model (predicted spectra)",
        "",
        f"`python -m bench.forward_model{' --config ' + r['config'] if r.get('config') else ''}"
        f" --max-spectra {r['max_spectra']} --epochs {r['epochs']}`"
        f" (`bench/results/forward_model.json`): trained on {r['metrics']['train_spectra']} "
        f"MassBank spectra of training-split skeletons ({r['metrics']['train_ions']:,} fragment "
        f"ions, {r['metrics']['train_seconds']} s on 2 cores), measured on test-split spectra: "
        "entropy similarity of the predicted to the measured spectrum, beside the average "
        "training spectrum of the 10 nearest precursor masses (a prediction that never reads the "
        "structure).",
        "",
        "| spectra | n | median | mean | baseline median | baseline mean |",
        "|---|---|---|---|---|---|",
        *rows,
        "",
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--config", type=Path, help="forward-model settings (YAML/JSON)")
    parser.add_argument("--max-spectra", type=int, help="default 6000 (0: all)")
    parser.add_argument("--max-test", type=int, default=1000)
    parser.add_argument("--epochs", type=int, help="default 8")
    parser.add_argument("--spectra", type=int, help="read only the first N MassBank spectra")
    parser.add_argument("--ship", action="store_true", help=f"write the model to {SHIPPED}")
    parser.add_argument("--output", type=Path)
    args = parser.parse_args(argv)
    RDLogger.DisableLog("rdApp.*")
    started = time.perf_counter()
    spectra = massbank_spectra(args.spectra)
    config = FragmentConfig.given(args.config, max_spectra=args.max_spectra, epochs=args.epochs)
    target = (
        SHIPPED if args.ship else (args.output or RESULTS / "forward_model.json").with_suffix(".pt")
    )
    with tqdm(desc="training", unit=" steps") as bar:
        summary = train_and_measure(
            spectra, config, target, args.max_test, lambda what, n, total: bar.update()
        )
    result = {
        "max_spectra": config.max_spectra or 0,
        "epochs": config.epochs,
        "config": str(args.config) if args.config else None,
        "shipped": args.ship,
        "seconds": round(time.perf_counter() - started, 1),
        **summary,
    }
    write_result("forward_model", result, args.output)


if __name__ == "__main__":
    main()
