"""A structure as the CCS predictor reads it: element counts from the stored formula, Morgan
and atom-pair count fingerprints and eleven whole-molecule RDKit descriptors (predictors
before the atom pairs read the registry's stored 2048-bit fingerprint too; the counts made it
redundant: validation error no higher without it, at half the first layer).

Why the descriptors: a fingerprint says which groups a structure has, not how large and
compact the whole is, and that is what a cross section measures; surface area (Labute), polar
surface, ring counts, saturation and Kier's / valence connectivity indices say it. Why the
counts: the stored bits say whether a path occurs, not how often (two phenyls or five
methylenes look like one). Why atom pairs: how far apart (in bonds) each pair of atom types
sits says how long or compact the skeleton is. Chosen for cost as much as for accuracy: larger
sets cost more for no better error, and a 3D conformer per molecule far more (docs/CCS.md)."""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache
from typing import Protocol

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


@lru_cache
def _atom_pairs(pair_bits: int) -> rdFingerprintGenerator.FingerprintGenerator64:
    return rdFingerprintGenerator.GetAtomPairGenerator(fpSize=pair_bits)


def _log_counts(generator: rdFingerprintGenerator.FingerprintGenerator64, mol) -> np.ndarray:
    return np.log1p(generator.GetCountFingerprintAsNumPy(mol).astype(np.float32))


class Reads(Protocol):
    """What a predictor reads from a structure (the fields of CcsConfig that say so)."""

    stored_fingerprint: bool  # the registry's 2048-bit fingerprint (predictors before pairs)
    count_bits: int
    pair_bits: int
    descriptors: tuple[str, ...]


def reads_structure(reads: Reads) -> bool:
    """Whether a predictor reads the structure itself (its SMILES), not only the stored
    formula and fingerprint: then two structures of one formula and fingerprint differ."""
    return bool(reads.descriptors or reads.count_bits or reads.pair_bits)


def molecule_columns(smiles: str | None, reads: Reads) -> np.ndarray:
    """What is read from the structure itself: log(1 + count) of each of `count_bits` folded
    Morgan environments, of each of `pair_bits` folded atom pairs (two atoms' types and their
    distance in bonds), then the named descriptors in that order (none asked: the structure
    is not read); a structure RDKit cannot read, or none given, raises CcsInputError."""
    if not reads_structure(reads):
        return np.zeros(0, dtype=np.float32)
    if not smiles:
        raise CcsInputError("no SMILES: the predictor reads the structure itself")
    mol = Chem.MolFromSmiles(smiles)
    if mol is None:
        raise CcsInputError(f"RDKit cannot read the structure {smiles!r}")
    empty = np.zeros(0, dtype=np.float32)
    counts = _log_counts(_morgan(reads.count_bits), mol) if reads.count_bits else empty
    pairs = _log_counts(_atom_pairs(reads.pair_bits), mol) if reads.pair_bits else empty
    values = np.array([DESCRIPTORS[name](mol) for name in reads.descriptors], dtype=np.float32)
    return np.concatenate([counts, pairs, values])


def element_counts(formula: str) -> np.ndarray:
    counts = dict.fromkeys(ELEMENTS, 0)
    for element, number in _FORMULA.findall(formula or ""):
        if element in counts:
            counts[element] += int(number) if number else 1
    return np.array([counts[e] for e in ELEMENTS], dtype=np.float32)


def structure_width(reads: Reads) -> int:
    """A structure's columns: stored fingerprint bits (if read), element counts, Morgan
    counts, atom-pair counts, descriptors."""
    bits = FINGERPRINT_BITS if reads.stored_fingerprint else 0
    return bits + len(ELEMENTS) + reads.count_bits + reads.pair_bits + len(reads.descriptors)


def structure_columns(
    fingerprint: str, formula: str, smiles: str | None, reads: Reads
) -> np.ndarray:
    """One structure's columns: the stored bits as 0/1 (if read), log(1 + count) per
    element, the Morgan and atom-pair counts (`molecule_columns`) and the descriptors as RDKit
    gives them, last (the predictor standardises them)."""
    bits = np.zeros(0, dtype=np.uint8)
    if reads.stored_fingerprint:
        if len(fingerprint) != FINGERPRINT_BITS:
            raise CcsInputError("no 2048-bit fingerprint")
        bits = np.frombuffer(fingerprint.encode(), dtype=np.uint8) - 48
    counts = np.log1p(element_counts(formula))
    return np.concatenate([bits, counts, molecule_columns(smiles, reads)])
