"""Training and encoder configuration as dataclasses, loaded from YAML/JSON files."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml

T = TypeVar("T")


@dataclass
class StructureEncoderConfig:
    """AttentiveFP over RDKit graphs (dgllife)."""

    num_layers: int = 2
    graph_feat_size: int = 200
    num_timesteps: int = 2
    dropout: float = 0.1


@dataclass
class MsmsEncoderConfig:
    """CLERMS-style transformer over the top peaks with a multiscale sinusoidal m/z embedding."""

    d_model: int = 128
    nhead: int = 4
    num_encoder_layers: int = 2
    num_decoder_layers: int = 1
    dim_feedforward: int = 256
    max_peaks: int = 100
    lambda_min: float = 1e-2
    lambda_max: float = 1e3
    remove_precursor_peaks: bool = False
    # issue 13 lever 3: each peak also enters as its neutral loss to the precursor (a second
    # token with its own flag), so losses shared by isomers' fragments are read directly
    neutral_losses: bool = False
    head_dim: int = 512
    dropout: float = 0.1


@dataclass
class IrEncoderConfig:
    """1D ResNet over the 825-point IR grid."""

    channels: tuple[int, ...] = (32, 64, 128)
    kernel_size: int = 7
    dropout: float = 0.1


@dataclass
class CcsEncoderConfig:
    """Small MLP over CCS, m/z and adduct."""

    hidden: int = 128
    dropout: float = 0.1


@dataclass
class TrainConfig:
    """Everything that decides a training run; saved inside the checkpoint."""

    name: str = "molvis-small"
    embed_dim: int = 256
    loss: str = "clip"
    temperature: float = 0.07
    learn_temperature: bool = True
    margin_positive: float = 0.8
    margin_negative: float = 0.2
    lr: float = 3e-4
    gamma: float = 0.98
    weight_decay: float = 1e-5
    batch_size: int = 64
    epochs: int = 30
    patience: int = 6
    seed: int = 0
    pairs: tuple[str, ...] = ("structure:msms", "structure:ir", "structure:ccs", "msms:ir")
    spectra_per_compound: int = 2
    max_batches_per_pair: int | None = None
    max_compounds: int | None = None
    hard_negatives: bool = False
    device: str = "auto"
    amp: bool = True
    num_threads: int | None = None
    structure: StructureEncoderConfig = field(default_factory=StructureEncoderConfig)
    msms: MsmsEncoderConfig = field(default_factory=MsmsEncoderConfig)
    ir: IrEncoderConfig = field(default_factory=IrEncoderConfig)
    ccs: CcsEncoderConfig = field(default_factory=CcsEncoderConfig)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


LOSSES = ("clip", "report_eq3", "bce_tanimoto", "margin")


def _build(cls: type[T], data: dict[str, Any]) -> T:
    known = {f.name: f for f in fields(cls)}
    unknown = set(data) - set(known)
    if unknown:
        raise ValueError(f"unknown {cls.__name__} keys: {', '.join(sorted(unknown))}")
    values: dict[str, Any] = {}
    for name, value in data.items():
        default = getattr(cls(), name)
        if is_dataclass(default) and isinstance(value, dict):
            values[name] = _build(type(default), value)
        elif isinstance(default, tuple) and isinstance(value, list):
            values[name] = tuple(value)
        else:
            values[name] = value
    return cls(**values)


def config_from_dict(data: dict[str, Any]) -> TrainConfig:
    config = _build(TrainConfig, data)
    if config.loss not in LOSSES:
        raise ValueError(f"loss {config.loss!r} is not one of {', '.join(LOSSES)}")
    return config


def read_settings(path: Path) -> Any:
    """A settings file's content: JSON by its suffix (PyYAML, a YAML 1.1 reader, would take
    JSON's 1e-3 for text), else YAML."""
    text = path.read_text()
    return json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)


def load_config(path: Path) -> TrainConfig:
    """A TrainConfig from a YAML or JSON file; unknown keys are an error, not ignored."""
    return config_from_dict(read_settings(path) or {})
