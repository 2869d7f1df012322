"""Coarse chemical classes for reporting CCS errors by class (RDKit substructure rules, first
match wins). Sources rarely give a class for every row, and a predictor's error differs most
between such families (lipids fold, PFAS are dense, peptides are large and flexible)."""

from __future__ import annotations

from functools import lru_cache

from rdkit import Chem

_RULES: tuple[tuple[str, str], ...] = (
    ("peptide", "[NX3][CX4][CX3](=O)[NX3][CX4][CX3](=O)"),
    ("steroid", "C1CCC2C(C1)CCC1C2CCC2CCCC12"),
    ("polyfluorinated", "C(F)(F)C(F)(F)"),
    ("lipid / fatty acyl", "[CH2][CH2][CH2][CH2][CH2][CH2][CH2][CH2]"),
    ("carbohydrate / glycoside", "[OX2H][CX4][CX4]([OX2H])[CX4][OX2H]"),
    ("nucleoside / nucleotide", "n1cnc2c1ncnc2"),
    ("halogenated aromatic", "c[Cl,Br,I]"),
    ("N-heteroaromatic", "[n]"),
    ("aromatic", "a"),
)
_PATTERNS = tuple((name, Chem.MolFromSmarts(smarts)) for name, smarts in _RULES)


@lru_cache(maxsize=100_000)
def chemical_class(smiles: str) -> str:
    """The first class whose substructure the molecule has; 'aliphatic / other' otherwise."""
    mol = Chem.MolFromSmiles(smiles)
    if mol is None:
        return "unparsable"
    for name, pattern in _PATTERNS:
        if mol.HasSubstructMatch(pattern):
            return name
    return "aliphatic / other"


@lru_cache(maxsize=100_000)
def ring_scaffold(smiles: str) -> str:
    """The molecule's Bemis-Murcko ring scaffold as canonical SMILES ('' for an acyclic one or
    an unparsable SMILES): test ions whose scaffold no training ion has are the scaffold split."""
    from rdkit.Chem.Scaffolds import MurckoScaffold

    mol = Chem.MolFromSmiles(smiles)
    if mol is None:
        return ""
    return Chem.MolToSmiles(MurckoScaffold.GetScaffoldForMol(mol))
