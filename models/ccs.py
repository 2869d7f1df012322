"""CCS prediction (structure + adduct -> collision cross section, A^2) so ion mobility can
narrow candidates that were never measured.

Why this model: its structure input is element counts from the stored formula, Morgan and
atom-pair count fingerprints and eleven cheap whole-molecule descriptors read by RDKit
(models/ccs_structure.py; older predictors read the stored fingerprint too), so it predicts
thousands of molecules per second on a CPU; a graph network (AttentiveFP) or a 3D conformer
per molecule would be too slow for a 1.9M candidate library (docs/CCS.md). The model is a
per-adduct power law in m/z (log CCS linear in log m/z: the "linear m/z baseline" every CCS
paper compares with) plus an MLP residual learned from structure, adduct and IM method (a
small ensemble: the members' mean; their spread, calibrated, is each prediction's
uncertainty). The adduct enters by its composition (molecules, charge, atoms gained or lost)
beside its own column, so spellings of one adduct pool and rare adducts borrow from common
ones. Saved as hyperparameters + weights (no pickle), like the structure models. What it
reads of an ion (its config, the adducts it knows, the columns) is models/ccs_inputs.py's."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from models.ccs_adducts import CcsInputError
from models.ccs_inputs import (
    CcsConfig,
    Ion,
    IonColumns,
    ion_columns,
    ion_width,
)
from models.ccs_structure import structure_width
from models.checkpoint import read_small_model, save_small_model


@dataclass
class CcsInputs:
    """Featurised ions as tensors, field for field those of models.ccs_inputs.IonColumns."""

    structure: torch.Tensor  # (structures, structure_width(config))
    row: torch.Tensor  # (ions,) the structure row of each ion
    ion: torch.Tensor  # (ions, ion columns)
    adduct: torch.Tensor
    log_mz: torch.Tensor

    def __len__(self) -> int:
        return len(self.adduct)

    @classmethod
    def of(cls, columns: IonColumns) -> CcsInputs:
        """The arrays of featurised ions as tensors (sharing their memory)."""
        return cls(*(torch.from_numpy(getattr(columns, f.name)) for f in fields(cls)))

    def take(self, rows: torch.Tensor | slice) -> CcsInputs:
        used, row = torch.unique(self.row[rows], return_inverse=True)
        return CcsInputs(
            self.structure[used], row, self.ion[rows], self.adduct[rows], self.log_mz[rows]
        )


def featurize(ions: list[Ion], config: CcsConfig) -> CcsInputs:
    """Tensors for a list of ions (models/ccs_inputs.py); raises CcsInputError naming the first
    unusable one."""
    return CcsInputs.of(ion_columns(ions, config))


def _mlp(width: int, config: CcsConfig) -> nn.Sequential:
    layers: list[nn.Module] = []
    for _ in range(config.layers):
        layers += [nn.Linear(width, config.hidden), nn.GELU(), nn.Dropout(config.dropout)]
        width = config.hidden
    return nn.Sequential(*layers, nn.Linear(width, 1))


class CcsPredictor(nn.Module):
    """log CCS = a[adduct] + b[adduct] * log m/z + mean of the members' MLP(structure, adduct,
    method). The members' disagreement (the standard deviation of their log CCS, in percent)
    makes the 95 % interval: half-width = floor + scale x deviation, both fitted on validation
    ions. Descriptors enter standardised by the training structures' mean and scale."""

    def __init__(self, config: CcsConfig) -> None:
        super().__init__()
        self.config = config
        width = structure_width(config) + ion_width(config)
        self.mlps = nn.ModuleList(_mlp(width, config) for _ in range(config.members))
        self.intercept = nn.Parameter(torch.zeros(len(config.adducts)))
        self.slope = nn.Parameter(torch.zeros(len(config.adducts)))
        self.register_buffer("interval", torch.tensor([5.0, 0.0]))  # floor %, scale
        if config.descriptors:
            self.register_buffer("descriptor_mean", torch.zeros(len(config.descriptors)))
            self.register_buffer("descriptor_scale", torch.ones(len(config.descriptors)))

    def baseline(self, inputs: CcsInputs) -> torch.Tensor:
        """The per-adduct power law in m/z alone (log CCS)."""
        return self.intercept[inputs.adduct] + self.slope[inputs.adduct] * inputs.log_mz

    def standardised(self, structure: torch.Tensor) -> torch.Tensor:
        """The structure columns with the descriptors standardised."""
        if not self.config.descriptors:
            return structure
        k = len(self.config.descriptors)
        scaled = (structure[:, -k:] - self.descriptor_mean) / self.descriptor_scale
        return torch.cat([structure[:, :-k], scaled], 1)

    @staticmethod
    def _residual(mlp: nn.Sequential, structure: torch.Tensor, inputs: CcsInputs) -> torch.Tensor:
        """One member's output; its first layer reads each structure once (its weight split
        into structure and ion columns), however many adducts the structure has."""
        first, width = mlp[0], structure.shape[1]
        hidden = F.linear(structure, first.weight[:, :width])[inputs.row]
        hidden = hidden + F.linear(inputs.ion, first.weight[:, width:], first.bias)
        return mlp[1:](hidden).squeeze(-1)

    def members_out(self, inputs: CcsInputs) -> torch.Tensor:
        """log CCS of each ensemble member, (members, ions)."""
        structure = self.standardised(inputs.structure)
        residual = torch.stack([self._residual(mlp, structure, inputs) for mlp in self.mlps])
        return self.baseline(inputs) + residual

    def fit_standardisation(self, inputs: CcsInputs) -> None:
        """The descriptors' mean and standard deviation over the training structures."""
        if self.config.descriptors:
            k = len(self.config.descriptors)
            with torch.no_grad():
                self.descriptor_mean.copy_(inputs.structure[:, -k:].mean(0))
                self.descriptor_scale.copy_(inputs.structure[:, -k:].std(0) + 1e-6)

    def fit_baseline(self, inputs: CcsInputs, log_ccs: torch.Tensor) -> None:
        """Least-squares power law per adduct (adducts without data keep the pooled fit)."""
        pooled = np.polyfit(inputs.log_mz.numpy(), log_ccs.numpy(), 1)
        with torch.no_grad():
            for i in range(len(self.config.adducts)):
                rows = inputs.adduct == i
                fit = (
                    np.polyfit(inputs.log_mz[rows].numpy(), log_ccs[rows].numpy(), 1)
                    if int(rows.sum()) >= 10
                    else pooled
                )
                self.slope[i], self.intercept[i] = float(fit[0]), float(fit[1])

    @torch.no_grad()
    def predict_with_deviation(
        self, inputs: CcsInputs, batch_size: int = 8192
    ) -> tuple[np.ndarray, np.ndarray]:
        """(CCS in A^2, the members' standard deviation of log CCS in percent) per ion."""
        self.eval()
        values, deviations = [np.zeros(0, np.float32)], [np.zeros(0, np.float32)]
        for start in range(0, len(inputs), batch_size):
            log_ccs = self.members_out(inputs.take(slice(start, start + batch_size)))
            values.append(torch.exp(log_ccs.mean(0)).numpy())
            deviations.append(100.0 * log_ccs.std(0, unbiased=False).numpy())
        return np.concatenate(values), np.concatenate(deviations)

    def predict(self, inputs: CcsInputs, batch_size: int = 8192) -> np.ndarray:
        return self.predict_with_deviation(inputs, batch_size)[0]

    def predict_with_uncertainty(
        self, inputs: CcsInputs, batch_size: int = 8192
    ) -> tuple[np.ndarray, np.ndarray]:
        """(CCS in A^2, the half-width of its 95 % interval in percent) per ion."""
        values, deviation = self.predict_with_deviation(inputs, batch_size)
        floor, scale = self.interval.tolist()
        return values, (floor + scale * deviation).astype(np.float32)


def save_predictor(model: CcsPredictor, metrics: dict[str, Any], path: Path) -> str:
    """Hyperparameters + weights + metrics in one weights-only torch file; returns the version."""
    return save_small_model(
        "ccs-predictor", asdict(model.config), model.state_dict(), metrics, path
    )


def load_predictor(path: Path) -> tuple[CcsPredictor, dict[str, Any]]:
    """A saved predictor, read with torch's weights-only unpickler (nothing that runs code)."""
    try:
        saved = read_small_model(path, "ccs-predictor", "CCS predictor")
    except ValueError as exc:
        raise CcsInputError(str(exc)) from None
    model = CcsPredictor(CcsConfig.from_dict(saved["config"]))
    model.load_state_dict(saved["state_dict"])
    model.eval()
    return model, saved
