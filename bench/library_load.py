"""A structure library from file to searchable, as a user runs it: `molvis ingest structures
FILE --source S --embed` (ingest with fingerprints, structure embeddings of the shipped model,
HNSW indexes) on the first N MOSES SMILES (train, then test and test_scaffolds: 1.94M in all), in a
scratch database, timed by stage.

The baseline in the same run is the same ingest with `--workers 0` (normalisation and
fingerprints inline in the writer). Peak memory is the largest process's (ru_maxrss of the
children: the command, its workers, not the database server). The 1.94M extrapolation is
linear in N from the largest size measured; the HNSW builds grow as N log N, so it is a
lower bound for them (said beside the figure)."""

from __future__ import annotations

import argparse
import gzip
import itertools
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import text

from bench.common import SHARED, scratch_database, write_result

MOSES = 1_936_962


MOSES_FILES = ("train.csv.gz", "test.csv.gz", "test_scaffolds.csv.gz")  # 1,936,962 SMILES


def _moses() -> Iterator[str]:
    """The MOSES SMILES lines, train first, each file's header skipped."""
    for name in MOSES_FILES:
        with gzip.open(SHARED / "library" / name, "rt") as handle:
            next(handle)
            yield from handle


def _smiles_file(n: int, folder: Path) -> Path:
    path = folder / f"moses-{n}.smi"
    with path.open("w") as out:
        out.writelines(itertools.islice(_moses(), n))
    return path


def _run_cli(url: str, home: Path, args: list[str]) -> tuple[dict, float, float]:
    """The command's JSON report, its wall seconds and the peak RSS (MB) of its processes."""
    env = {**os.environ, "MOLVIS_DATABASE_URL": url, "MOLVIS_HOME": str(home)}
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "molvis", *args, "--json"],
        capture_output=True,
        text=True,
        env=env,
    )
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        raise RuntimeError(result.stderr[-2000:])
    peak = max(before, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024
    return json.loads(result.stdout), seconds, peak


def measure(n: int, folder: Path, workers: int | None, embed: bool) -> dict:
    path = _smiles_file(n, folder)
    args = ["ingest", "structures", str(path), "--source", "moses"]
    if workers is not None:
        args += ["--workers", str(workers)]
    if embed:
        args.append("--embed")
    with scratch_database() as engine:
        url = engine.url.render_as_string(hide_password=False)
        report, seconds, peak = _run_cli(url, folder / "home", args)
        with engine.connect() as conn:
            fingerprinted = conn.execute(text("SELECT count(fingerprint) FROM compound")).scalar()
    (summary,) = report["files"]
    ingest_s = summary["seconds"]
    row = {
        "compounds": n,
        "workers": "auto" if workers is None else workers,
        "embed": embed,
        "new": summary["compounds_new"],
        "fingerprinted": fingerprinted,
        "ingest_seconds": round(ingest_s, 1),
        "ingest_per_s": round(n / ingest_s, 1),
        "command_seconds": round(seconds, 1),
        "file_to_searchable_per_s": round(n / seconds, 1),
        "rebuilt_indexes": summary["rebuilt_indexes"],
        "peak_rss_mb": round(peak, 1),
    }
    if embed:
        row["embedded"] = report["embedded"]["structure"]
        row["embed_and_index_seconds"] = round(seconds - ingest_s, 1)
    print(row, flush=True)
    return row


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--sizes", type=int, nargs="+", default=[100_000], help=f"MOSES prefixes (all: {MOSES})"
    )
    parser.add_argument(
        "--baseline-up-to",
        type=int,
        default=100_000,
        help="run the inline baseline (--workers 0, no --embed) for sizes up to this",
    )
    parser.add_argument("--output", type=Path)
    args = parser.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.sizes:
            if n <= args.baseline_up_to:
                rows.append(measure(n, Path(tmp), 0, embed=False))  # the baseline: inline
            rows.append(measure(n, Path(tmp), None, embed=True))  # the one command, defaults
    largest = max((r for r in rows if r["embed"]), key=lambda r: r["compounds"])
    minutes = round(MOSES / largest["file_to_searchable_per_s"] / 60, 1)
    if largest["compounds"] >= MOSES:
        moses = {"moses_minutes": round(largest["command_seconds"] / 60, 1), "moses": "measured"}
    else:
        moses = {
            "moses_minutes": minutes,
            "moses": f"extrapolated: {MOSES} / file-to-searchable rate at "
            f"{largest['compounds']} (linear; HNSW builds grow faster than N)",
        }
    write_result("library_load", {"cores": os.cpu_count(), "rows": rows, **moses}, args.output)


if __name__ == "__main__":
    main()
