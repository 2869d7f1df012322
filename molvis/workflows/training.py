"""Train on the registry, save the checkpoint, register the version (CLI `molvis train` and the
Dagster `trained_model` asset)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from molvis.workflows.model_loading import ensure_pretrained
from registry.db.connection import session_scope
from registry.db.settings import load_settings
from registry.learned.versions import register_model
from registry.read.training_data import load_training_set


def train_and_register(
    engine: Engine, config, output: Path | None, activate: bool, show_progress: bool = True
) -> dict[str, Any]:
    """Train `config` (a models.config.TrainConfig) on every measured compound, save the
    checkpoint (default MOLVIS_HOME/models/NAME.pt) and register it; returns its summary."""
    from models.checkpoint import save_checkpoint
    from models.train import train

    with session_scope(engine) as session:
        data = load_training_set(session, config.max_compounds)
    print(
        f"training {config.name} on {len(data.compounds)} compounds, {len(data.msms)} MS/MS, "
        f"{len(data.ir)} IR, {len(data.ccs)} CCS",
        file=sys.stderr,
    )
    result = train(data, config, show_progress=show_progress)
    path = output or load_settings().home / "models" / f"{config.name}.pt"
    save_checkpoint(result.checkpoint, path)
    with session_scope(engine) as session:
        ensure_pretrained(session)
        register_model(
            session,
            config.name,
            result.checkpoint["version"],
            str(path.resolve()),
            result.checkpoint["config"],
            result.checkpoint["metrics"],
            activate=activate,
        )
    return {
        "name": config.name,
        "version": result.checkpoint["version"],
        "path": str(path),
        "best_epoch": result.checkpoint["metrics"]["best_epoch"],
        "history": result.history,
    }
