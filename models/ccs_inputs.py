"""What the CCS predictor (models/ccs.py) reads of an ion, as arrays: its hyperparameters
(which adducts, methods and structure columns it reads), the ions it can predict and their
columns. Free of torch, so a backfill's featurisation process starts in a fraction of a
second instead of two (models/prefetch.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

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
class IonColumns:
    """Featurised ions as arrays (models.ccs.CcsInputs holds them as tensors). The structure
    columns (models/ccs_structure.py) are stored once per structure and shared by its ions
    through `row`, so the first layer reads a compound once for all its adducts; `ion` holds
    the log m/z, adduct and method columns."""

    structure: np.ndarray  # (structures, structure_width(config))
    row: np.ndarray  # (ions,) the structure row of each ion
    ion: np.ndarray  # (ions, ion_width(config))
    adduct: np.ndarray  # (ions,) the adduct's index in config.adducts
    log_mz: np.ndarray  # (ions,)


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


def ion_columns(ions: list[Ion], config: CcsConfig) -> IonColumns:
    """The columns of a list of ions; raises CcsInputError naming the first unusable one."""
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
    return IonColumns(structure, row, x, adduct, log_mz)


def ion_width(config: CcsConfig) -> int:
    """An ion's columns: log m/z, the adduct's composition, its own column, the method's."""
    return 1 + ADDUCT_WIDTH + len(config.adducts) + len(config.methods)
