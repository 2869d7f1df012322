"""Retrieval accuracy of a registered model: top-1/5/10/20 on its held-out test split for each
query modality and fused, both candidate sets, with the random baseline and the spectrum-blind
control (the same evaluation as `molvis evaluate`, written as a benchmark result)."""

from __future__ import annotations

import argparse
from pathlib import Path

from bench.common import write_result
from molvis.workflows.evaluation import evaluate_model
from registry.db.connection import get_engine

REPORT_TOP5 = 0.00397  # the PNNL report's top-5 retrieval accuracy


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", help="model name (default: the active one)")
    parser.add_argument("--ppm", type=float, default=10.0)
    parser.add_argument("--max-queries", type=int, default=2000)
    parser.add_argument("--output", type=Path)
    args = parser.parse_args(argv)
    report = evaluate_model(get_engine(), args.model, args.ppm, args.max_queries, mass_window=True)
    write_result("accuracy", {**report, "report_top5": REPORT_TOP5}, args.output)


if __name__ == "__main__":
    main()
