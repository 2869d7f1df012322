"""Training and backfill on an accelerator beside the CPU: seconds per training epoch of the
shipped model's configuration, and molecules/s of the model side of the structure-embedding
backfill (RDKit featurisation in worker processes ahead of the encoder's forward pass; the
database write is left out, as the lent machine has no PostgreSQL).

`export` (here, from the registry) writes the training set and a MOSES slice as plain arrays
(no pickle); `run` reads them where no database is, on each device asked for, and writes JSON:

    python -m bench.device export --out .device-inputs --compounds 3000 --smiles 50000
    python -m bench.device run --inputs .device-inputs --devices cpu --output results.json
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parent.parent
SHIPPED = REPO / "models" / "pretrained" / "molvis-base.pt"


def _text(values: list[str | None]) -> np.ndarray:
    """Strings as a fixed-width array; None as NUL (no string of the registry holds one)."""
    return np.array(["\0" if v is None else v for v in values], dtype=str)


def _untext(values: np.ndarray) -> list[str | None]:
    return [None if v == "\0" else str(v) for v in values]


def _number(values: list[float | None]) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in values], dtype=np.float64)


def _unnumber(values: np.ndarray) -> list[float | None]:
    return [None if np.isnan(v) else float(v) for v in values]


def export(out: Path, compounds: int, smiles: int) -> None:
    """The registry's first `compounds` measured compounds (by InChIKey) with every measurement,
    and the first `smiles` structures of the MOSES training file."""
    from bench.common import SHARED
    from registry.db.connection import get_engine, session_scope
    from registry.read.training_data import load_training_set

    with session_scope(get_engine()) as session:
        data = load_training_set(session, limit_compounds=compounds)
    fingerprints = np.stack(
        [
            np.frombuffer((c.fingerprint or "0" * 2048).encode(), np.uint8) - 48
            for c in data.compounds
        ]
    )
    peaks = [len(r.mz) for r in data.msms]
    out.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        out / "training.npz",
        compound_id=np.array([c.id for c in data.compounds]),
        inchikey=_text([c.inchikey for c in data.compounds]),
        smiles=_text([c.smiles for c in data.compounds]),
        mass=np.array([c.monoisotopic_mass for c in data.compounds]),
        fingerprint=np.packbits(fingerprints, axis=1),
        has_fingerprint=np.array([c.fingerprint is not None for c in data.compounds]),
        msms_compound=np.array([r.compound for r in data.msms], dtype=np.int64),
        msms_id=np.array([r.measurement_id for r in data.msms], dtype=np.int64),
        msms_precursor=_number([r.precursor_mz for r in data.msms]),
        msms_adduct=_text([r.adduct for r in data.msms]),
        msms_ion_mode=_text([r.ion_mode for r in data.msms]),
        msms_instrument=_text([r.instrument_type for r in data.msms]),
        msms_energy=_text([r.collision_energy for r in data.msms]),
        msms_peaks=np.array(peaks, dtype=np.int64),
        # float32 m/z (0.06 ppm at m/z 1000) keeps the inputs small enough to travel
        msms_mz=np.concatenate([r.mz for r in data.msms]).astype(np.float32)
        if peaks
        else np.zeros(0, np.float32),
        msms_intensity=np.concatenate([r.intensity for r in data.msms]).astype(np.float32)
        if peaks
        else np.zeros(0, np.float32),
        ir_compound=np.array([r.compound for r in data.ir], dtype=np.int64),
        ir_id=np.array([r.measurement_id for r in data.ir], dtype=np.int64),
        ir_vector=np.stack([r.vector for r in data.ir]).astype(np.float32)
        if data.ir
        else np.zeros((0, 825), np.float32),
        ccs_compound=np.array([r.compound for r in data.ccs], dtype=np.int64),
        ccs_id=np.array([r.measurement_id for r in data.ccs], dtype=np.int64),
        ccs_value=np.array([r.ccs for r in data.ccs]),
        ccs_mz=_number([r.mz for r in data.ccs]),
        ccs_adduct=_text([r.adduct for r in data.ccs]),
    )
    with (
        gzip.open(SHARED / "library" / "train.csv.gz", "rt") as handle,
        gzip.open(out / "smiles.txt.gz", "wt") as target,
    ):
        next(handle)
        for _, line in zip(range(smiles), handle, strict=False):
            target.write(line)
    print(
        f"{out}: {len(data.compounds)} compounds, {len(data.msms)} MS/MS, {len(data.ir)} IR, "
        f"{len(data.ccs)} CCS; {smiles} MOSES structures"
    )


def read_training_set(path: Path):
    """The exported training set as the registry reader returns it."""
    from registry.read.measurements import CcsRow, IrRow, MsmsRow
    from registry.read.training_data import CompoundRow, TrainingSet

    a = np.load(path, allow_pickle=False)
    bits = np.unpackbits(a["fingerprint"], axis=1)[:, :2048] + 48
    data = TrainingSet()
    for i, (cid, key, smi, mass) in enumerate(
        zip(a["compound_id"], _untext(a["inchikey"]), _untext(a["smiles"]), a["mass"], strict=True)
    ):
        fp = bits[i].tobytes().decode() if a["has_fingerprint"][i] else None
        data.compounds.append(CompoundRow(int(cid), key, smi, float(mass), fp))
    ends = np.cumsum(a["msms_peaks"])
    starts = ends - a["msms_peaks"]
    fields = zip(
        a["msms_compound"],
        a["msms_id"],
        _unnumber(a["msms_precursor"]),
        _untext(a["msms_adduct"]),
        _untext(a["msms_ion_mode"]),
        _untext(a["msms_instrument"]),
        _untext(a["msms_energy"]),
        starts,
        ends,
        strict=True,
    )
    for compound, mid, precursor, adduct, mode, instrument, energy, s, e in fields:
        data.msms.append(
            MsmsRow(
                compound=int(compound),
                measurement_id=int(mid),
                precursor_mz=precursor,
                adduct=adduct,
                ion_mode=mode,
                instrument_type=instrument,
                collision_energy=energy,
                mz=a["msms_mz"][s:e].astype(np.float64),
                intensity=a["msms_intensity"][s:e].astype(np.float64),
            )
        )
    data.ir = [
        IrRow(int(c), int(m), v)
        for c, m, v in zip(a["ir_compound"], a["ir_id"], a["ir_vector"], strict=True)
    ]
    data.ccs = [
        CcsRow(int(c), int(m), float(v), mz, adduct)
        for c, m, v, mz, adduct in zip(
            a["ccs_compound"],
            a["ccs_id"],
            a["ccs_value"],
            _unnumber(a["ccs_mz"]),
            _untext(a["ccs_adduct"]),
            strict=True,
        )
    ]
    return data


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def backfill_rate(smiles: list[str], device: torch.device, workers: int) -> dict:
    """Molecules/s of `models.embed.backfill` with the shipped model, batches of 1,000 as the
    registry streams them, vectors handed to a writer that keeps them in memory."""
    from models.checkpoint import load_checkpoint
    from models.embed import CPU_FORWARD_BATCH, backfill, embed_graphs
    from models.molgraph import featurize_all

    model, _ = load_checkpoint(SHIPPED, str(device))
    pairs = list(enumerate(smiles))
    batches = [pairs[i : i + 1000] for i in range(0, len(pairs), 1000)]
    kept: list[np.ndarray] = []
    backfill(batches[:2], model, lambda ids, v: None, device)  # warm-up: kernels, allocator
    _sync(device)
    start = time.perf_counter()
    counts = backfill(batches, model, lambda ids, v: kept.append(v), device, workers=workers)
    _sync(device)
    seconds = time.perf_counter() - start
    graphs = featurize_all(smiles[:10_000])  # the encoder alone, featurisation done
    _sync(device)
    forward_start = time.perf_counter()
    ok, _ = embed_graphs(model, graphs, device, CPU_FORWARD_BATCH if device.type == "cpu" else 1000)
    _sync(device)
    forward_seconds = time.perf_counter() - forward_start
    return {
        "device": str(device),
        "molecules": counts.embedded,
        "workers": workers,
        "seconds": round(seconds, 2),
        "per_s": round(counts.embedded / seconds, 1),
        "forward_only_per_s": round(int(ok.sum()) / forward_seconds, 1),
        "first_vectors": np.concatenate(kept)[:1000],
    }


def featurize_rate(smiles: list[str], workers: int) -> float:
    """Molecules/s of RDKit featurisation alone in `workers` processes, the pool started and
    warmed first: the bound of a backfill whose encoder is faster than its featurisation."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from models.molgraph import featurize_all

    batches = [smiles[i : i + 1000] for i in range(0, len(smiles), 1000)]
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=context) as pool:
        list(pool.map(featurize_all, batches[:workers]))
        start = time.perf_counter()
        done = sum(len(graphs) for graphs in pool.map(featurize_all, batches))
        return round(done / (time.perf_counter() - start), 1)


def profile_epoch(data, config_path: Path, device: torch.device, lines: int = 30) -> str:
    """cProfile of one training epoch, by cumulative time: where a GPU epoch goes."""
    import cProfile
    import io
    import pstats

    profiler = cProfile.Profile()
    profiler.enable()
    training_epochs(data, config_path, device, 1)
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(lines)
    return out.getvalue()


def training_epochs(data, config_path: Path, device: torch.device, epochs: int) -> dict:
    """Seconds per epoch (and the losses, to see it learns alike) of `models.train.train`."""
    from models.config import load_config
    from models.train import train

    config = load_config(config_path)
    config.epochs, config.patience, config.device = epochs, epochs + 1, str(device)
    start = time.perf_counter()
    result = train(data, config, show_progress=False)
    _sync(device)
    history = result.history
    return {
        "config": config_path.name,
        "device": str(device),
        "amp": bool(config.amp and device.type == "cuda"),
        "epochs": len(history),
        "seconds_total": round(time.perf_counter() - start, 1),
        "epoch_seconds": [round(h["seconds"], 2) for h in history],
        "train_loss": [round(h["train_loss"], 4) for h in history],
        "val_top1": [round(h.get("val_top1", float("nan")), 4) for h in history],
    }


def run(args: argparse.Namespace) -> None:
    from models.prefetch import default_workers

    devices = [torch.device(d) for d in args.devices]
    cuda = torch.cuda.is_available()
    result: dict = {
        "benchmark": "device",
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cpus": os.cpu_count(),
        "gpu": torch.cuda.get_device_name(0) if cuda else None,
        "backfill": [],
        "training": [],
    }
    with gzip.open(args.inputs / "smiles.txt.gz", "rt") as handle:
        smiles = [line.strip() for line in handle][: args.smiles] * args.passes
    result["backfill_passes"] = args.passes
    vectors = {}
    for device in devices:
        rate = backfill_rate(smiles, device, default_workers(device))
        rate["pool_featurize_per_s"] = featurize_rate(smiles, default_workers(device))
        vectors[str(device)] = rate.pop("first_vectors")
        result["backfill"].append(rate)
        print(json.dumps(rate), flush=True)
    if len(vectors) > 1:
        first, *rest = vectors.values()
        result["backfill_max_abs_difference"] = max(float(np.abs(first - v).max()) for v in rest)
    data = read_training_set(args.inputs / "training.npz")
    for device in devices:
        for config in args.configs:
            if config.name in args.cuda_only and device.type != "cuda":
                continue
            record = training_epochs(data, config, device, args.epochs)
            result["training"].append(record)
            print(json.dumps(record), flush=True)
    if args.profile:
        result["profile"] = profile_epoch(data, args.configs[0], devices[0])
        print(result["profile"], flush=True)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    ex = sub.add_parser("export", help="write the inputs from the registry")
    ex.add_argument("--out", type=Path, required=True)
    ex.add_argument("--compounds", type=int, default=3000)
    ex.add_argument("--smiles", type=int, default=50_000)
    go = sub.add_parser("run", help="time training and backfill on each device")
    go.add_argument("--inputs", type=Path, required=True)
    go.add_argument("--output", type=Path, required=True)
    go.add_argument("--devices", nargs="+", default=["cuda", "cpu"])
    go.add_argument("--smiles", type=int, default=50_000)
    go.add_argument("--epochs", type=int, default=3)
    go.add_argument(
        "--passes", type=int, default=1, help="backfill the SMILES this many times over"
    )
    go.add_argument(
        "--profile", action="store_true", help="profile one epoch of the first config and device"
    )
    go.add_argument(
        "--configs",
        type=Path,
        nargs="+",
        default=[
            REPO / "models" / "configs" / "base.yaml",
            REPO / "models" / "configs" / "gpu.yaml",
        ],
    )
    go.add_argument("--cuda-only", nargs="*", default=["gpu.yaml"], help="configs not run on CPU")
    args = parser.parse_args(argv)
    if args.command == "export":
        export(args.out, args.compounds, args.smiles)
    else:
        run(args)


if __name__ == "__main__":
    main()


def _median_after_first(values: list[float]) -> float:
    """Median epoch seconds without the first epoch (CUDA start-up, allocator warm-up)."""
    rest = sorted(values[1:] or values)
    middle = len(rest) // 2
    return round(rest[middle] if len(rest) % 2 else (rest[middle - 1] + rest[middle]) / 2, 2)


def device_section(lent: dict, here: dict | None) -> list[str]:
    """BENCHMARKS.md rows: this machine's CPU beside the lent machine's CPU and GPU."""
    from bench.common import markdown_table

    def backfill(r: dict | None, device: str, key: str) -> object:
        rows = [b for b in (r or {}).get("backfill", []) if b["device"] == device]
        return rows[0][key] if rows else "-"

    def epoch(r: dict | None, device: str, config: str) -> object:
        rows = [
            t
            for t in (r or {}).get("training", [])
            if t["device"] == device and t["config"] == config
        ]
        if not rows:
            return "-"
        seconds = rows[0]["epoch_seconds"]
        rest = seconds[1:] or seconds
        return f"{_median_after_first(seconds)} ({min(rest)}-{max(rest)})"

    columns = [(here, "cpu"), (lent, "cpu"), (lent, "cuda")]
    runs = lent["backfill"][0]["molecules"]
    return [
        f"## Training and backfill on a GPU ({lent['gpu']}, torch {lent['torch']}, "
        f"{lent['cpus']} cores beside it)",
        "",
        f"`python -m bench.device run` on the lent machine and here, same inputs (`export`: the "
        f"registry's first 3,000 measured compounds, and {runs:,} MOSES structures = the first "
        f"50k {lent.get('backfill_passes', 1)} times over). Backfill is the model side (RDKit "
        "featurisation in worker processes + encoder; no database on the lent machine). Epoch "
        "seconds: median of epochs 2 on (range), bf16 autocast on the GPU.",
        "",
        markdown_table(
            [
                "",
                f"here: CPU, {(here or {}).get('cpus', '-')} cores",
                f"lent: CPU, {lent['cpus']} cores",
                f"lent: {lent['gpu']}",
            ],
            [
                ["backfill, molecules/s", *(backfill(r, d, "per_s") for r, d in columns)],
                ["featurisation processes", *(backfill(r, d, "workers") for r, d in columns)],
                [
                    "featurisation alone, molecules/s",
                    *(backfill(r, d, "pool_featurize_per_s") for r, d in columns),
                ],
                [
                    "encoder forward alone, molecules/s",
                    *(backfill(r, d, "forward_only_per_s") for r, d in columns),
                ],
                [
                    "epoch, base.yaml (shipped config), s",
                    *(epoch(r, d, "base.yaml") for r, d in columns),
                ],
                [
                    "epoch, gpu.yaml (256-d GNN, 6-layer MS/MS encoder, batch 256), s",
                    *(epoch(r, d, "gpu.yaml") for r, d in columns),
                ],
            ],
        ),
        "",
        f"GPU and CPU vectors of the same molecules differ by at most "
        f"{lent.get('backfill_max_abs_difference', float('nan')):.1e} (fp32 on both).",
        "",
    ]
