"""`molvis train`, `evaluate` and `models`: train, measure and choose the active model."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from models.calibration import DEFAULT_COVERAGE
from molvis.cli.common import engine

EVALUATION_COLUMNS = ("top1", "top5", "top10", "top20", "random_top1", "random_top20")


def cmd_train(args: argparse.Namespace) -> int:
    from models.config import load_config
    from molvis.workflows.training import train_and_register

    config = load_config(Path(args.config))
    if args.name:
        config.name = args.name
    if args.epochs:
        config.epochs = args.epochs
    out = train_and_register(
        engine(),
        config,
        Path(args.output) if args.output else None,
        args.activate,
        show_progress=not args.quiet,
    )
    print(
        f"saved {out['name']} (version {out['version']}, best epoch {out['best_epoch']}) "
        f"to {out['path']}"
        + (
            "; active"
            if args.activate
            else f"; activate with `molvis models activate {out['name']}`"
        )
    )
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from molvis.workflows.evaluation import evaluate_model

    report = evaluate_model(
        engine(), args.model, args.ppm, args.max_queries or None, not args.no_mass_window
    )
    if args.library:
        from molvis.workflows.library_evaluation import evaluate_library

        report["library"] = evaluate_library(
            engine(),
            args.model,
            args.ppm,
            args.library_queries or None,
            Path(args.plot) if args.plot else None,
            coverage=args.coverage,
            ranker=args.ranker,
        )
    if args.forward_spectra:
        from molvis.cli.spectra import forward_model_rows

        report["forward_model"] = forward_model_rows(args.forward_model, args.forward_spectra)
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{report['model']} ({report['version']}): top-k on the test split")
    for col in ("query", "candidates", "n", "mean cand.", "truth in", *EVALUATION_COLUMNS):
        table.add_column(
            col.replace("random_", "rnd "),
            justify="left" if col in ("query", "candidates") else "right",
        )
    for r in report["results"] + report["controls"]:
        table.add_row(*_cells(r, ("truth_in_candidates", *EVALUATION_COLUMNS)))
    Console(width=150).print(table)
    if report.get("candidate_sets"):
        _print_candidate_sets(report)
    if report.get("ccs_windows"):
        from molvis.cli.ccs import print_ccs_windows

        print_ccs_windows(report["ccs_windows"])
    if "library" in report:
        from molvis.cli.library_report import print_library

        print_library(report["library"])
    if "forward_model" in report:
        from molvis.cli.spectra import print_forward_model

        print_forward_model(report["forward_model"])
    return 0


SET_RATES = (
    "truth_in_candidates",
    "top1",
    "top5",
    "top20",
    "random_top1",
    "random_top5",
    "prior_top1",
    "prior_top5",
)


def _cells(r: dict[str, Any], rates: tuple[str, ...]) -> list[str]:
    """One evaluation row as table cells: query (and its control), set, n, mean candidates,
    then the rates in percent."""
    label = r["query"] + (" (spectrum-blind)" if r.get("control") else "")
    return [
        label,
        r["candidate_set"],
        str(r["n_queries"]),
        f"{r['mean_candidates']:.1f}",
        *(f"{100 * r[k]:.1f}%" for k in rates),
    ]


def _print_candidate_sets(report: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    sim = report.get("test_to_train_similarity") or {}
    title = "candidate sets (hits on the first InChIKey block) beside random and structure prior"
    if sim:
        title += (
            f"; test-to-nearest-train Tanimoto median {sim['p50']}, >= 0.7 for "
            f"{100 * sim['fraction_at_least_0.7']:.0f} % of test compounds"
        )
    table = Table(title=title)
    columns = (
        "query",
        "set",
        "n",
        "mean cand.",
        "truth in",
        "top1",
        "top5",
        "top20",
        "rnd top1",
        "rnd top5",
        "prior top1",
        "prior top5",
    )
    for col in columns:
        table.add_column(col, justify="left" if col in ("query", "set") else "right")
    for r in report["candidate_sets"]:
        table.add_row(*_cells(r, SET_RATES))
    Console(width=170).print(table)


def cmd_finetune(args: argparse.Namespace) -> int:
    from models.finetune import FinetuneConfig
    from molvis.workflows.finetune import finetune_and_register

    config = FinetuneConfig(
        decoys=args.decoys,
        epochs=args.epochs,
        lr=args.lr,
        batch_size=args.batch_size,
        max_spectra=args.max_spectra or None,
        library_decoys=not args.measured_decoys_only,
        neutral_losses=args.neutral_losses,
    )
    summary = finetune_and_register(
        engine(), args.base, args.name, config, args.ppm, show_progress=not args.json
    )
    print(
        json.dumps(summary, indent=2)
        if args.json
        else f"{summary['name']} ({summary['version']}) fine-tuned on {summary['spectra']} spectra:"
        f" {summary['path']}"
    )
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    from molvis.workflows.model_loading import ensure_pretrained
    from registry.db.connection import session_scope
    from registry.learned.versions import activate_model, list_models

    with session_scope(engine()) as session:
        ensure_pretrained(session)
        if args.action == "activate":
            if not args.name:
                raise ValueError("name the model to activate: molvis models activate NAME")
            activate_model(session, args.name)
        models = list_models(session)
    if args.json:
        print(json.dumps([m.__dict__ for m in models], indent=2, default=str))
        return 0
    for m in models:
        top = _headline(m.metrics)
        print(f"{'*' if m.is_active else ' '} {m.name:24s} {m.version}  {top}  {m.path}")
    return 0


def _headline(metrics: dict[str, Any]) -> str:
    """MS/MS mass-window top-1/top-20 from the last evaluation, if there was one."""
    for r in metrics.get("evaluation", {}).get("results", []):
        if r["query"] == "msms" and r["candidate_set"] == "mass_window":
            return f"msms top1 {100 * r['top1']:.1f}% top20 {100 * r['top20']:.1f}%"
    return "not evaluated"


def add_parsers(sub) -> None:
    train = sub.add_parser("train", help="train encoders contrastively on the registry")
    train.add_argument("--config", required=True, help="YAML/JSON training config")
    train.add_argument("--name", help="model name (default: the config's)")
    train.add_argument("--epochs", type=int, help="override the config's epochs")
    train.add_argument("--output", help="checkpoint path (default MOLVIS_HOME/models/NAME.pt)")
    train.add_argument("--activate", action="store_true", help="make it the active model")
    train.add_argument("--quiet", action="store_true", help="no progress bars")
    train.set_defaults(func=cmd_train)

    evaluate = sub.add_parser("evaluate", help="top-k retrieval on the model's test split")
    evaluate.add_argument("--model", help="model name (default: the active one)")
    evaluate.add_argument("--ppm", type=float, default=10.0, help="mass window (default 10)")
    evaluate.add_argument(
        "--max-queries",
        type=int,
        default=3000,
        help="queries per modality, sampled (default 3000; 0 = all)",
    )
    evaluate.add_argument(
        "--no-mass-window", action="store_true", help="only the test-split candidate set"
    )
    evaluate.add_argument(
        "--library",
        action="store_true",
        help="also the library row (held-out spectra searched with the library) and fit the "
        "hit-probability calibration",
    )
    evaluate.add_argument(
        "--library-queries",
        type=int,
        default=1000,
        help="spectra per split for the library row (default 1000; 0 = all)",
    )
    evaluate.add_argument(
        "--coverage",
        type=float,
        default=DEFAULT_COVERAGE,
        help="prior share of unknowns whose compound is in the registry, for the open-world "
        f"calibration (default {DEFAULT_COVERAGE})",
    )
    evaluate.add_argument(
        "--ranker",
        choices=("hand", "learned"),
        default="hand",
        help="--library: the order searched, whose calibration is refitted (the other order's "
        "is kept; default hand; learned: the search's default, with fragment evidence, slower)",
    )
    evaluate.add_argument(
        "--forward-spectra",
        type=int,
        default=1000,
        help="test-split spectra the forward model predicts (default 1000; 0 = leave it out)",
    )
    evaluate.add_argument(
        "--forward-model", type=Path, help="forward model file (default: the shipped one)"
    )
    evaluate.add_argument("--plot", metavar="PNG", help="write the reliability curve here")
    evaluate.add_argument("--json", action="store_true")
    evaluate.set_defaults(func=cmd_evaluate)

    tune = sub.add_parser(
        "finetune", help="candidate-aware fine-tuning of the MS/MS encoder (mass-window decoys)"
    )
    tune.add_argument("--name", required=True, help="name of the fine-tuned model")
    tune.add_argument("--base", help="model to start from (default: the active one)")
    tune.add_argument("--decoys", type=int, default=15, help="decoys per spectrum (default 15)")
    tune.add_argument("--epochs", type=int, default=2)
    tune.add_argument("--lr", type=float, default=5e-5)
    tune.add_argument("--batch-size", type=int, default=32)
    tune.add_argument("--ppm", type=float, default=10.0, help="window of the decoys (default 10)")
    tune.add_argument("--max-spectra", type=int, default=0, help="sample this many (0 = all)")
    tune.add_argument(
        "--measured-decoys-only",
        action="store_true",
        help="decoys from measured compounds only: no candidate-library (e.g. MOSES) structure is"
        " seen in training, so evaluating against that library stays clean",
    )
    tune.add_argument(
        "--neutral-losses",
        action="store_true",
        help="the MS/MS encoder also reads each peak's neutral loss to the precursor",
    )
    tune.add_argument("--json", action="store_true")
    tune.set_defaults(func=cmd_finetune)

    models = sub.add_parser("models", help="list models, or activate one")
    models.add_argument("action", nargs="?", choices=["list", "activate"], default="list")
    models.add_argument("name", nargs="?")
    models.add_argument("--json", action="store_true")
    models.set_defaults(func=cmd_models)
