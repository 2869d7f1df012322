"""Checkpoints: hyperparameters + state dict + split + metrics, versioned by a content hash,
written and read (weights only) the same way for the multimodal model and the CCS predictor."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from models.config import TrainConfig, config_from_dict

if TYPE_CHECKING:  # the multimodal model (DGL) loads only where a checkpoint becomes one
    from models.model import MultiModalModel


def content_version(state: dict[str, torch.Tensor]) -> str:
    """Short hash of the weights: the same weights always give the same version."""
    digest = hashlib.sha256()
    for key in sorted(state):
        digest.update(key.encode())
        digest.update(state[key].detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:12]


def make_checkpoint(
    model: MultiModalModel, split: dict[str, list[str]], metrics: dict[str, Any]
) -> dict[str, Any]:
    state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    return {
        "format": 1,
        "config": model.config.to_dict(),
        "state_dict": state,
        "split": split,
        "metrics": metrics,
        "version": content_version(state),
    }


def save_checkpoint(checkpoint: dict[str, Any], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    torch.save(checkpoint, buffer)
    path.write_bytes(buffer.getvalue())
    return path


class CheckpointError(ValueError):
    """A checkpoint file that is not a molvis checkpoint of plain weights and settings."""


def read_checkpoint(path: Path, device: str = "cpu") -> dict[str, Any]:
    """A checkpoint's contents, read with torch's weights-only unpickler: tensors, numbers,
    strings, lists and dicts load; anything that would run code is refused."""
    try:
        checkpoint = torch.load(path, map_location=device, weights_only=True)
    except FileNotFoundError:
        raise
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(
            f"{path}: not a molvis checkpoint of plain weights and settings ({first[:200]})"
        ) from None
    if not isinstance(checkpoint, dict) or not {"config", "state_dict"} <= set(checkpoint):
        raise CheckpointError(f"{path}: not a molvis checkpoint (no config and state_dict)")
    return checkpoint


def save_small_model(
    kind: str, config: dict[str, Any], state: dict[str, torch.Tensor], metrics: dict, path: Path
) -> str:
    """A small model of one `kind` (a CCS predictor, a forward model) as hyperparameters +
    weights + metrics in one weights-only torch file; returns its version."""
    version = content_version(state)
    saved = {"kind": kind, "config": config, "state_dict": state, "metrics": metrics}
    save_checkpoint(saved | {"version": version}, path)
    return version


def read_small_model(path: Path, kind: str, what: str) -> dict[str, Any]:
    """What `save_small_model` wrote, read weights-only; ValueError naming `what` was expected
    when the file is not one, or holds another kind."""
    try:
        saved = read_checkpoint(path)
    except CheckpointError as exc:
        raise ValueError(f"not a molvis {what}: {exc}") from None
    if saved.get("kind") != kind:
        raise ValueError(f"{path}: not a molvis {what}")
    return saved


def load_checkpoint(path: Path, device: str = "cpu") -> tuple[MultiModalModel, dict[str, Any]]:
    """The model in eval mode and the checkpoint's other contents."""
    from models.model import MultiModalModel

    checkpoint = read_checkpoint(path, device)
    config: TrainConfig = config_from_dict(checkpoint["config"])
    model = MultiModalModel(config)
    model.load_state_dict(checkpoint["state_dict"])
    model.to(device).eval()
    return model, checkpoint
