"""The one model loader: register the shipped checkpoints on first use, then load a registered
model (default: the active one) in eval mode on the best device."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from registry.db import session_scope
from registry.model_store import (
    ModelInfo,
    get_model,
    list_models,
    register_model,
    set_calibration,
)

PRETRAINED_DIR = Path(__file__).resolve().parents[2] / "models" / "pretrained"


@dataclass
class LoadedModel:
    """A registered model ready to embed: its registry row, the network, the checkpoint's other
    contents (split, metrics) and the device it runs on."""

    info: ModelInfo
    model: Any  # models.model.MultiModalModel (typed loosely: torch loads only when called)
    checkpoint: dict[str, Any]
    device: Any  # torch.device


def ensure_pretrained(session: Session) -> None:
    """First use: register the checkpoints shipped with molvis, the first one as active."""
    if list_models(session):
        return
    from models.checkpoint import read_checkpoint

    for n, path in enumerate(sorted(PRETRAINED_DIR.glob("*.pt"))):
        checkpoint = read_checkpoint(path)
        register_model(
            session,
            path.stem,
            checkpoint["version"],
            str(path),
            checkpoint["config"],
            checkpoint.get("metrics", {}),
            activate=n == 0,
        )
        calibration = path.with_suffix(".calibration.json")
        if calibration.is_file():  # the hit probability fitted for this checkpoint
            set_calibration(session, path.stem, json.loads(calibration.read_text()))


def load_model(engine: Engine, name: str | None = None, read_only: bool = False) -> LoadedModel:
    """A registered model (default: the active one) in eval mode. `read_only` (the query page's
    reader connection) skips registering the shipped checkpoints on first use."""
    from models.checkpoint import load_checkpoint
    from models.train import pick_device

    with session_scope(engine) as session:
        if not read_only:
            ensure_pretrained(session)
        info = get_model(session, name)
    device = pick_device("auto")
    model, checkpoint = load_checkpoint(Path(info.path), str(device))
    return LoadedModel(info, model, checkpoint, device)
