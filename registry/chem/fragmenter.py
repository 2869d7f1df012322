"""In-silico fragmentation by bond disconnection, after MetFrag's combinatorial fragmenter
(Wolf et al. 2010; Ruttkies et al. 2016): every connected piece left by breaking one bond that
holds the piece together, or two bonds of one ring, repeated to `depth` steps. Each piece keeps
its atoms, formula, neutral mass and the bonds that tie it to the rest of the molecule; its ions
(`fragment_ions`) carry the adduct's charge and the hydrogen shifts of an even-electron ion.
The cutting itself is compiled (registry/chem/cleavage.py); a structure's pieces come back as
columns (`Pieces`), which the explanation and the forward model read whole."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from rdkit import Chem

from registry.chem.adducts import ELEMENTS, Adduct, parse_adduct
from registry.chem.cleavage import cut_pieces

HYDROGEN = ELEMENTS["H"]
BOND_PENALTY = 3.5  # per bond the fragment's boundary cuts, as in the trial of MetFrag
MAX_SHIFT = 2  # hydrogens moved to or from a fragment (MetFrag: up to the bonds cut)
MAX_ATOMS = 120  # heavy atoms: larger structures are fragmented one step deep only
MAX_PIECES = 20_000  # stop widening the search past this many distinct pieces


class Fragment(NamedTuple):
    """A connected piece of the molecule: its heavy atoms (bit i = atom i), neutral
    monoisotopic mass with the hydrogens those atoms carry, the bonds between it and the rest
    of the molecule, and the cleavage steps that first cut it out. (A named tuple: a structure
    has thousands, and a frozen dataclass takes several times longer to make.)"""

    atoms: int
    mass: float
    cut_bonds: int
    steps: int

    def indices(self, mol: Chem.Mol) -> list[int]:
        return [i for i in range(mol.GetNumAtoms()) if self.atoms >> i & 1]

    def smiles(self, mol: Chem.Mol) -> str:
        """The piece as SMILES (its cut bonds left open)."""
        return Chem.MolFragmentToSmiles(mol, atomsToUse=self.indices(mol), canonical=True)

    def elements(self, mol: Chem.Mol) -> Counter:
        """The piece's atoms by element, with the hydrogens they carry."""
        counts: Counter = Counter()
        for i in self.indices(mol):
            atom = mol.GetAtomWithIdx(i)
            counts[atom.GetSymbol()] += 1
            counts["H"] += atom.GetTotalNumHs()
        return counts


class _Graph:
    """The heavy-atom graph of a molecule, with per-atom masses and element counts."""

    def __init__(self, mol: Chem.Mol):
        self.n = mol.GetNumAtoms()
        self.bonds = [(b.GetBeginAtomIdx(), b.GetEndAtomIdx()) for b in mol.GetBonds()]
        self.neighbours: list[list[tuple[int, int]]] = [[] for _ in range(self.n)]
        for index, (a, b) in enumerate(self.bonds):
            self.neighbours[a].append((b, index))
            self.neighbours[b].append((a, index))
        self.ends = np.array(self.bonds, dtype=np.int64).reshape(-1, 2)
        self.mass = np.zeros(self.n)
        for atom in mol.GetAtoms():
            symbol = atom.GetSymbol()
            if symbol not in ELEMENTS:
                raise ValueError(f"no monoisotopic mass for element {symbol}")
            self.mass[atom.GetIdx()] = ELEMENTS[symbol] + atom.GetTotalNumHs() * HYDROGEN
        self.rings = [self.cycle(ring) for ring in mol.GetRingInfo().BondRings()]

    def cycle(self, ring: tuple[int, ...]) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """A ring's bonds b_k in walking order and its atoms v_k, bond b_k joining v_k to
        v_k+1 (the last bond closing the ring)."""
        bonds, atoms = [ring[0]], [self.bonds[ring[0]][0]]
        left = set(ring[1:])
        end = self.bonds[ring[0]][1]
        while left:
            bond = next(b for b in left if end in self.bonds[b])
            left.remove(bond)
            bonds.append(bond)
            atoms.append(end)
            a, b = self.bonds[bond]
            end = b if a == end else a
        return tuple(bonds), tuple(atoms)

    def cut(self, depth: int, limit: int) -> tuple[np.ndarray, np.ndarray]:
        """Rows of atom words (64 atoms a word) of the molecule and every piece up to `depth`
        cleavage steps cut out of it, and the steps that first cut each out (cleavage.py)."""
        indptr = np.zeros(self.n + 1, np.int64)
        indptr[1:] = np.cumsum([len(near) for near in self.neighbours])
        flat = [pair for near in self.neighbours for pair in near]
        nbr = np.array([a for a, _ in flat], np.int64)
        nbond = np.array([b for _, b in flat], np.int64)
        ring_ptr = np.zeros(len(self.rings) + 1, np.int64)
        ring_ptr[1:] = np.cumsum([len(bonds) for bonds, _ in self.rings])
        ring_bonds = np.array([b for bonds, _ in self.rings for b in bonds], np.int64)
        ring_atoms = np.array([a for _, atoms in self.rings for a in atoms], np.int64)
        return cut_pieces(
            self.n,
            indptr,
            nbr,
            nbond,
            ring_ptr,
            ring_bonds,
            ring_atoms,
            depth if self.n else 0,
            limit,
        )

    def table(self, words: np.ndarray, steps: np.ndarray) -> Pieces:
        """The pieces (rows of atom words) as columns: their atoms' masses summed and the
        bonds they cut counted for all pieces at once (one row of atom flags per piece). The
        rows are copied: the cutting's arrays are views of buffers of MAX_PIECES rows, which a
        cache of thousands of structures would otherwise keep."""
        words, steps = np.array(words, dtype="<u8"), np.array(steps)  # atom i: byte i // 8
        raw = words.view(np.uint8)
        inside = np.unpackbits(raw, axis=1, bitorder="little")[:, : self.n].astype(bool)
        mass = np.where(inside, self.mass, 0.0).sum(axis=1)
        cut = np.count_nonzero(inside[:, self.ends[:, 0]] != inside[:, self.ends[:, 1]], axis=1)
        return Pieces(words, inside, mass, cut, steps)


@dataclass(frozen=True, eq=False)
class Pieces(Sequence[Fragment]):
    """A structure's pieces as columns (a structure has hundreds to thousands, and the search
    reads them whole: masses, cut bonds, atom flags); piece i as a Fragment is `pieces[i]`.
    words: (pieces, atoms / 64) atom bits; inside: (pieces, atoms) flags; mass, cut_bonds,
    steps: one value per piece."""

    words: np.ndarray
    inside: np.ndarray
    mass: np.ndarray
    cut_bonds: np.ndarray
    steps: np.ndarray

    def __len__(self) -> int:
        return len(self.mass)

    def __getitem__(self, i):  # type: ignore[override]
        if isinstance(i, slice):
            return [self[k] for k in range(*i.indices(len(self)))]
        atoms = int.from_bytes(self.words[i].tobytes(), "little")
        return Fragment(atoms, float(self.mass[i]), int(self.cut_bonds[i]), int(self.steps[i]))


def hill_formula(counts: Counter) -> str:
    """C first, then H, then the rest alphabetically (Hill order); no C: all alphabetical."""
    order = sorted(counts)
    if counts.get("C"):
        order = ["C", "H"] + sorted(e for e in counts if e not in ("C", "H"))
    return "".join(f"{e}{counts[e] if counts[e] > 1 else ''}" for e in order if counts.get(e))


def fragments(mol: Chem.Mol, depth: int = 2) -> Pieces:
    """The molecule and every piece cleavage cuts out of it in up to `depth` steps (each
    piece once, at the fewest steps). Explicit hydrogens are folded into their atoms."""
    mol = Chem.RemoveHs(mol)
    graph = _Graph(mol)
    if graph.n > MAX_ATOMS:
        depth = min(depth, 1)
    return graph.table(*graph.cut(depth, MAX_PIECES))


@dataclass(frozen=True)
class FragmentIons:
    """Ion m/z values of a structure's fragments, sorted: which fragment, the hydrogens
    moved (+ gained, - lost) and the ion's cost (BOND_PENALTY per cut bond + |shift|)."""

    mz: np.ndarray
    cost: np.ndarray
    fragment: np.ndarray
    shift: np.ndarray


def fragment_adduct(adduct: str) -> Adduct:
    """The charge carrier a fragment ion keeps: the precursor's adduct for one molecule and
    one charge, else the protonated or deprotonated ion of its polarity."""
    parsed = parse_adduct(adduct)
    if parsed.n_molecules == 1 and abs(parsed.charge) == 1:
        return parsed
    return parse_adduct("[M+H]+" if parsed.charge > 0 else "[M-H]-")


def shifts(cut_bonds: int) -> range:
    """Hydrogen shifts that leave an even-electron ion: one cut bond leaves a radical site,
    which gains or loses one hydrogen (+1, -1); two cut bonds (a ring opened, or a piece from
    the middle) 0 or +/-2; and so on, at most MAX_SHIFT either way."""
    top = min(cut_bonds, MAX_SHIFT) if cut_bonds % 2 == 0 else min(cut_bonds, MAX_SHIFT - 1)
    return range(-top, top + 1, 2)


def fragment_ions(pieces: Pieces, adduct: str) -> FragmentIons:
    """Every even-electron ion of every fragment but the whole molecule, sorted by m/z (ties
    by fragment, then shift)."""
    carrier = fragment_adduct(adduct)
    cut = np.asarray(pieces.cut_bonds, dtype=int)
    fragment, shift = [np.zeros(0, int)], [np.zeros(0, int)]
    for c in np.unique(cut[cut > 0]).tolist():
        rows, moved = np.flatnonzero(cut == c), np.array(shifts(c), dtype=int)
        fragment.append(np.repeat(rows, len(moved)))
        shift.append(np.tile(moved, len(rows)))
    fragment, shift = np.concatenate(fragment), np.concatenate(shift)
    mz = carrier.mz(np.asarray(pieces.mass, dtype=float)[fragment] + shift * HYDROGEN)
    order = np.lexsort((shift, fragment, mz))
    cost = BOND_PENALTY * cut[fragment] + np.abs(shift)
    return FragmentIons(mz[order], cost[order].astype(float), fragment[order], shift[order])
