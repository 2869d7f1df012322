"""MS/MS encoder in the CLERMS style (METHOD.md): multiscale sinusoidal m/z embedding of the
peaks and the precursor, intensity concatenated, a transformer encoder, and a decoder whose
metadata queries (ion mode, instrument, adduct, collision energy) cross-attend to the peaks."""

from __future__ import annotations

import math

import torch
from torch import nn

from models.config import MsmsEncoderConfig
from models.encoders import Encoder
from models.featurize import ADDUCT_TYPES, INSTRUMENT_TYPES


def sinusoidal_mz(mz: torch.Tensor, dim: int, lambda_min: float, lambda_max: float) -> torch.Tensor:
    """SE(mz, 2i) = sin(2 pi mz / (lmin (lmax/lmin)^(2i/(d-2)))), SE(mz, 2i+1) = cos(same)."""
    i = torch.arange(dim // 2, device=mz.device, dtype=torch.float64)
    wavelengths = lambda_min * (lambda_max / lambda_min) ** (2 * i / (dim - 2))
    angles = 2 * math.pi * mz.double().unsqueeze(-1) / wavelengths
    out = torch.stack([torch.sin(angles), torch.cos(angles)], dim=-1).flatten(-2)
    return out.to(torch.float32)


class _Metadata(nn.Module):
    """One small feed-forward embedding per metadata field; missing values have their own code."""

    def __init__(self, d_model: int) -> None:
        super().__init__()
        self.ion_mode = nn.Embedding(3, d_model)
        self.instrument = nn.Embedding(len(INSTRUMENT_TYPES) + 2, d_model)
        self.adduct = nn.Embedding(len(ADDUCT_TYPES) + 2, d_model)
        self.energy = nn.Sequential(nn.Linear(2, d_model), nn.SiLU(), nn.Linear(d_model, d_model))

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        energy = batch["collision_energy"]
        known = torch.isfinite(energy)
        energy_in = torch.stack([torch.where(known, energy / 100.0, 0.0), known.float()], -1)
        return torch.stack(
            [
                self.ion_mode(batch["ion_mode"]),
                self.instrument(batch["instrument"]),
                self.adduct(batch["adduct"]),
                self.energy(energy_in),
            ],
            dim=1,
        )


class MsmsEncoder(Encoder):
    def __init__(self, config: MsmsEncoderConfig, embed_dim: int) -> None:
        super().__init__()
        self.config = config
        d = config.d_model
        self.peak_in = nn.Sequential(nn.Linear(d + 1, d), nn.SiLU(), nn.Linear(d, d))
        self.precursor_flag = nn.Parameter(torch.zeros(d))
        if config.neutral_losses:
            self.loss_flag = nn.Parameter(torch.zeros(d))
        layer_args = dict(
            d_model=d,
            nhead=config.nhead,
            dim_feedforward=config.dim_feedforward,
            dropout=config.dropout,
            batch_first=True,
            norm_first=True,
        )
        layer = nn.TransformerEncoderLayer(**layer_args)
        self.encoder = nn.TransformerEncoder(
            layer, config.num_encoder_layers, enable_nested_tensor=False
        )
        self.metadata = _Metadata(d)
        dec = nn.TransformerDecoderLayer(**layer_args)
        self.decoder = nn.TransformerDecoder(dec, config.num_decoder_layers)
        self.head = nn.Linear(d, config.head_dim)
        self.norm = nn.BatchNorm1d(config.head_dim)
        self.out = nn.Sequential(
            nn.Linear(config.head_dim, config.head_dim),
            nn.SELU(),
            nn.Linear(config.head_dim, embed_dim),
        )

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        c = self.config
        peaks = batch["peaks"]
        mz = torch.cat([batch["precursor_mz"].unsqueeze(1), peaks[..., 0]], dim=1)
        intensity = torch.cat(
            [torch.ones_like(batch["precursor_mz"]).unsqueeze(1), peaks[..., 1]], dim=1
        )
        tokens = self.peak_in(
            torch.cat(
                [sinusoidal_mz(mz, c.d_model, c.lambda_min, c.lambda_max), intensity.unsqueeze(-1)],
                dim=-1,
            )
        )
        tokens[:, 0] = tokens[:, 0] + self.precursor_flag
        positions = torch.arange(peaks.shape[1], device=peaks.device)
        absent = positions.unsqueeze(0) >= batch["n_peaks"].unsqueeze(1)
        padding = torch.cat(
            [torch.zeros_like(batch["n_peaks"], dtype=torch.bool).unsqueeze(1), absent], dim=1
        )
        if c.neutral_losses:
            loss = (batch["precursor_mz"].unsqueeze(1) - peaks[..., 0]).clamp(min=0)
            losses = self.peak_in(
                torch.cat(
                    [
                        sinusoidal_mz(loss, c.d_model, c.lambda_min, c.lambda_max),
                        peaks[..., 1].unsqueeze(-1),
                    ],
                    dim=-1,
                )
            )
            tokens = torch.cat([tokens, losses + self.loss_flag], dim=1)
            padding = torch.cat([padding, absent], dim=1)
        memory = self.encoder(tokens, src_key_padding_mask=padding)
        decoded = self.decoder(self.metadata(batch), memory, memory_key_padding_mask=padding)
        pooled = self.head(decoded).max(dim=1).values
        return self.out(self.norm(pooled))
