"""`molvis train`, `molvis evaluate` and `molvis models`: the CLI's model commands."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from registry.db import get_engine, session_scope
from registry.settings import load_settings

PRETRAINED_DIR = Path(__file__).resolve().parent.parent / "models" / "pretrained"


def ensure_pretrained(session) -> None:
    """First use: register the checkpoints shipped with molvis, the first one as active."""
    from registry.model_store import list_models, register_model

    if list_models(session):
        return
    import torch

    for n, path in enumerate(sorted(PRETRAINED_DIR.glob("*.pt"))):
        checkpoint = torch.load(path, map_location="cpu", weights_only=False)
        register_model(
            session,
            path.stem,
            checkpoint["version"],
            str(path),
            checkpoint["config"],
            checkpoint.get("metrics", {}),
            activate=n == 0,
        )


def cmd_train(args: argparse.Namespace) -> int:
    from models.checkpoint import save_checkpoint
    from models.config import load_config
    from models.train import train
    from registry.model_store import register_model
    from registry.training_data import load_training_set

    config = load_config(Path(args.config))
    if args.name:
        config.name = args.name
    if args.epochs:
        config.epochs = args.epochs
    with session_scope(get_engine()) as session:
        data = load_training_set(session, config.max_compounds)
    print(
        f"training {config.name} on {len(data.compounds)} compounds, {len(data.msms)} MS/MS, "
        f"{len(data.ir)} IR, {len(data.ccs)} CCS",
        file=sys.stderr,
    )
    result = train(data, config, show_progress=not args.quiet)
    path = (
        Path(args.output)
        if args.output
        else (load_settings().home / "models" / f"{config.name}.pt")
    )
    save_checkpoint(result.checkpoint, path)
    with session_scope(get_engine()) as session:
        ensure_pretrained(session)
        register_model(
            session,
            config.name,
            result.checkpoint["version"],
            str(path.resolve()),
            result.checkpoint["config"],
            result.checkpoint["metrics"],
            activate=args.activate,
        )
    best = result.checkpoint["metrics"]["best_epoch"]
    print(
        f"saved {config.name} (version {result.checkpoint['version']}, best epoch {best}) "
        f"to {path}"
        + (
            "; active"
            if args.activate
            else f"; activate with `molvis models activate {config.name}`"
        )
    )
    return 0


def evaluation(
    model_name: str | None, ppm: float, max_queries: int | None, mass_window: bool
) -> dict[str, Any]:
    """Top-k of every query modality on the model's test split, both candidate sets."""
    from models.checkpoint import load_checkpoint
    from models.evaluate import build_queries, evaluate_queries
    from models.train import pick_device
    from registry.model_store import get_model, update_metrics
    from registry.training_data import candidates_in_window, load_training_set

    with session_scope(get_engine()) as session:
        ensure_pretrained(session)
        info = get_model(session, model_name)
        data = load_training_set(session)
    device = pick_device("auto")
    model, checkpoint = load_checkpoint(Path(info.path), str(device))
    test_keys = set(checkpoint["split"]["test"])
    test_smiles = {c.inchikey: c.smiles for c in data.compounds if c.inchikey in test_keys}
    results: list[dict[str, Any]] = []
    controls: list[dict[str, Any]] = []
    engine = get_engine()
    with session_scope(engine) as session:

        def candidates_for(mass: float) -> list[tuple[str, str]]:
            return [(c.inchikey, c.smiles) for c in candidates_in_window(session, mass, ppm)]

        window = candidates_for if mass_window else None
        queries = build_queries(data, test_keys, model.config, max_queries)
        for name in ("msms", "ir", "ccs", "fused"):
            results += evaluate_queries(model, queries[name], test_smiles, window, device, name)
        blind = build_queries(data, test_keys, model.config, max_queries, blind=True)["msms"]
        for result in evaluate_queries(model, blind, test_smiles, window, device, "msms"):
            controls.append({**result, "control": "spectrum_blind"})
    report = {
        "model": info.name,
        "version": info.version,
        "ppm": ppm,
        "results": results,
        "controls": controls,
    }
    with session_scope(get_engine()) as session:
        update_metrics(session, info.name, {**info.metrics, "evaluation": report})
    return report


def cmd_evaluate(args: argparse.Namespace) -> int:
    report = evaluation(args.model, args.ppm, args.max_queries, not args.no_mass_window)
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{report['model']} ({report['version']}): top-k on the test split")
    for col in (
        "query",
        "candidates",
        "n",
        "mean cand.",
        "truth in",
        "top1",
        "top5",
        "top10",
        "top20",
        "rnd top1",
        "rnd top20",
    ):
        table.add_column(col, justify="left" if col in ("query", "candidates") else "right")
    for r in report["results"] + report["controls"]:
        label = r["query"] + (" (spectrum-blind)" if r.get("control") else "")
        table.add_row(
            label,
            r["candidate_set"],
            str(r["n_queries"]),
            f"{r['mean_candidates']:.1f}",
            *(f"{100 * r[k]:.1f}%" for k in ("truth_in_candidates",)),
            *(
                f"{100 * r[k]:.1f}%"
                for k in ("top1", "top5", "top10", "top20", "random_top1", "random_top20")
            ),
        )
    Console(width=150).print(table)
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    from registry.model_store import activate_model, list_models

    with session_scope(get_engine()) as session:
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
    evaluate.add_argument("--json", action="store_true")
    evaluate.set_defaults(func=cmd_evaluate)

    models = sub.add_parser("models", help="list models, or activate one")
    models.add_argument("action", nargs="?", choices=["list", "activate"], default="list")
    models.add_argument("name", nargs="?")
    models.add_argument("--json", action="store_true")
    models.set_defaults(func=cmd_models)
