"""A structure as the CCS predictor reads it: the stored 2048-bit fingerprint, element counts
from the stored formula, a Morgan count fingerprint and eleven whole-molecule RDKit
descriptors.

Why the descriptors: a fingerprint says which groups a structure has, not how large and
compact the whole is, and that is what a cross section measures; surface area (Labute), polar
surface, ring counts, saturation and Kier's / valence connectivity indices say it. Why the
counts: the stored bits say whether a path occurs, not how often (two phenyls or five
methylenes look like one). Chosen for cost as much as for accuracy: larger sets cost more for
no better error, and a 3D conformer per molecule far more (docs/CCS.md)."""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache

import numpy as np
from rdkit import Chem
from rdkit.Chem import rdFingerprintGenerator
from rdkit.Chem import rdMolDescriptors as rd

from models.ccs_adducts import CcsInputError
from registry.chem.identity import FINGERPRINT_BITS

ELEMENTS = ("C", "H", "N", "O", "S", "P", "F", "Cl", "Br", "I", "Si")
COUNT_RADIUS = 2  # the Morgan count fingerprint's radius (ECFP4-like environments)
_FORMULA = re.compile(r"([A-Z][a-z]?)(\d*)")

DESCRIPTORS: dict[str, Callable[[Chem.Mol], float]] = {
    "labute_asa": rd.CalcLabuteASA,
    "tpsa": rd.CalcTPSA,
    "fraction_csp3": rd.CalcFractionCSP3,
    "rings": rd.CalcNumRings,
    "aromatic_rings": rd.CalcNumAromaticRings,
    "aliphatic_rings": rd.CalcNumAliphaticRings,
    "h_donors": rd.CalcNumHBD,
    "heavy_atoms": rd.CalcNumHeavyAtoms,
    "kappa1": rd.CalcKappa1,
    "chi0v": rd.CalcChi0v,
    "chi1v": rd.CalcChi1v,
}


@lru_cache
def _morgan(count_bits: int) -> rdFingerprintGenerator.FingerprintGenerator64:
    return rdFingerprintGenerator.GetMorganGenerator(radius=COUNT_RADIUS, fpSize=count_bits)


def molecule_columns(smiles: str | None, names: tuple[str, ...], count_bits: int) -> np.ndarray:
    """What is read from the structure itself: log(1 + count) of each of `count_bits` folded
    Morgan environments, then the named descriptors in that order (neither asked: the
    structure is not read); a structure RDKit cannot read, or none given, raises
    CcsInputError."""
    if not names and not count_bits:
        return np.zeros(0, dtype=np.float32)
    if not smiles:
        raise CcsInputError("no SMILES: the predictor reads the structure itself")
    mol = Chem.MolFromSmiles(smiles)
    if mol is None:
        raise CcsInputError(f"RDKit cannot read the structure {smiles!r}")
    counts = np.zeros(0, dtype=np.float32)
    if count_bits:
        counts = np.log1p(_morgan(count_bits).GetCountFingerprintAsNumPy(mol).astype(np.float32))
    values = np.array([DESCRIPTORS[name](mol) for name in names], dtype=np.float32)
    return np.concatenate([counts, values])


def element_counts(formula: str) -> np.ndarray:
    counts = dict.fromkeys(ELEMENTS, 0)
    for element, number in _FORMULA.findall(formula or ""):
        if element in counts:
            counts[element] += int(number) if number else 1
    return np.array([counts[e] for e in ELEMENTS], dtype=np.float32)


def structure_width(descriptors: tuple[str, ...], count_bits: int) -> int:
    """A structure's columns: fingerprint bits, element counts, Morgan counts, descriptors."""
    return FINGERPRINT_BITS + len(ELEMENTS) + count_bits + len(descriptors)


def structure_columns(
    fingerprint: str,
    formula: str,
    smiles: str | None,
    descriptors: tuple[str, ...],
    count_bits: int,
) -> np.ndarray:
    """One structure's columns: bits as 0/1, log(1 + count) per element, the Morgan counts
    (`molecule_columns`) and the descriptors as RDKit gives them, last (the predictor
    standardises them)."""
    if len(fingerprint) != FINGERPRINT_BITS:
        raise CcsInputError("no 2048-bit fingerprint")
    bits = np.frombuffer(fingerprint.encode(), dtype=np.uint8) - 48
    counts = np.log1p(element_counts(formula))
    return np.concatenate([bits, counts, molecule_columns(smiles, descriptors, count_bits)])
