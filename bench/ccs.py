"""CCS prediction backfill: molecules/s and peak RSS of `molvis ccs backfill` (read stored
fingerprints, featurise, predict the stored adducts, write; the common seven, or with
--all-adducts every adduct the predictor knows) for the shipped predictor on real MOSES
structures, beside the bare predictor (featurise + predict in memory, no database) as the
baseline of the same run (at most 10,000 compounds in memory); the backfill's memory should
stay flat as N grows (keyset-paged batches: peak RSS after it vs before it; a featurisation
process's own memory is not in it). `--workers 0 1 2` runs it with featurisation inline (the
baseline), one process and two ahead of it (two: the default on two cores; a backlog under
molvis.workflows.ccs_backfill.WORKER_MIN_COMPOUNDS stays inline).
Compounds are COPY-loaded with stand-in InChIKeys; fingerprints of the first 20,000 structures
are computed and reused cyclically beyond that (the fingerprint pass is bench/fingerprints.py's)."""

from __future__ import annotations

import argparse
import gzip
import itertools
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.common import SHARED, markdown_table, write_result

REAL_FINGERPRINTS = 20_000
CHILD = """
import json, sys, time
from pathlib import Path
from bench.common import copy_compounds, scratch_database, peak_rss_mb
from models.ccs import featurize, load_predictor
from models.ccs_inputs import Ion
from molvis.workflows.ccs_backfill import backfill, stored_adducts
from registry.learned.ccs_predictions import register_predictor
from registry.db.connection import session_scope
n, batch, table, path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], Path(sys.argv[4])
everything, workers = sys.argv[5] == "all", int(sys.argv[6])
rows = [line.split("\\t") for line in Path(table).read_text().splitlines()]
rows = [(s, f, float(m), b) for s, f, m, b in rows]
model, saved = load_predictor(path)
with scratch_database() as engine:
    raw = engine.raw_connection()
    with raw.driver_connection.cursor() as cursor:
        copy_compounds(cursor, rows)
    raw.driver_connection.commit()
    raw.close()
    with session_scope(engine) as s:
        register_predictor(s, "bench", saved["version"], str(path), saved["config"], {}, 5.0, True)
    rss_before = peak_rss_mb()
    report = backfill(engine, batch_size=batch, all_adducts=everything, workers=workers)
    rss_after = peak_rss_mb()
bare_n = min(n, 10000)  # the baseline in memory, on at most 10,000 compounds
start = time.perf_counter()
adducts = stored_adducts(model.config.adducts, everything)
ions = [Ion(b, f, m, a, smiles=s) for s, f, m, b in rows[:bare_n] for a in adducts]
model.predict(featurize(ions, model.config))
bare = (time.perf_counter() - start) / bare_n
print(json.dumps({"n": n, "batch_size": batch, "adducts": len(adducts), "workers": workers,
                  "bare_per_s": round(1 / bare, 1),
                  "backfill_per_s": report["molecules_per_second"],
                  "backfill_vs_bare": round(report["molecules_per_second"] * bare, 3),
                  "predictions": report["predictions"],
                  "rss_before_backfill_mb": round(rss_before, 1),
                  "peak_rss_after_backfill_mb": round(rss_after, 1)}))
"""


def ccs_section(result: dict) -> list[str]:
    """The BENCHMARKS.md section of a result (bench/report.py)."""
    from molvis.workflows.ccs_backfill import WORKER_MIN_COMPOUNDS

    asked = f"featurisation processes asked (under {WORKER_MIN_COMPOUNDS:,}: inline)"
    head = ["compounds", "adducts each", asked]
    head += ["bare predictor molecules/s (no database)"]
    head += ["backfill molecules/s (read, predict, write)", "backfill / bare"]
    head += ["RSS MB before the backfill", "peak RSS MB after it"]
    keys = ("n", "adducts", "workers", "bare_per_s", "backfill_per_s", "backfill_vs_bare")
    keys += ("rss_before_backfill_mb", "peak_rss_after_backfill_mb")
    return [
        f"## Predicted-CCS backfill ({result['machine']['date']}, shipped predictor)",
        "",
        markdown_table(head, [[x.get(k, 0) for k in keys] for x in result["rows"]]),
        "",
    ]


def main(argv: list[str] | None = None) -> None:
    from registry.chem.identity import fingerprint_bits, identify

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--batch-size", type=int, default=5000)
    parser.add_argument(
        "--predictor",
        default=str(
            Path(__file__).resolve().parents[1] / "models" / "pretrained" / "ccs" / "molvis-ccs.pt"
        ),
    )
    parser.add_argument(
        "--adducts",
        nargs="+",
        choices=("common", "all"),
        default=["common"],
        help="what the backfill stores: the common seven, every adduct the predictor knows",
    )
    parser.add_argument(
        "--workers",
        type=int,
        nargs="+",
        default=[1],
        help="featurisation processes beside the backfill (0: featurised inline)",
    )
    parser.add_argument("--output", type=Path)
    args = parser.parse_args(argv)
    real = []
    with gzip.open(SHARED / "library" / "train.csv.gz", "rt") as handle:
        next(handle)
        for line in handle:
            identity = identify(line.strip().split(",")[0])
            bits = fingerprint_bits(identity.smiles)
            real.append(
                f"{identity.smiles}\t{identity.formula}\t{identity.monoisotopic_mass}\t{bits}"
            )
            if len(real) >= min(max(args.sizes), REAL_FINGERPRINTS):
                break
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.sizes:
            table = Path(tmp, f"{n}.tsv")
            table.write_text("\n".join(real[i % len(real)] for i in range(n)) + "\n")
            for stored, workers in itertools.product(args.adducts, args.workers):
                # each run in a fresh process so peak RSS belongs to that run alone
                command = [sys.executable, "-c", CHILD, str(n), str(args.batch_size), str(table)]
                out = subprocess.run(
                    [*command, args.predictor, stored, str(workers)],
                    capture_output=True,
                    text=True,
                    check=True,
                )
                rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
                print(rows[-1], flush=True)
    write_result("ccs", {"rows": rows}, args.output)


if __name__ == "__main__":
    main()
