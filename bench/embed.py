"""Structure-embedding backfill: molecules/s and peak RSS (featurise + embed + write) for the
shipped model on real MOSES structures, sweeping batch size and featurisation processes; memory
should stay flat as N grows because compounds are streamed in batches, never loaded whole.
Compounds are COPY-loaded with stand-in InChIKeys (ingest is measured by bench/ingest.py)."""

from __future__ import annotations

import argparse
import gzip
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.common import SHARED, write_result

CHILD = """
import json, resource, sys, time
from pathlib import Path
from bench.common import copy_compounds, scratch_database, peak_rss_mb
from registry.db.connection import session_scope
from registry.learned.versions import register_model
from registry.learned import embeddings
from models.checkpoint import load_checkpoint
from models.embed import backfill
from models.train import pick_device
n, batch, smi, ckpt = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
workers = int(sys.argv[5])
with scratch_database() as engine:
    raw = engine.raw_connection()
    with raw.driver_connection.cursor() as cursor:
        copy_compounds(cursor, ((s, "-", 0.0, None) for s in Path(smi).read_text().split()))
    raw.driver_connection.commit()
    raw.close()
    model, checkpoint = load_checkpoint(Path(ckpt))
    device = pick_device("auto")
    with session_scope(engine) as s:
        info = register_model(s, "bench", checkpoint["version"], ckpt, {}, {}, True)
    rss_before = peak_rss_mb()
    start = time.perf_counter()
    with session_scope(engine) as reader:
        def write(ids, vectors):
            with session_scope(engine) as w:
                embeddings.write_structure_embeddings(w, info.id, ids, vectors)
        counts = backfill(embeddings.structures_missing(reader, info.id, batch), model, write, device,
                          workers=workers)
    seconds = time.perf_counter() - start
    workers_rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(json.dumps({"n": n, "batch_size": batch, "workers": workers, "device": str(device),
                      "per_s": round(counts.embedded / seconds, 1),
                      "peak_rss_mb": round(peak_rss_mb(), 1),
                      "rss_before_backfill_mb": round(rss_before, 1),
                      "worker_peak_rss_mb": round(workers_rss, 1) if workers else None}))
"""


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[256, 1024])
    parser.add_argument(
        "--workers",
        type=int,
        nargs="+",
        default=[0, 1, 2],
        help="featurisation processes to sweep (0: featurise inline)",
    )
    parser.add_argument(
        "--checkpoint",
        default=str(
            Path(__file__).resolve().parents[1] / "models" / "pretrained" / "molvis-base.pt"
        ),
    )
    parser.add_argument("--output", type=Path)
    args = parser.parse_args(argv)
    rows = []
    with gzip.open(SHARED / "library" / "train.csv.gz", "rt") as handle:
        next(handle)
        pool = [next(handle).strip() for _ in range(max(args.sizes))]
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.sizes:
            smi = Path(tmp, f"{n}.smi")
            smi.write_text("\n".join(pool[:n]) + "\n")
            for batch in args.batch_sizes:
                for workers in args.workers:
                    # each run in a fresh process so peak RSS belongs to that run alone
                    command = [sys.executable, "-c", CHILD, str(n), str(batch), str(smi)]
                    command += [args.checkpoint, str(workers)]
                    out = subprocess.run(command, capture_output=True, text=True, check=True)
                    rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
                    print(rows[-1], flush=True)
    write_result("embed", {"rows": rows}, args.output)


if __name__ == "__main__":
    main()
