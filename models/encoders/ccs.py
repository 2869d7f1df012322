"""CCS encoder: CCS value, ion m/z and adduct into the shared space (not in the report)."""

from __future__ import annotations

import torch
from torch import nn

from models.config import CcsEncoderConfig
from models.encoders import Encoder
from models.featurize import ADDUCT_TYPES


class CcsEncoder(Encoder):
    def __init__(self, config: CcsEncoderConfig, embed_dim: int) -> None:
        super().__init__()
        self.adduct = nn.Embedding(len(ADDUCT_TYPES) + 2, 16)
        self.net = nn.Sequential(
            nn.Linear(4 + 16, config.hidden),
            nn.SiLU(),
            nn.Dropout(config.dropout),
            nn.Linear(config.hidden, config.hidden),
            nn.SiLU(),
            nn.Linear(config.hidden, embed_dim),
        )

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        ccs = batch["ccs"] / 200.0
        known = torch.isfinite(batch["mz"])
        mz = torch.where(known, batch["mz"] / 500.0, 0.0)
        ratio = torch.where(known, batch["ccs"] / batch["mz"].clamp(min=1.0), 0.0)
        x = torch.stack([ccs, mz, ratio, known.float()], dim=-1)
        return self.net(torch.cat([x, self.adduct(batch["adduct"])], dim=-1))
