"""In-silico fragmentation by bond disconnection, after MetFrag's combinatorial fragmenter
(Wolf et al. 2010; Ruttkies et al. 2016): every connected piece left by breaking one bond that
holds the piece together, or two bonds of one ring, repeated to `depth` steps. Each piece keeps
its atoms, formula, neutral mass and the bonds that tie it to the rest of the molecule; its ions
(`fragment_ions`) carry the adduct's charge and the hydrogen shifts of an even-electron ion."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np
from rdkit import Chem

from registry.chem.adducts import ELEMENTS, Adduct, parse_adduct

HYDROGEN = ELEMENTS["H"]
BOND_PENALTY = 3.5  # per bond the fragment's boundary cuts, as in the trial of MetFrag
MAX_SHIFT = 2  # hydrogens moved to or from a fragment (MetFrag: up to the bonds cut)
MAX_ATOMS = 120  # heavy atoms: larger structures are fragmented one step deep only
MAX_PIECES = 20_000  # stop widening the search past this many distinct pieces


@dataclass(frozen=True)
class Fragment:
    """A connected piece of the molecule: its heavy atoms (bit i = atom i), neutral
    monoisotopic mass with the hydrogens those atoms carry, the bonds between it and the rest
    of the molecule, and the cleavage steps that first cut it out."""

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
        self.rings = [tuple(r) for r in mol.GetRingInfo().BondRings()]

    def mask(self, atoms: int) -> np.ndarray:
        raw = np.frombuffer(atoms.to_bytes((self.n + 7) // 8, "little"), np.uint8)
        return np.unpackbits(raw, bitorder="little")[: self.n].astype(bool)

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

    def pieces(self, atoms: int) -> set[int]:
        """Every piece one cleavage step cuts out of the connected piece `atoms`: both sides of
        each bond whose loss splits it, and of each pair of bonds of one ring that does."""
        out: set[int] = set()
        bridges = self.bridges(atoms)
        for _, side in bridges:
            out.update((side, atoms & ~side))
        split = {bond for bond, _ in bridges}
        inside = set(self.inner_bonds(atoms))
        for ring in self.rings:
            if not inside.issuperset(ring) or split.intersection(ring):
                continue
            for i, first in enumerate(ring):
                for second in ring[i + 1 :]:
                    a = self.bonds[first][0]
                    side = self.component(a, atoms, frozenset((first, second)))
                    if side != atoms:
                        out.update((side, atoms & ~side))
        return out

    def fragment(self, atoms: int, steps: int) -> Fragment:
        inside = self.mask(atoms)
        cut = int(np.count_nonzero(inside[self.ends[:, 0]] != inside[self.ends[:, 1]]))
        return Fragment(atoms, float(self.mass[inside].sum()), cut, steps)


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
    return [graph.fragment(atoms, steps) for atoms, steps in steps_of.items()]


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
    rows = [
        (carrier.mz(f.mass + h * HYDROGEN), BOND_PENALTY * f.cut_bonds + abs(h), n, h)
        for n, f in enumerate(pieces)
        if f.cut_bonds
        for h in shifts(f.cut_bonds)
    ]
    if not rows:
        empty = np.zeros(0)
        return FragmentIons(empty, empty, empty.astype(int), empty.astype(int))
    table = np.array(rows)
    order = np.argsort(table[:, 0], kind="stable")
    table = table[order]
    return FragmentIons(table[:, 0], table[:, 1], table[:, 2].astype(int), table[:, 3].astype(int))
