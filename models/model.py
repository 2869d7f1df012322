"""The multimodal model: one encoder per modality into a shared space, plus the temperature."""

from __future__ import annotations

import math

import torch
from torch import nn

from models.config import TrainConfig
from models.encoders.ccs import CcsEncoder
from models.encoders.ir import IrEncoder
from models.encoders.msms import MsmsEncoder
from models.encoders.structure import StructureEncoder


class MultiModalModel(nn.Module):
    def __init__(self, config: TrainConfig) -> None:
        super().__init__()
        self.config = config
        self.encoders = nn.ModuleDict(
            {
                "structure": StructureEncoder(config.structure, config.embed_dim),
                "msms": MsmsEncoder(config.msms, config.embed_dim),
                "ir": IrEncoder(config.ir, config.embed_dim),
                "ccs": CcsEncoder(config.ccs, config.embed_dim),
            }
        )
        self.log_scale = nn.Parameter(
            torch.tensor(math.log(1 / config.temperature)), requires_grad=config.learn_temperature
        )

    @property
    def logit_scale(self) -> torch.Tensor:
        return self.log_scale.clamp(max=math.log(100)).exp()

    def embed(self, modality: str, batch) -> torch.Tensor:
        return self.encoders[modality].embed(batch)
