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
ones. Saved as hyperparameters + weights (no pickle), like the structure models."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from models.ccs_adducts import (
    ADDUCT_WIDTH,
    CcsInputError,
    adduct_composition,
    adduct_index,
    adduct_key,
)
from models.ccs_structure import (
    DESCRIPTORS,
    reads_structure,
    structure_columns,
    structure_width,
)
from models.checkpoint import read_small_model, save_small_model
from registry.chem.adducts import UnknownAdductError, parse_adduct

# The adducts stored for every compound by the backfill (the common ones of the CCS compendia,
# in registry.chem.adducts' spelling: [M+HCOO]- is [M+FA-H]-); a predictor knows these and every
# other adduct with at least `CcsConfig.min_adduct_ions` training ions.
ADDUCTS = ("[M+H]+", "[M+Na]+", "[M-H]-", "[M+NH4]+", "[M+H-H2O]+", "[M+K]+", "[M+FA-H]-")
# Ion-mobility methods the sources name; drift-tube (N2) values are the reference, TWIMS and
# TIMS values are calibrated and differ by a few percent, so the method is an input.
METHODS = ("DT", "TW", "TIMS", "unknown")
PREDICT_METHOD = "DT"
MIN_MZ = 50.0


@dataclass(frozen=True)
class CcsConfig:
    """Hyperparameters of a CCS predictor and its training."""

    hidden: int = 256
    layers: int = 2
    dropout: float = 0.1
    epochs: int = 40
    lr: float = 1e-3
    weight_decay: float = 1e-5
    batch_size: int = 256
    seed: int = 0
    members: int = 3  # independently initialised MLPs, trained side by side, averaged
    adducts: tuple[str, ...] = ADDUCTS  # the known adducts (training sets them from its data)
    methods: tuple[str, ...] = METHODS
    min_adduct_ions: int = 20  # training ions an adduct needs to be predicted
    descriptors: tuple[str, ...] = tuple(DESCRIPTORS)  # whole-molecule RDKit descriptors read
    count_bits: int = 1024  # Morgan count fingerprint columns (0: none)
    pair_bits: int = 512  # atom-pair count fingerprint columns (0: none)
    stored_fingerprint: bool = False  # read the registry's 2048-bit fingerprint too

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> CcsConfig:
        """A saved config; one saved before predictors read descriptors, Morgan or atom-pair
        counts reads none, and the stored fingerprint."""
        old = {"descriptors": (), "count_bits": 0, "pair_bits": 0, "stored_fingerprint": True}
        values = old | values
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()})


@dataclass
class CcsInputs:
    """Featurised ions. The structure columns (models/ccs_structure.py) are stored once per
    structure and shared by its ions through `row`, so the first layer reads a compound once
    for all its adducts; `ion` holds the log m/z, adduct and method columns."""

    structure: torch.Tensor  # (structures, structure_width(config))
    row: torch.Tensor  # (ions,) the structure row of each ion
    ion: torch.Tensor  # (ions, ion columns)
    adduct: torch.Tensor
    log_mz: torch.Tensor

    def __len__(self) -> int:
        return len(self.adduct)

    def take(self, rows: torch.Tensor | slice) -> CcsInputs:
        used, row = torch.unique(self.row[rows], return_inverse=True)
        return CcsInputs(
            self.structure[used], row, self.ion[rows], self.adduct[rows], self.log_mz[rows]
        )


@dataclass
class Ion:
    """One ion to featurise: the compound's stored fingerprint ('0101...'), formula and
    monoisotopic mass, the adduct, the IM method and the SMILES (read for its own columns)."""

    fingerprint: str
    formula: str
    mass: float
    adduct: str
    method: str = PREDICT_METHOD
    smiles: str | None = None


def ion_mz(mass: float, adduct: str) -> float:
    try:
        return parse_adduct(adduct).mz(mass)
    except UnknownAdductError as exc:
        raise CcsInputError(str(exc)) from None


def predictable(mass: float, adduct: str) -> bool:
    """Whether the ion lies in the predictor's range: m/z >= MIN_MZ (a water loss from a
    molecule lighter than water has no ion at all; the smallest measured ions are ~60)."""
    return ion_mz(mass, adduct) >= MIN_MZ


def featurize(ions: list[Ion], config: CcsConfig) -> CcsInputs:
    """Tensors for a list of ions; raises CcsInputError naming the first unusable one."""
    n = len(ions)
    rows: dict[tuple[str, str, str | None], int] = {}
    structures: list[np.ndarray] = []
    known = adduct_index(config.adducts)
    row = np.zeros(n, dtype=np.int64)
    x = np.zeros((n, ion_width(config)), dtype=np.float32)
    adduct = np.zeros(n, dtype=np.int64)
    log_mz = np.zeros(n, dtype=np.float32)
    first_adduct = 1 + ADDUCT_WIDTH
    reads_smiles = reads_structure(config)
    for i, ion in enumerate(ions):
        column = known.get(adduct_key(ion.adduct))
        if column is None:
            raise CcsInputError(
                f"adduct {ion.adduct} is not one the predictor knows (it predicts adducts with "
                f"at least {config.min_adduct_ions} measured ions in its training data)"
            )
        mz = ion_mz(ion.mass, ion.adduct)
        if mz < MIN_MZ:
            raise CcsInputError(f"{ion.adduct} ion m/z {mz:.1f} is below the predictor's range")
        key = (ion.fingerprint, ion.formula, ion.smiles if reads_smiles else None)
        if key not in rows:
            rows[key] = len(structures)
            structures.append(structure_columns(ion.fingerprint, ion.formula, ion.smiles, config))
        row[i] = rows[key]
        log_mz[i] = np.log(mz)
        adduct[i] = column
        method = ion.method if ion.method in config.methods else "unknown"
        x[i, 0] = log_mz[i] - 6.0
        x[i, 1:first_adduct] = adduct_composition(ion.adduct)
        x[i, first_adduct + adduct[i]] = 1.0
        x[i, first_adduct + len(config.adducts) + config.methods.index(method)] = 1.0
    structure = (
        np.stack(structures).astype(np.float32)
        if structures
        else np.zeros((0, structure_width(config)), np.float32)
    )
    return CcsInputs(
        torch.from_numpy(structure),
        torch.from_numpy(row),
        torch.from_numpy(x),
        torch.from_numpy(adduct),
        torch.from_numpy(log_mz),
    )


def ion_width(config: CcsConfig) -> int:
    """An ion's columns: log m/z, the adduct's composition, its own column, the method's."""
    return 1 + ADDUCT_WIDTH + len(config.adducts) + len(config.methods)


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
