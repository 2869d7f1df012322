"""Profile one pipeline under cProfile and print its most expensive functions: `ingest` (MGF
spectra end to end into a scratch database) or `embed` (structure-embedding backfill of MOSES
compounds). This is how the slowest stages named in BENCHMARKS.md were found."""

from __future__ import annotations

import argparse
import cProfile
import gzip
import pstats
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench.common import SHARED, ingest, scratch_database
from bench.ingest import _mgf
from registry.db.connection import session_scope

CHECKPOINT = Path(__file__).resolve().parents[1] / "models" / "pretrained" / "molvis-base.pt"


@contextmanager
def _profiled(profiler: cProfile.Profile | None) -> Iterator[None]:
    if profiler is None:
        yield
        return
    profiler.enable()
    try:
        yield
    finally:
        profiler.disable()


def profile_ingest(n: int, profiler: cProfile.Profile | None) -> float:
    with tempfile.TemporaryDirectory() as tmp, scratch_database() as engine:
        path = Path(tmp, "spectra.mgf")
        path.write_text(_mgf(n))
        start = time.perf_counter()
        with _profiled(profiler):
            summary = ingest(engine, "msms", path, "profile")
        return summary.read / (time.perf_counter() - start)


def profile_embed(n: int, profiler: cProfile.Profile | None) -> float:
    import torch

    from models.checkpoint import load_checkpoint
    from models.embed import backfill
    from registry.learned import embeddings
    from registry.learned.versions import register_model

    with gzip.open(SHARED / "library" / "train.csv.gz", "rt") as handle:
        next(handle)
        smiles = [next(handle).strip() for _ in range(n)]
    with tempfile.TemporaryDirectory() as tmp, scratch_database() as engine:
        path = Path(tmp, "library.smi")
        path.write_text("\n".join(smiles) + "\n")
        ingest(engine, "structures", path, "profile")
        model, checkpoint = load_checkpoint(CHECKPOINT)
        with session_scope(engine) as session:
            info = register_model(session, "profile", checkpoint["version"], "-", {}, {}, True)

        def write(ids, vectors):
            with session_scope(engine) as writer:
                embeddings.write_structure_embeddings(writer, info.id, ids, vectors)

        with session_scope(engine) as reader:
            start = time.perf_counter()
            with _profiled(profiler):
                counts = backfill(
                    embeddings.structures_missing(reader, info.id, 1024),
                    model,
                    write,
                    torch.device("cpu"),
                )
        return counts.embedded / (time.perf_counter() - start)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("pipeline", choices=["ingest", "embed"])
    parser.add_argument("--n", type=int, default=3000, help="spectra or compounds")
    parser.add_argument("--top", type=int, default=25, help="functions to print")
    parser.add_argument("--sort", default="tottime", choices=["tottime", "cumulative"])
    parser.add_argument(
        "--plain", action="store_true", help="time without the profiler (its overhead skews rates)"
    )
    args = parser.parse_args(argv)
    profiler = None if args.plain else cProfile.Profile()
    run = profile_ingest if args.pipeline == "ingest" else profile_embed
    rate = run(args.n, profiler)
    where = "without" if profiler is None else "under"
    print(f"{args.pipeline}: {rate:.0f} per second {where} the profiler (single process)")
    if profiler is not None:
        pstats.Stats(profiler).sort_stats(args.sort).print_stats(args.top)


if __name__ == "__main__":
    main()
