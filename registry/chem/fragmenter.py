"""In-silico fragmentation by bond disconnection, after MetFrag's combinatorial fragmenter
(Wolf et al. 2010; Ruttkies et al. 2016): every connected piece left by breaking one bond that
holds the piece together, or two bonds of one ring, repeated to `depth` steps. Each piece keeps
its atoms, formula, neutral mass and the bonds that tie it to the rest of the molecule; its ions
(`fragment_ions`) carry the adduct's charge and the hydrogen shifts of an even-electron ion."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from rdkit import Chem

from registry.chem.adducts import ELEMENTS, Adduct, parse_adduct

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

    def component(self, start: int, atoms: int, removed: frozenset[int]) -> int:
        """The atoms of `atoms` reachable from `start` without crossing a removed bond."""
        seen, stack = 1 << start, [start]
        while stack:
            for other, bond in self.neighbours[stack.pop()]:
                if bond not in removed and atoms >> other & 1 and not seen >> other & 1:
                    seen |= 1 << other
                    stack.append(other)
        return seen

    def inner_bonds(self, atoms: int) -> list[int]:
        return [i for i, (a, b) in enumerate(self.bonds) if atoms >> a & 1 and atoms >> b & 1]

    def bridges(self, atoms: int) -> list[tuple[int, int]]:
        """(bond, atoms on its far side) for each bond whose loss splits the connected piece
        `atoms`: Tarjan's bridges in one depth-first pass, the far side being the subtree."""
        start = (atoms & -atoms).bit_length() - 1
        order = {start: 0}
        low = {start: 0}
        subtree = {start: 1 << start}
        found: list[tuple[int, int]] = []
        stack = [(start, -1, iter(self.neighbours[start]))]
        while stack:
            node, via, edges = stack[-1]
            for other, bond in edges:
                if bond == via or not atoms >> other & 1:
                    continue
                if other in order:
                    low[node] = min(low[node], order[other])
                    continue
                order[other] = low[other] = len(order)
                subtree[other] = 1 << other
                stack.append((other, bond, iter(self.neighbours[other])))
                break
            else:
                stack.pop()
                if stack:
                    parent = stack[-1][0]
                    low[parent] = min(low[parent], low[node])
                    subtree[parent] |= subtree[node]
                    if low[node] > order[parent]:
                        found.append((via, subtree[node]))
        return found

    def hanging(self, atoms: int, ring: tuple[tuple[int, ...], tuple[int, ...]]) -> list[int]:
        """Per atom v_k of the ring, the atoms of `atoms` it reaches without the ring's bonds
        (the same set for ring atoms joined another way, as in fused rings)."""
        bonds, ring_atoms = ring
        removed = frozenset(bonds)
        reach: dict[int, int] = {}
        for v in ring_atoms:
            if v not in reach:
                part = self.component(v, atoms, removed)
                reach.update((w, part) for w in ring_atoms if part >> w & 1)
        return [reach[v] for v in ring_atoms]

    def ring_cuts(self, atoms: int, ring: tuple[tuple[int, ...], tuple[int, ...]]) -> set[int]:
        """Both sides of each pair of the ring's bonds whose loss splits the piece. Without
        b_i and b_j the ring falls into the arcs v_i+1..v_j and the rest; each arc takes what
        its atoms reach without the ring, and the piece splits where the two share no atom."""
        hang = self.hanging(atoms, ring)
        r = len(hang)
        before = [0] * (r + 1)  # before[k]: what v_0..v_k-1 reach
        after = [0] * (r + 1)  # after[k]: what v_k..v_r-1 reach
        for k in range(r):
            before[k + 1] = before[k] | hang[k]
            after[r - 1 - k] = after[r - k] | hang[r - 1 - k]
        out: set[int] = set()
        for i in range(r):
            arc = 0
            for j in range(i + 1, r):
                arc |= hang[j]
                if not arc & (after[j + 1] | before[i + 1]):
                    out.update((arc, atoms & ~arc))
        return out

    def pieces(self, atoms: int) -> set[int]:
        """Every piece one cleavage step cuts out of the connected piece `atoms`: both sides of
        each bond whose loss splits it, and of each pair of bonds of one ring that does."""
        out: set[int] = set()
        bridges = self.bridges(atoms)
        for _, side in bridges:
            out.update((side, atoms & ~side))
        inside = set(self.inner_bonds(atoms))
        for ring in self.rings:  # a whole ring's bonds are never bridges
            if inside.issuperset(ring[0]):
                out |= self.ring_cuts(atoms, ring)
        return out

    def fragment_table(self, pieces: list[int], steps: list[int]) -> list[Fragment]:
        """The pieces as Fragments: their atoms' masses summed and the bonds they cut counted
        for all pieces at once (one row of atom flags per piece)."""
        inside = atom_rows(pieces, self.n)
        mass = np.where(inside, self.mass, 0.0).sum(axis=1)
        cut = np.count_nonzero(inside[:, self.ends[:, 0]] != inside[:, self.ends[:, 1]], axis=1)
        return [
            Fragment(p, float(m), int(c), s)
            for p, m, c, s in zip(pieces, mass.tolist(), cut.tolist(), steps, strict=True)
        ]


def atom_rows(pieces: Sequence[int], n: int) -> np.ndarray:
    """(pieces, n) flags: row r says which of the molecule's n atoms piece r holds (bit i of
    its atom bits = atom i)."""
    width = (n + 7) // 8
    raw = b"".join(p.to_bytes(width, "little") for p in pieces)
    rows = np.frombuffer(raw, np.uint8).reshape(len(pieces), width)
    return np.unpackbits(rows, axis=1, bitorder="little")[:, :n].astype(bool)


def hill_formula(counts: Counter) -> str:
    """C first, then H, then the rest alphabetically (Hill order); no C: all alphabetical."""
    order = sorted(counts)
    if counts.get("C"):
        order = ["C", "H"] + sorted(e for e in counts if e not in ("C", "H"))
    return "".join(f"{e}{counts[e] if counts[e] > 1 else ''}" for e in order if counts.get(e))


def fragments(mol: Chem.Mol, depth: int = 2) -> list[Fragment]:
    """The molecule and every piece cleavage cuts out of it in up to `depth` steps (each
    piece once, at the fewest steps). Explicit hydrogens are folded into their atoms."""
    mol = Chem.RemoveHs(mol)
    graph = _Graph(mol)
    whole = (1 << graph.n) - 1
    if graph.n > MAX_ATOMS:
        depth = min(depth, 1)
    steps_of = {whole: 0}
    frontier = [whole]
    for step in range(1, depth + 1):
        found = []
        for piece in frontier:
            for child in graph.pieces(piece):
                if child not in steps_of and len(steps_of) < MAX_PIECES:
                    steps_of[child] = step
                    found.append(child)
        frontier = found
    return graph.fragment_table(list(steps_of), list(steps_of.values()))


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


def fragment_ions(pieces: list[Fragment], adduct: str) -> FragmentIons:
    """Every even-electron ion of every fragment but the whole molecule, sorted by m/z."""
    carrier = fragment_adduct(adduct)
    of_cut = {c: list(shifts(c)) for c in {f.cut_bonds for f in pieces if f.cut_bonds}}
    fragment = [n for n, f in enumerate(pieces) if f.cut_bonds for _ in of_cut[f.cut_bonds]]
    shift = np.array([h for f in pieces if f.cut_bonds for h in of_cut[f.cut_bonds]], dtype=int)
    fragment = np.array(fragment, dtype=int)
    mass = np.array([f.mass for f in pieces], dtype=float)[fragment]
    cut = np.array([f.cut_bonds for f in pieces], dtype=float)[fragment]
    mz = carrier.mz(mass + shift * HYDROGEN)
    order = np.argsort(mz, kind="stable")
    cost = BOND_PENALTY * cut + np.abs(shift)
    return FragmentIons(mz[order], cost[order].astype(float), fragment[order], shift[order])
