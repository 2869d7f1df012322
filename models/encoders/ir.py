"""IR encoder: a 1D ResNet over the 825-point absorbance grid."""

from __future__ import annotations

import torch
from torch import nn

from models.config import IrEncoderConfig
from models.encoders import Encoder


class _Block(nn.Module):
    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int) -> None:
        super().__init__()
        pad = kernel // 2
        self.body = nn.Sequential(
            nn.Conv1d(c_in, c_out, kernel, stride, pad, bias=False),
            nn.BatchNorm1d(c_out),
            nn.ReLU(),
            nn.Conv1d(c_out, c_out, kernel, 1, pad, bias=False),
            nn.BatchNorm1d(c_out),
        )
        self.skip = (
            nn.Identity()
            if c_in == c_out and stride == 1
            else nn.Sequential(nn.Conv1d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm1d(c_out))
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.body(x) + self.skip(x))


class IrEncoder(Encoder):
    def __init__(self, config: IrEncoderConfig, embed_dim: int) -> None:
        super().__init__()
        layers: list[nn.Module] = [
            nn.Conv1d(1, config.channels[0], config.kernel_size, 2, config.kernel_size // 2)
        ]
        c_in = config.channels[0]
        for c_out in config.channels:
            layers.append(_Block(c_in, c_out, config.kernel_size, 2))
            c_in = c_out
        self.body = nn.Sequential(*layers)
        self.out = nn.Sequential(nn.Dropout(config.dropout), nn.Linear(2 * c_in, embed_dim))

    def forward(self, spectra: torch.Tensor) -> torch.Tensor:
        h = self.body(spectra.unsqueeze(1) * 30.0)  # unit-norm vectors have ~0.03 entries
        return self.out(torch.cat([h.mean(-1), h.amax(-1)], dim=-1))
