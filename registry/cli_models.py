"""`molvis train`, `embed`, `evaluate` and `models`: the CLI's model commands."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from registry.db import get_engine, session_scope


def cmd_train(args: argparse.Namespace) -> int:
    from assets.jobs import train_and_register
    from models.config import load_config

    config = load_config(Path(args.config))
    if args.name:
        config.name = args.name
    if args.epochs:
        config.epochs = args.epochs
    out = train_and_register(
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


def cmd_embed(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from assets.jobs import embed_backfill

    bars: dict[str, tqdm] = {}

    def progress(modality: str, n: int) -> None:
        if modality not in bars:
            bars[modality] = tqdm(
                desc=f"embed {modality}", unit=" rows", file=sys.stderr, disable=args.quiet or None
            )
        bars[modality].update(n)

    from registry.embeddings import build_hnsw_index
    from registry.model_store import get_model

    counts = embed_backfill(args.model, args.batch_size, progress=progress, workers=args.workers)
    for bar in bars.values():
        bar.close()
    with session_scope(get_engine()) as session:
        build_hnsw_index(session, get_model(session, args.model).id)
    print(
        json.dumps(counts)
        if args.json
        else ", ".join(f"{k}: {v}" for k, v in counts.items()) + " embedded"
    )
    return 0


def cmd_orchestrate(args: argparse.Namespace) -> int:
    import os
    import subprocess

    from registry.settings import load_settings

    home = load_settings().home / "dagster"
    home.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "DAGSTER_HOME": str(home)}
    command = ["dagster", "dev", "-m", "assets", "-p", str(args.port)]
    return subprocess.call(command, env=env)


def cmd_ui(args: argparse.Namespace) -> int:
    import subprocess
    import webbrowser

    app = Path(__file__).resolve().parent.parent / "ui" / "app.py"
    url = f"http://localhost:{args.port}/"
    command = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(app),
        "--server.port",
        str(args.port),
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
    ]
    print(f"molvis UI at {url} (Ctrl-C stops it)", file=sys.stderr)
    server = subprocess.Popen(command)
    if args.open:
        webbrowser.open(url)
    try:
        return server.wait()
    except KeyboardInterrupt:
        server.terminate()
        return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from assets.jobs import evaluate_model

    report = evaluate_model(args.model, args.ppm, args.max_queries or None, not args.no_mass_window)
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
    from assets.jobs import ensure_pretrained
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

    embed = sub.add_parser("embed", help="embed every compound and measurement lacking vectors")
    embed.add_argument("--model", help="model name (default: the active one)")
    embed.add_argument("--batch-size", type=int, default=1024)
    embed.add_argument(
        "--workers",
        type=int,
        help="RDKit featurisation processes (default: half the cores on CPU, all but one on GPU)",
    )
    embed.add_argument("--json", action="store_true")
    embed.add_argument("--quiet", action="store_true")
    embed.set_defaults(func=cmd_embed)

    orchestrate = sub.add_parser("orchestrate", help="Dagster UI on this registry (dagster dev)")
    orchestrate.add_argument("--port", type=int, default=3000)
    orchestrate.set_defaults(func=cmd_orchestrate)

    ui = sub.add_parser("ui", help="the Streamlit query page (read-only connection)")
    ui.add_argument("--port", type=int, default=8501)
    ui.add_argument("--open", action="store_true", help="open the page in a browser")
    ui.set_defaults(func=cmd_ui)

    models = sub.add_parser("models", help="list models, or activate one")
    models.add_argument("action", nargs="?", choices=["list", "activate"], default="list")
    models.add_argument("name", nargs="?")
    models.add_argument("--json", action="store_true")
    models.set_defaults(func=cmd_models)
