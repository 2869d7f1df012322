"""Fingerprint throughput: molecules/s of bare RDKit (the report's RDKFingerprint) beside ours,
which also writes the bit(2048) column, on real MOSES structures."""

from __future__ import annotations

import argparse
import gzip
from pathlib import Path

from bench.common import SHARED, ingest, scratch_database, timed, write_result
from registry.chem.identity import fingerprint_bits
from registry.db.connection import session_scope
from registry.ingest.fingerprints import fill_missing


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=20000, help="molecules (default 20000)")
    parser.add_argument("--output", type=Path)
    args = parser.parse_args(argv)
    with gzip.open(SHARED / "library" / "test.csv.gz", "rt") as handle:
        smiles = [next(handle).strip() for _ in range(args.n + 1)][1:]
    with timed() as bare:
        for s in smiles:
            fingerprint_bits(s)
    import tempfile

    with tempfile.TemporaryDirectory() as tmp, scratch_database() as engine:
        path = Path(tmp, "lib.smi")
        path.write_text("\n".join(smiles) + "\n")
        ingest(engine, "structures", path, "bench")
        with timed() as ours, session_scope(engine) as session:
            filled = fill_missing(session)
    write_result(
        "fingerprints",
        {
            "molecules": filled,
            "rdkit_bare_per_s": round(args.n / bare["seconds"], 1),
            "ours_with_write_per_s": round(filled / ours["seconds"], 1),
            "ours_vs_bare": round(ours["seconds"] / bare["seconds"], 2),
        },
        args.output,
    )


if __name__ == "__main__":
    main()
