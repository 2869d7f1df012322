"""`molvis spectra`: the MS/MS forward model. `train` fits one on the registry's spectra of
training-split skeletons and measures it on test-split ones; `predict FILE` gives the
predicted spectrum of each row of a table."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from molvis.cli.common import CliError, engine, require_schema


def cmd_train(args: argparse.Namespace) -> int:
    import yaml

    from models.fragment_model import FragmentConfig
    from molvis.workflows.forward_model import registry_spectra, train_and_measure
    from registry.db.settings import load_settings

    require_schema()
    flags = {"epochs": args.epochs, "max_spectra": args.max_spectra, "seed": args.seed}
    try:
        config = FragmentConfig.given(args.config, **flags)
    except (OSError, ValueError, yaml.YAMLError) as exc:
        raise CliError(f"cannot read the forward-model settings {args.config}: {exc}") from exc
    output = args.output or load_settings().home / "models" / "fragments" / f"{args.name}.pt"

    def progress(what: str, n: int, total: int) -> None:
        if not args.json and (what == "epochs" or n % 500 == 0 or n == total):
            print(f"{what}: {n}/{total}", file=sys.stderr)

    spectra = registry_spectra(engine())
    if not spectra:
        print("no MS/MS with a precursor and adduct in the registry: ingest some first (molvis "
              "ingest msms FILE)", file=sys.stderr)  # fmt: skip
        return 1
    summary = train_and_measure(spectra, config, output, args.max_test, progress)
    if args.json:
        print(json.dumps(summary))
        return 0
    test = summary["metrics"]["test"]["all"]
    print(
        f"{output} ({summary['version']}): {summary['metrics']['train_spectra']} training "
        f"spectra; on {test['spectra']} test-split spectra the median entropy similarity of "
        f"predicted to measured is {test['median']}, the average-spectrum baseline's "
        f"{test['baseline_median']}"
    )
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from molvis.workflows.spectra_file import predict_table

    require_schema()
    with tqdm(desc="predicted spectra", unit=" rows", file=sys.stderr, disable=args.json) as bar:

        def progress(done: int, rows: int) -> None:
            bar.total = rows
            bar.n = done
            bar.refresh()

        answers = predict_table(args.file, engine(), args.model, args.top_peaks, progress)
    if args.json:
        print(json.dumps(answers))
        return 0
    for a in answers:
        if a["peaks"] is None:
            print(f"{a['smiles'] or '-'}\t{a['adduct']}\t- ({a['reason']})")
            continue
        peaks = " ".join(f"{mz:.4f}:{i:.2f}" for mz, i in a["peaks"])
        print(f"{a['smiles']}\t{a['adduct']}\t{peaks}")
    return 0


def forward_model_rows(path: Path | None, spectra: int) -> dict:
    """`molvis evaluate`'s forward-model rows (the shipped model unless a file is given)."""
    from molvis.workflows.forward_model import evaluate_forward_model
    from molvis.workflows.spectra_file import SHIPPED

    return evaluate_forward_model(engine(), path or SHIPPED, spectra)


def print_forward_model(report: dict) -> None:
    """`molvis evaluate`'s forward-model table: median and mean entropy similarity of predicted
    to measured test-split spectra beside the average-spectrum baseline."""
    from rich.console import Console
    from rich.table import Table

    table = Table(
        title=f"Forward model {report['model']} ({report['version']}) on test-split spectra: "
        "entropy similarity, predicted vs measured (baseline: the training split's average "
        "spectrum nearest in precursor mass)"
    )
    for col in ("spectra", "n", "median", "mean", "baseline median", "baseline mean"):
        table.add_column(col, justify="left" if col == "spectra" else "right")
    rows = [("all", report["all"])]
    rows += [(adduct, r) for adduct, r in report["by_adduct"].items()]
    rows += [(f"collision energy {band}", r) for band, r in report["by_energy"].items()]
    for label, r in rows:
        numbers = (r["median"], r["mean"], r["baseline_median"], r["baseline_mean"])
        table.add_row(
            label, str(r["spectra"]), *("-" if v is None else f"{v:.3f}" for v in numbers)
        )
    Console(width=150).print(table)


def add_parsers(sub) -> None:
    p = sub.add_parser("spectra", help="predicted MS/MS spectra (the forward model)")
    spectra = p.add_subparsers(dest="spectra_command", required=True)
    train = spectra.add_parser("train", help="train the forward model on the registry's MS/MS")
    train.add_argument("--name", default="molvis-fragments", help="file name under the home")
    train.add_argument(
        "--config",
        type=Path,
        help="YAML/JSON settings (default: the 2-core CPU ones; models/configs/fragments-gpu.yaml "
        "for a CUDA machine); the flags below override it",
    )
    train.add_argument("--epochs", type=int, help="passes over the spectra (default 8)")
    train.add_argument(
        "--max-spectra", type=int, help="training spectra drawn (default 6000; 0: all)"
    )
    train.add_argument("--max-test", type=int, default=1000, help="test spectra measured")
    train.add_argument("--seed", type=int)
    train.add_argument("--output", type=Path, help="file to save it to")
    train.add_argument("--json", action="store_true")
    train.set_defaults(func=cmd_train)
    predict = spectra.add_parser("predict", help="predict the MS/MS of the rows of a table")
    predict.add_argument("file", type=Path, help="table with a structure and an adduct column")
    predict.add_argument("--model", type=Path, help="forward model file (default: the shipped)")
    predict.add_argument("--top-peaks", type=int, help="peaks per spectrum (default 30)")
    predict.add_argument("--json", action="store_true")
    predict.set_defaults(func=cmd_predict)
