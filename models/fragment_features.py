"""What the forward model reads of each fragment ion: the piece it comes from (size, mass,
elements, aromatic and ring atoms, the atom environments inside it and lost with the rest),
the bonds cut to free it (kinds, the atom types at both ends, the environments of the cut
site), the hydrogens moved, and the precursor's adduct and collision energy.

Atom environments are an atom's element, aromaticity, degree, hydrogens and ring membership
with its neighbours' elements and bond orders (a radius-1 circular environment, as in CFM-ID's
and ICEBERG's fragment descriptions), hashed by CRC-32 into a fixed number of columns so that
the same environment always lands in the same column, on every machine and in every run."""

from __future__ import annotations

import math
import re
import zlib

import numpy as np
from rdkit import Chem

from registry.chem.fragmenter import MAX_SHIFT, FragmentIons, Pieces

ADDUCT_KINDS = ("[M+H]+", "[M-H]-", "[M+Na]+")  # one-hot; any other adduct: the fourth column
HALOGENS = ("F", "Cl", "Br", "I")
ELEMENT_COLUMNS = ("C", "N", "O", "S", "P")
ATOM_TYPES = ("C", "c", "N", "O", "S", "other")  # aliphatic and aromatic carbon apart
ENVIRONMENTS = 64  # hashed columns of atom environments inside the piece (and lost)
SITES = 32  # hashed columns of a cut bond's inside atom environment (and its outside one)
SCALE = 10.0  # counts of atoms and environments are divided by this

PIECE_FEATURES = (
    "atom share", "mass share", *(f"{e} share" for e in ELEMENT_COLUMNS), "halogen share",
    "aromatic share", "ring share", "cut single", "cut double", "cut aromatic", "cut in ring",
    "cut to heteroatom", "cut bonds", "steps",
    *(f"cut {i}-{o}" for i in ATOM_TYPES for o in ATOM_TYPES),
    "C lost", "N lost", "O lost", "atoms lost", "mass lost", "mass",
    *(f"environment {k}" for k in range(ENVIRONMENTS)),
    *(f"environment lost {k}" for k in range(ENVIRONMENTS)),
    *(f"cut site {k}" for k in range(SITES)),
    *(f"cut site outside {k}" for k in range(SITES)),
)  # fmt: skip
ION_FEATURES = (
    *(f"shift {s:+d}" for s in range(-MAX_SHIFT, MAX_SHIFT + 1)),
    "ion m/z share", *ADDUCT_KINDS, "other adduct", "collision energy", "no collision energy",
)  # fmt: skip
FEATURES = PIECE_FEATURES + ION_FEATURES


def collision_energy(text: str | float | None) -> float | None:
    """The first number of a collision-energy field ('35 eV', '10(NCE)', '30% (nominal)')."""
    if text is None:
        return None
    if isinstance(text, int | float):
        return float(text) if math.isfinite(text) else None
    found = re.search(r"\d+(\.\d+)?", str(text))
    return float(found.group()) if found else None


def atom_type(atom: Chem.Atom) -> int:
    """The atom's index in ATOM_TYPES."""
    symbol = atom.GetSymbol()
    if symbol == "C":
        return 1 if atom.GetIsAromatic() else 0
    return {"N": 2, "O": 3, "S": 4}.get(symbol, 5)


def atom_environments(mol: Chem.Mol) -> np.ndarray:
    """Each atom's radius-1 environment as a CRC-32 hash (stable across runs and machines)."""
    out = []
    for atom in mol.GetAtoms():
        neighbours = sorted(
            f"{n.GetSymbol()}{int(n.GetIsAromatic())}"
            f"{mol.GetBondBetweenAtoms(atom.GetIdx(), n.GetIdx()).GetBondTypeAsDouble()}"
            for n in atom.GetNeighbors()
        )
        key = (
            f"{atom.GetSymbol()}|{int(atom.GetIsAromatic())}|{atom.GetDegree()}|"
            f"{atom.GetTotalNumHs()}|{int(atom.IsInRing())}|{','.join(neighbours)}"
        )
        out.append(zlib.crc32(key.encode()))
    return np.array(out, np.int64)


def _one_hot(index: np.ndarray, width: int) -> np.ndarray:
    out = np.zeros((len(index), width), np.float32)
    out[np.arange(len(index)), index] = 1
    return out


def piece_features(mol: Chem.Mol, pieces: Pieces) -> np.ndarray:
    """One row of PIECE_FEATURES per piece, for all pieces at once (a row of atoms each)."""
    n = mol.GetNumAtoms()
    inside = pieces.inside.astype(np.float32)
    outside = 1 - inside
    atoms = list(mol.GetAtoms())
    symbol = [a.GetSymbol() for a in atoms]
    per_atom = np.array(
        [[s == e for e in ELEMENT_COLUMNS] + [s in HALOGENS] for s in symbol], np.float32
    ).reshape(n, len(ELEMENT_COLUMNS) + 1)
    atom_kind = np.array([[a.GetIsAromatic(), a.IsInRing()] for a in atoms], np.float32)
    lost_atoms = np.array([[s == "C", s == "N", s == "O", True] for s in symbol], np.float32)
    bonds = list(mol.GetBonds())
    ends = np.array([[b.GetBeginAtomIdx(), b.GetEndAtomIdx()] for b in bonds], int).reshape(-1, 2)
    bond_kind = np.array(
        [
            [
                b.GetBondType() == Chem.BondType.SINGLE,
                b.GetBondType() == Chem.BondType.DOUBLE,
                b.GetBondType() == Chem.BondType.AROMATIC,
                b.IsInRing(),
                symbol[b.GetBeginAtomIdx()] != "C" or symbol[b.GetEndAtomIdx()] != "C",
            ]
            for b in bonds
        ],
        np.float32,
    ).reshape(-1, 5)
    # a cut bond seen from the piece: (its atom inside, its atom outside), either way round
    begin_in = inside[:, ends[:, 0]] * outside[:, ends[:, 1]]
    end_in = inside[:, ends[:, 1]] * outside[:, ends[:, 0]]
    kinds = np.array([atom_type(a) for a in atoms], int)
    pair = len(ATOM_TYPES)
    environment = atom_environments(mol)
    site = environment[ends] % SITES  # per cut bond: (begin atom's column, end atom's)

    def cut_counts(begin: np.ndarray, end: np.ndarray, columns: int) -> np.ndarray:
        """Per piece, over its cut bonds: column `begin` of a bond whose first atom is inside
        plus column `end` of one whose second atom is (each a per-bond index)."""
        return begin_in @ _one_hot(begin, columns) + end_in @ _one_hot(end, columns)

    count = np.maximum(inside.sum(axis=1, keepdims=True), 1)
    masses = pieces.mass.astype(np.float32)
    whole = masses[0] or 1.0
    environments = _one_hot(environment % ENVIRONMENTS, ENVIRONMENTS)
    return np.concatenate(
        [
            count / n,
            (masses / whole)[:, None],
            inside @ per_atom / count,
            inside @ atom_kind / count,
            (begin_in + end_in) @ bond_kind,
            np.stack([pieces.cut_bonds, pieces.steps], axis=1).astype(np.float32),
            cut_counts(
                kinds[ends[:, 0]] * pair + kinds[ends[:, 1]],
                kinds[ends[:, 1]] * pair + kinds[ends[:, 0]],
                pair * pair,
            ),
            outside @ lost_atoms / SCALE,
            ((whole - masses) / 100.0)[:, None],
            (masses / 100.0)[:, None],
            inside @ environments / SCALE,
            outside @ environments / SCALE,
            cut_counts(site[:, 0], site[:, 1], 2 * SITES)  # the inside atom's environment
            + cut_counts(site[:, 1] + SITES, site[:, 0] + SITES, 2 * SITES),  # the outside one
        ],
        axis=1,
    ).astype(np.float32)


def ion_columns(ions: FragmentIons, adduct: str, energy: float | None) -> np.ndarray:
    """One row of ION_FEATURES per ion (at least one): its hydrogen shift, m/z and the
    precursor's setting."""
    shift = np.zeros((len(ions.mz), 2 * MAX_SHIFT + 1), np.float32)
    shift[np.arange(len(ions.mz)), ions.shift + MAX_SHIFT] = 1
    precursor = max(float(ions.mz.max()), 1.0)
    kind = np.zeros(len(ADDUCT_KINDS) + 1, np.float32)
    kind[ADDUCT_KINDS.index(adduct) if adduct in ADDUCT_KINDS else -1] = 1
    energy_columns = [min(energy, 200.0) / 100.0, 0.0] if energy is not None else [0.0, 1.0]
    common = np.concatenate([kind, np.array(energy_columns, np.float32)])
    return np.concatenate(
        [
            shift,
            (ions.mz / precursor).astype(np.float32)[:, None],
            np.broadcast_to(common, (len(ions.mz), len(common))),
        ],
        axis=1,
    ).astype(np.float32)
