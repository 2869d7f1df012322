"""`molvis ccs`: the CCS predictor. `train` fits one from the registry's measured CCS,
`backfill` stores predictions for every compound lacking them, `predict FILE` answers for the
rows of a table."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from molvis.cli.common import CliError, engine, has_schema, require_schema


def cmd_train(args: argparse.Namespace) -> int:
    from models.ccs_inputs import CcsConfig
    from molvis.workflows.ccs_prediction import train_and_register

    require_schema()
    config = CcsConfig(epochs=args.epochs, seed=args.seed, min_adduct_ions=args.min_adduct_ions)

    def progress(epoch: int, row: dict) -> None:
        if not args.json:
            print(
                f"epoch {epoch}/{config.epochs}: validation median error "
                f"{row['val_median_pct']:.2f} % ({row['seconds']:.1f} s)",
                file=sys.stderr,
            )

    summary = train_and_register(
        engine(), args.name, config, args.output, not args.no_activate, progress
    )
    if args.json:
        print(json.dumps(summary))
        return 0
    test = summary["metrics"].get("test", {})
    base = summary["metrics"].get("test_mz_baseline", {})
    held = test.get("interval_coverage")
    print(
        f"{summary['name']} ({summary['version']}): held-out median error "
        f"{test.get('median_pct')} %, p95 {test.get('p95_pct')} % (m/z baseline "
        f"{base.get('median_pct')} / {base.get('p95_pct')} %); {summary['metrics']['adducts']} "
        "adducts; the 95 % interval held "
        + (f"{100 * held:.1f} %" if held is not None else "- (no held-out values)")
        + f"; search tolerance {summary['tolerance_pct']} %; saved to {summary['path']}"
    )
    return 0


def cmd_backfill(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from molvis.workflows.ccs_backfill import backfill

    require_schema()
    with tqdm(desc="CCS predictions", unit=" compounds", file=sys.stderr, disable=args.json) as bar:
        report = backfill(
            engine(),
            args.predictor,
            args.batch_size,
            progress=bar.update,
            all_adducts=args.all_adducts,
            workers=args.workers,
        )
    if args.json:
        print(json.dumps(report))
    else:
        print(
            f"{report['predictor']}: {report['compounds']} compounds, "
            f"{report['predictions']} predicted CCS stored ({report['seconds']} s)"
        )
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    from molvis.workflows.ccs_file import predict_table

    registry = engine() if has_schema() else None
    if registry is None and args.predictor:
        raise CliError(f"--predictor {args.predictor}: no registry yet (run molvis db upgrade)")
    answers = predict_table(args.file, registry, args.predictor)
    if args.json:
        print(json.dumps(answers))
        return 0
    for a in answers:
        value = (
            f"{a['ccs']:.1f} +/- {a['uncertainty_pct']:.1f} %"
            if a["ccs"] is not None
            else f"- ({a['reason']})"
        )
        print(f"{a['smiles'] or '-'}\t{a['adduct']}\t{value}")
    return 0


def print_ccs_windows(rows: list[dict]) -> None:
    """`molvis evaluate`'s table: MS/MS alone vs MS/MS + the CCS window (predicted CCS where
    nothing was measured), with random expectations."""
    from rich.console import Console
    from rich.table import Table

    table = Table(
        title=f"CCS window on MS/MS queries with a measured CCS (predictor {rows[0]['predictor']};"
        " the truth judged by its predicted CCS)"
    )
    columns = ("windows", "tol. meas./pred.", "n", "mean cand.", "truth kept", "removed")
    rates = ("msms_top1", "msms_top5", "msms_ccs_top1", "msms_ccs_top5", "msms_ccs_random_top1")
    rates += ("msms_ccs_soft_top1", "msms_ccs_soft_top5")
    for col in columns + rates:
        table.add_column(col.replace("_", " "), justify="left" if col == "windows" else "right")
    for r in rows:
        table.add_row(
            r["windows"],
            f"{r['tolerance_pct']:g} / "
            + (
                f"{r['predicted_tolerance_pct']:g} %"
                if r["predicted_tolerance_pct"] is not None
                else "own 95 % interval"
            ),
            str(r["n_queries"]),
            f"{r['mean_candidates']:.1f}",
            f"{100 * r['truth_kept']:.1f}%",
            f"{100 * r['removed']:.1f}%",
            *(f"{100 * r[k]:.1f}%" if k in r else "-" for k in rates),
        )
    Console(width=170).print(table)


def add_parsers(sub) -> None:
    p = sub.add_parser("ccs", help="predicted collision cross sections")
    ccs = p.add_subparsers(dest="ccs_command", required=True)
    train = ccs.add_parser("train", help="train a CCS predictor on the registry's measured CCS")
    train.add_argument("--name", default="molvis-ccs", help="name to register it under")
    train.add_argument("--epochs", type=int, default=40)
    train.add_argument("--seed", type=int, default=0)
    train.add_argument(
        "--min-adduct-ions",
        type=int,
        default=20,
        help="training ions an adduct needs to be predicted (default 20)",
    )
    train.add_argument("--output", type=Path, help="file to save it to")
    train.add_argument("--no-activate", action="store_true", help="register without activating")
    train.add_argument("--json", action="store_true")
    train.set_defaults(func=cmd_train)
    fill = ccs.add_parser("backfill", help="predict CCS for every compound that lacks them")
    fill.add_argument("--predictor", help="predictor name (default: the active one)")
    fill.add_argument("--batch-size", type=int, default=5000)
    fill.add_argument(
        "--workers", type=int, help="featurisation processes (default: every core; 0: none)"
    )
    fill.add_argument(
        "--all-adducts",
        action="store_true",
        help="store every adduct the predictor knows (default: the common seven)",
    )
    fill.add_argument("--json", action="store_true")
    fill.set_defaults(func=cmd_backfill)
    predict = ccs.add_parser("predict", help="predict CCS for the rows of a CSV/TSV table")
    predict.add_argument("file", type=Path, help="table with a structure and an adduct column")
    predict.add_argument("--predictor", help="predictor name (default: the active one)")
    predict.add_argument("--json", action="store_true")
    predict.set_defaults(func=cmd_predict)
