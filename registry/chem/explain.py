"""Which of a query spectrum's peaks a candidate structure's fragments explain, and how well:
each peak matched to the cheapest fragment ion within the tolerance, and MetFrag's fragmenter
score over the explained peaks, (m/z)^1.84 x intensity^0.59 / cost^0.47 (Ruttkies et al. 2016),
as a share of what explaining every peak by one cut bond would score."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from rdkit import Chem

from registry.chem.adducts import adduct_atoms
from registry.chem.fragmenter import (
    BOND_PENALTY,
    Fragment,
    FragmentIons,
    Pieces,
    fragment_adduct,
    fragment_ions,
    fragments,
    hill_formula,
)

MZ_EXPONENT, INTENSITY_EXPONENT, COST_EXPONENT = 1.84, 0.59, 0.47
CHEAPEST = BOND_PENALTY + 1  # one cut bond and one hydrogen moved
PPM, ABS_TOLERANCE = 10.0, 0.005  # a peak matches an ion within the larger of the two
MIN_RELATIVE = 0.01  # peaks under 1 % of the base peak are noise here
MAX_PEAKS = 50  # the most intense fragment peaks considered
PRECURSOR_MARGIN = 0.5  # Da below the precursor: peaks above it are the precursor's own


@dataclass(frozen=True)
class Annotation:
    """One explained peak: its m/z and share of the considered intensity, the fragment ion
    that explains it (formula with the hydrogens moved, SMILES of the piece, ion m/z) and the
    mass error in ppm."""

    mz: float
    intensity: float
    ion_mz: float
    formula: str
    smiles: str
    shift: int
    cost: float
    ppm_error: float


@dataclass(frozen=True)
class Explanation:
    """How far a candidate explains a query: explained peaks of those considered, the share of
    their intensity explained, the normalised fragmenter score in [0, 1], the annotations."""

    peaks: int
    explained_peaks: int
    explained_intensity: float
    score: float
    annotations: tuple[Annotation, ...]


def fragment_peaks(
    mz: np.ndarray, intensity: np.ndarray, precursor_mz: float | None
) -> tuple[np.ndarray, np.ndarray]:
    """The peaks a fragmenter can explain: below the precursor, at least MIN_RELATIVE of the
    base peak, the MAX_PEAKS most intense; intensities as shares of their sum, by m/z."""
    mz, intensity = np.asarray(mz, float), np.asarray(intensity, float)
    keep = intensity > 0
    if precursor_mz:
        keep &= mz < precursor_mz - PRECURSOR_MARGIN
    mz, intensity = mz[keep], intensity[keep]
    if not len(mz):
        return mz, intensity
    keep = intensity >= MIN_RELATIVE * intensity.max()
    mz, intensity = mz[keep], intensity[keep]
    top = np.argsort(-intensity, kind="stable")[:MAX_PEAKS]
    top = top[np.argsort(mz[top], kind="stable")]
    return mz[top], intensity[top] / intensity[top].sum()


def ion_formula(elements: Counter, shift: int, adduct: str) -> str:
    """The fragment ion's formula and charge sign: the piece's atoms, the hydrogens moved and
    the atoms of the charge carrier (C6H7N3O, 0 moved, [M+H]+: 'C6H8N3O+')."""
    carrier = fragment_adduct(adduct)
    atoms = Counter(elements)
    atoms["H"] += shift
    atoms.update(adduct_atoms(carrier.name))
    return hill_formula(+atoms) + ("+" if carrier.charge > 0 else "-")


@lru_cache(maxsize=4096)
def candidate_ions(smiles: str, adduct: str, depth: int) -> tuple[Chem.Mol, Pieces, FragmentIons]:
    """A structure's fragments and their ions (kept for the candidates of recent queries: the
    same window is often searched with several spectra)."""
    mol = Chem.MolFromSmiles(smiles)
    if mol is None:
        raise ValueError(f"RDKit cannot read the structure {smiles!r}")
    pieces = fragments(mol, depth)
    return mol, pieces, fragment_ions(pieces, adduct)


def matching_ions(mz: np.ndarray, ions: FragmentIons) -> tuple[np.ndarray, np.ndarray]:
    """For each peak, the ions within the tolerance (PPM or ABS_TOLERANCE, the wider) as the
    index range [lo, hi) of the sorted ion m/z values."""
    tolerance = np.maximum(mz * PPM * 1e-6, ABS_TOLERANCE)
    lo = np.searchsorted(ions.mz, mz - tolerance, side="left")
    hi = np.searchsorted(ions.mz, mz + tolerance, side="right")
    return lo, hi


def _best_ions(mz: np.ndarray, ions: FragmentIons) -> list[int | None]:
    """For each peak, the cheapest ion within the tolerance (the closer one on a tie)."""
    lo, hi = matching_ions(mz, ions)
    best: list[int | None] = []
    for peak, (a, b) in enumerate(zip(lo, hi, strict=True)):
        if a == b:
            best.append(None)
            continue
        window = np.arange(a, b)
        error = np.abs(ions.mz[window] - mz[peak])
        best.append(int(window[np.lexsort((error, ions.cost[window]))[0]]))
    return best


def explain(
    smiles: str,
    adduct: str,
    mz: np.ndarray,
    intensity: np.ndarray,
    precursor_mz: float | None,
    depth: int = 2,
) -> Explanation:
    """The candidate's explanation of the query's fragment peaks (`fragment_peaks`)."""
    peaks_mz, share = fragment_peaks(mz, intensity, precursor_mz)
    mol, pieces, ions = candidate_ions(smiles, adduct, depth)
    weights = peaks_mz**MZ_EXPONENT * share**INTENSITY_EXPONENT
    annotations: list[Annotation] = []
    explained_weight = 0.0
    for peak, ion in enumerate(_best_ions(peaks_mz, ions)):
        if ion is None:
            continue
        cost = float(ions.cost[ion])
        explained_weight += weights[peak] * (CHEAPEST / cost) ** COST_EXPONENT
        piece: Fragment = pieces[ions.fragment[ion]]
        shift = int(ions.shift[ion])
        annotations.append(
            Annotation(
                mz=float(peaks_mz[peak]),
                intensity=float(share[peak]),
                ion_mz=float(ions.mz[ion]),
                formula=ion_formula(piece.elements(mol), shift, adduct),
                smiles=piece.smiles(mol),
                shift=shift,
                cost=cost,
                ppm_error=float((peaks_mz[peak] - ions.mz[ion]) / ions.mz[ion] * 1e6),
            )
        )
    total = float(weights.sum())
    return Explanation(
        peaks=len(peaks_mz),
        explained_peaks=len(annotations),
        explained_intensity=float(sum(a.intensity for a in annotations)),
        score=explained_weight / total if total else 0.0,
        annotations=tuple(annotations),
    )
