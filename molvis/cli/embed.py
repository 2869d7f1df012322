"""`molvis embed`: vectors for every compound and measurement that lacks one, the structure
index (built by the backfill), then predicted CCS."""

from __future__ import annotations

import argparse
import json
import sys

from molvis.cli.common import engine


def cmd_embed(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from molvis.workflows.embedding import embed_backfill

    bars: dict[str, tqdm] = {}

    def progress(modality: str, n: int) -> None:
        if modality not in bars:
            bars[modality] = tqdm(
                desc=f"embed {modality}", unit=" rows", file=sys.stderr, disable=args.quiet or None
            )
        bars[modality].update(n)

    counts = embed_backfill(
        engine(), args.model, args.batch_size, progress=progress, workers=args.workers
    )
    for bar in bars.values():
        bar.close()
    if not args.no_ccs:  # the search's CCS window needs them for never-measured candidates
        from molvis.workflows.ccs_backfill import backfill

        with tqdm(
            desc="predict CCS", unit=" compounds", file=sys.stderr, disable=args.quiet or None
        ) as bar:
            report = backfill(engine(), progress=bar.update, workers=args.workers)
        counts["ccs_predicted"] = report["compounds"]
    print(
        json.dumps(counts)
        if args.json
        else ", ".join(f"{k}: {v}" for k, v in counts.items()) + " embedded"
    )
    return 0


def add_parsers(sub) -> None:
    embed = sub.add_parser("embed", help="embed every compound and measurement lacking vectors")
    embed.add_argument("--model", help="model name (default: the active one)")
    embed.add_argument("--batch-size", type=int, default=1024)
    embed.add_argument(
        "--workers",
        type=int,
        help="RDKit featurisation processes (default: half the cores on CPU, all but one on GPU; "
        "for predicted CCS every core)",
    )
    embed.add_argument(
        "--no-ccs", action="store_true", help="skip predicting CCS (`molvis ccs backfill` does it)"
    )
    embed.add_argument("--json", action="store_true")
    embed.add_argument("--quiet", action="store_true")
    embed.set_defaults(func=cmd_embed)
