"""Turn plain records into model inputs: fixed-size spectrum arrays, CCS values and fingerprints
(molecular graphs are in `models.molgraph`)."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np
import torch

from registry.chem.adducts import UnknownAdductError, parse_adduct

INSTRUMENT_TYPES = [
    "LC-ESI-QTOF",
    "LC-ESI-ITFT",
    "LC-ESI-QFT",
    "LC-ESI-QQ",
    "LC-ESI-IT",
    "LC-ESI-TOF",
    "LC-APCI-QTOF",
    "LC-ESI-QIT",
    "GC-APCI-QTOF",
    "ESI-QTOF",
]
ADDUCT_TYPES = [
    "[M+H]+",
    "[M-H]-",
    "[M+Na]+",
    "[M]+",
    "[M+NH4]+",
    "[M+FA-H]-",
    "[M+Hac-H]-",
    "[M+H-H2O]+",
    "[M+K]+",
    "[M+Cl]-",
    "[M-2H]2-",
    "[M+2H]2+",
]
_NUMBER = re.compile(r"[-+]?\d+(?:\.\d+)?")


def category(value: str | None, vocabulary: list[str]) -> int:
    """Index into vocabulary; len(vocabulary) = other, len+1 = missing."""
    if not value:
        return len(vocabulary) + 1
    return vocabulary.index(value) if value in vocabulary else len(vocabulary)


def collision_energy_value(text: str | None) -> float:
    """First number of a collision-energy string ('35 eV', '10(NCE)', '30% (nominal)'); NaN if none."""
    if not text:
        return math.nan
    match = _NUMBER.search(text)
    return float(match.group()) if match else math.nan


@dataclass
class SpectrumTensor:
    """One MS/MS spectrum as model input: top peaks, precursor and metadata codes."""

    peaks: np.ndarray  # (max_peaks, 2): m/z, intensity scaled to max 1; zero padded
    n_peaks: int
    precursor_mz: float
    ion_mode: int  # 0 positive, 1 negative, 2 unknown
    instrument: int
    adduct: int
    collision_energy: float  # NaN when unknown


def spectrum_tensor(
    mz: np.ndarray,
    intensity: np.ndarray,
    precursor_mz: float,
    adduct: str | None,
    ion_mode: str | None,
    instrument_type: str | None,
    collision_energy: str | None,
    max_peaks: int,
    remove_precursor_peaks: bool,
) -> SpectrumTensor:
    """Keep the `max_peaks` most intense peaks (optionally only those below the precursor)."""
    mz = np.asarray(mz, dtype=np.float64)
    intensity = np.asarray(intensity, dtype=np.float64)
    if remove_precursor_peaks:
        keep = mz < precursor_mz - 0.5
        mz, intensity = mz[keep], intensity[keep]
    order = np.argsort(-intensity, kind="stable")[:max_peaks]
    order = order[np.argsort(mz[order])]
    peaks = np.zeros((max_peaks, 2), dtype=np.float32)
    n = order.size
    if n:
        peaks[:n, 0] = mz[order]
        peaks[:n, 1] = np.sqrt(intensity[order] / intensity[order].max())
    mode = {"positive": 0, "negative": 1}.get(ion_mode or "", 2)
    if mode == 2 and adduct:
        try:
            mode = 0 if parse_adduct(adduct).charge > 0 else 1
        except UnknownAdductError:
            pass
    return SpectrumTensor(
        peaks,
        n,
        float(precursor_mz),
        mode,
        category(instrument_type, INSTRUMENT_TYPES),
        category(adduct, ADDUCT_TYPES),
        collision_energy_value(collision_energy),
    )


def collate_spectra(items: list[SpectrumTensor]) -> dict[str, torch.Tensor]:
    """Stack spectrum tensors into a batch, padded only to the batch's longest peak list."""
    width = max(1, max(s.n_peaks for s in items))
    return {
        "peaks": torch.from_numpy(np.stack([s.peaks[:width] for s in items])),
        "n_peaks": torch.tensor([s.n_peaks for s in items]),
        "precursor_mz": torch.tensor([s.precursor_mz for s in items], dtype=torch.float32),
        "ion_mode": torch.tensor([s.ion_mode for s in items]),
        "instrument": torch.tensor([s.instrument for s in items]),
        "adduct": torch.tensor([s.adduct for s in items]),
        "collision_energy": torch.tensor([s.collision_energy for s in items], dtype=torch.float32),
    }


def collate_ccs(values: list[tuple[float, float | None, str]]) -> dict[str, torch.Tensor]:
    """CCS (A^2), ion m/z (NaN if unknown) and adduct code per row."""
    return {
        "ccs": torch.tensor([v[0] for v in values], dtype=torch.float32),
        "mz": torch.tensor(
            [math.nan if v[1] is None else v[1] for v in values], dtype=torch.float32
        ),
        "adduct": torch.tensor([category(v[2], ADDUCT_TYPES) for v in values]),
    }


def tanimoto_matrix(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Pairwise Tanimoto of two stacks of 0/1 fingerprints (float tensors)."""
    inter = a @ b.T
    union = a.sum(1, keepdim=True) + b.sum(1) - inter
    return torch.where(union > 0, inter / union.clamp(min=1), torch.zeros_like(inter))


def fingerprint_tensor(bits: str | None) -> torch.Tensor:
    if not bits:
        return torch.zeros(2048)
    return torch.tensor(np.frombuffer(bits.encode(), dtype=np.uint8) - 48, dtype=torch.float32)
