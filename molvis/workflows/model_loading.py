"""The one model loader: register the shipped checkpoints on first use, then load a registered
model (default: the active one) in eval mode on the best device."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from registry.db.connection import session_scope
from registry.learned.embeddings import drop_vectors
from registry.learned.versions import (
    ModelInfo,
    get_model,
    list_models,
    register_model,
    set_calibration,
    set_ranker,
)

PRETRAINED_DIR = Path(__file__).resolve().parents[2] / "models" / "pretrained"
SHIPPED = "shipped:"  # a stored path that names a file of PRETRAINED_DIR, wherever molvis lives


def stored_path(path: Path) -> str:
    """The path a registry row keeps for a model file: a shipped file relative to molvis's own
    models/pretrained (a dump restored on another host or in an image still finds it), any
    other file absolute."""
    path = path.resolve()
    if path.is_relative_to(PRETRAINED_DIR.resolve()):
        return SHIPPED + path.relative_to(PRETRAINED_DIR.resolve()).as_posix()
    return str(path)


def model_file(stored: str) -> Path:
    """The file a registry row's path names: `shipped:` files under this molvis's
    models/pretrained; an absolute path of another checkout's models/pretrained that is not
    here (registered by an older molvis, restored elsewhere) as the same shipped file."""
    if stored.startswith(SHIPPED):
        return PRETRAINED_DIR / stored.removeprefix(SHIPPED)
    path = Path(stored)
    parts = path.parts
    if (
        not path.exists()
        and "pretrained" in parts
        and parts[parts.index("pretrained") - 1] == "models"
    ):
        return PRETRAINED_DIR.joinpath(*parts[parts.index("pretrained") + 1 :])
    return path


@dataclass
class LoadedModel:
    """A registered model ready to embed: its registry row, the network, the checkpoint's other
    contents (split, metrics) and the device it runs on."""

    info: ModelInfo
    model: Any  # models.model.MultiModalModel (typed loosely: torch loads only when called)
    checkpoint: dict[str, Any]
    device: Any  # torch.device


def _beside(path: Path, kind: str) -> dict[str, Any] | None:
    """The JSON fitted for a checkpoint and shipped beside it (`<stem>.<kind>.json`)."""
    file = path.with_suffix(f".{kind}.json")
    return json.loads(file.read_text()) if file.is_file() else None


def _shipped(info: ModelInfo, kind: str) -> dict[str, Any] | None:
    path = model_file(info.path).resolve()
    return _beside(path, kind) if path.parent == PRETRAINED_DIR.resolve() else None


def shipped_calibration(info: ModelInfo) -> dict[str, Any] | None:
    """The calibration shipped beside a shipped checkpoint (None for any other model): a
    registry that registered it under an older molvis keeps the older fit in its row."""
    return _shipped(info, "calibration")


def shipped_ranker(info: ModelInfo) -> dict[str, Any] | None:
    """The learned ranker shipped beside a shipped checkpoint (None for any other model): a
    registry that registered it before rankers existed has none in its row."""
    return _shipped(info, "ranker")


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
            stored_path(path),
            checkpoint["config"],
            checkpoint.get("metrics", {}),
            activate=n == 0,
        )
        # the hit probability and the ranker fitted for this checkpoint
        set_calibration(session, path.stem, _beside(path, "calibration"))
        set_ranker(session, path.stem, _beside(path, "ranker"))


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
    model, checkpoint = load_checkpoint(model_file(info.path), str(device))
    if checkpoint["version"] != info.version:
        info = _upgraded(engine, info, checkpoint, read_only)
    elif not read_only:
        info = _ranker_refreshed(engine, info)
    return LoadedModel(info, model, checkpoint, device)


def _ranker_refreshed(engine: Engine, info: ModelInfo) -> ModelInfo:
    """A shipped model's row holds the ranker shipped beside it: a molvis upgrade that refitted
    the ranker (for new evidence, or a new forward model) replaces the stored one on the next
    load, as psql's molvis_rerank() reads the row."""
    shipped = shipped_ranker(info)
    if shipped is None or info.ranker == shipped:
        return info
    with session_scope(engine) as session:
        set_ranker(session, info.name, shipped)
        return get_model(session, info.name)


def _upgraded(engine: Engine, info: ModelInfo, checkpoint: dict, read_only: bool) -> ModelInfo:
    """The file of a registered model now holds other weights. A shipped checkpoint (a molvis
    upgrade replaced it) is registered again with its calibration, and its stored vectors
    are dropped so `molvis embed` makes them with the new weights; any other file is refused,
    since vectors made by the old weights would silently disagree with it."""
    from models.checkpoint import CheckpointError

    path = model_file(info.path).resolve()
    new = checkpoint["version"]
    if path.parent != PRETRAINED_DIR.resolve():
        raise CheckpointError(
            f"model {info.name}: {info.path} now holds version {new}, registered as "
            f"{info.version}; its stored vectors belong to the old weights: register the new "
            "file under another name"
        )
    if read_only:
        raise CheckpointError(
            f"model {info.name} was upgraded to version {new}: run `molvis embed` first"
        )
    with session_scope(engine) as session:
        drop_vectors(session, info.id)
        register_model(
            session,
            info.name,
            new,
            stored_path(path),
            checkpoint["config"],
            checkpoint.get("metrics", {}),
            activate=info.is_active,
        )
        set_calibration(session, info.name, _beside(path, "calibration"))
        set_ranker(session, info.name, _beside(path, "ranker"))
        info = get_model(session, info.name)
    print(
        f"molvis: the shipped model {info.name} was upgraded to version {new}; its old vectors "
        "were dropped: run `molvis embed`",
        file=sys.stderr,
    )
    return info
