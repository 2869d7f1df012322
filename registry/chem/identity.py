"""Chemistry helpers: any identifier -> canonical identity (RDKit), fingerprints, adduct masses."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from rdkit import Chem, RDLogger
from rdkit.Chem import rdFingerprintGenerator, rdMolDescriptors

RDLogger.DisableLog("rdApp.*")

INCHIKEY_RE = re.compile(r"^[A-Z]{14}-[A-Z]{10}-[A-Z]$")
FINGERPRINT_BITS = 2048


class InvalidStructureError(ValueError):
    """A structure string that RDKit cannot turn into a molecule, or one that contradicts itself."""


@dataclass(frozen=True, slots=True)
class Identity:
    """A compound's identity as the registry stores it (InChIKey is the key everywhere)."""

    inchikey: str
    inchi: str
    smiles: str
    formula: str
    monoisotopic_mass: float


def mol_from_identifier(text: str) -> Chem.Mol:
    """Parse SMILES, InChI or a Molfile block into an RDKit molecule, or raise InvalidStructureError."""
    if "M  END" not in text:
        text = text.strip()
    if not text.strip():
        raise InvalidStructureError("empty structure")
    if text.startswith("1S/"):
        text = "InChI=" + text  # tables often drop the InChI= prefix
    if text.startswith("InChI="):
        mol = Chem.MolFromInchi(text, sanitize=True, removeHs=True)
        kind = "InChI"
    elif "M  END" in text:
        mol = Chem.MolFromMolBlock(text)
        kind = "Molfile"
    elif INCHIKEY_RE.match(text):
        raise InvalidStructureError(f"an InChIKey ({text}) names but does not describe a structure")
    else:
        mol = Chem.MolFromSmiles(text)
        kind = "SMILES"
    if mol is None or mol.GetNumAtoms() == 0:
        shown = text if len(text) <= 80 else text[:77] + "..."
        raise InvalidStructureError(f"RDKit cannot parse {kind} {shown!r}")
    return mol


def identity_from_mol(mol: Chem.Mol) -> Identity:
    """Canonical SMILES, InChI, InChIKey, formula and monoisotopic mass of a molecule."""
    smiles = Chem.MolToSmiles(mol)
    if any(atom.GetAtomicNum() == 0 for atom in mol.GetAtoms()):
        raise InvalidStructureError(
            f"{smiles!r} has wildcard/R-group atoms (*): a Markush or partial structure, "
            "not one compound"
        )
    inchi = Chem.MolToInchi(mol)
    inchikey = Chem.InchiToInchiKey(inchi) if inchi else ""
    if not inchikey:
        raise InvalidStructureError(f"RDKit cannot compute an InChIKey for {smiles!r}")
    return Identity(
        inchikey=inchikey,
        inchi=inchi,
        smiles=smiles,
        formula=rdMolDescriptors.CalcMolFormula(mol),
        monoisotopic_mass=rdMolDescriptors.CalcExactMolWt(mol),
    )


@lru_cache(maxsize=200_000)
def identify(text: str) -> Identity:
    """Identity of a SMILES/InChI/Molfile string (cached: spectra repeat their compound)."""
    return identity_from_mol(mol_from_identifier(text))


def check_inchikey(identity: Identity, given: str | None) -> None:
    """Raise when a record's own InChIKey names another skeleton than its structure.

    Only the first block (connectivity) is compared: stereo and protonation layers of
    supplied keys often differ from RDKit's for the same compound (MassBank: ~9 % of records).
    """
    if not given:
        return
    given = given.strip().upper()
    if not INCHIKEY_RE.match(given):
        raise InvalidStructureError(f"given InChIKey {given!r} is not a valid InChIKey")
    if given[:14] != identity.inchikey[:14]:
        raise InvalidStructureError(
            f"given InChIKey {given} disagrees with the structure (RDKit: {identity.inchikey})"
        )


# The report's RDKit path fingerprint. Its parameters happen to equal RDKit's defaults; they
# are spelled out so a change of defaults cannot silently change stored fingerprints. The
# generator gives the same bits as Chem.RDKFingerprint (tested), faster (bench/fingerprints.py).
_RDKIT_PATHS = rdFingerprintGenerator.GetRDKitFPGenerator(
    minPath=1,
    maxPath=7,
    useHs=True,
    branchedPaths=True,
    useBondOrder=True,
    fpSize=FINGERPRINT_BITS,
    numBitsPerFeature=2,
)


def fingerprint_bits(smiles: str) -> str:
    """The report's RDKit path fingerprint as a '0101...' string for a pgvector bit(2048)."""
    mol = Chem.MolFromSmiles(smiles)
    if mol is None:
        raise InvalidStructureError(f"RDKit cannot parse SMILES {smiles!r}")
    return _RDKIT_PATHS.GetFingerprint(mol).ToBitString()


def identify_fingerprinted(text: str) -> tuple[Identity, str]:
    """Identity and fingerprint bits from one parse of a structure string (not cached: for
    structure libraries, whose structures are each new). The bits equal fingerprint_bits of
    the canonical SMILES, which registry.ingest.fingerprints fills from (tested on the shared data)."""
    mol = mol_from_identifier(text)
    return identity_from_mol(mol), _RDKIT_PATHS.GetFingerprint(mol).ToBitString()


_FORMULA_PART = re.compile(r"([A-Z][a-z]?)(\d*)")


def hill_formula(text: str) -> str:
    """A typed molecular formula in Hill order, as the registry stores formulas (RDKit's):
    carbon, hydrogen, then the other elements alphabetically ('H6C6' -> 'C6H6'). Raises
    ValueError for anything that is not element symbols with counts ('C6H6Xx!', 'c6h6')."""
    formula = text.strip()
    parts = _FORMULA_PART.findall(formula)
    if not parts or "".join(e + n for e, n in parts) != formula:
        raise ValueError(f"formula {text!r}: give element symbols and counts, e.g. C8H10N4O2")
    table = Chem.GetPeriodicTable()
    counts: dict[str, int] = {}
    for element, number in parts:
        try:
            known = table.GetAtomicNumber(element) > 0
        except RuntimeError:
            known = False
        if not known:
            raise ValueError(f"formula {text!r}: {element!r} is not an element")
        counts[element] = counts.get(element, 0) + (int(number) if number else 1)
    if any(n == 0 for n in counts.values()):
        raise ValueError(f"formula {text!r}: an element with count 0")
    order = [e for e in ("C", "H") if e in counts and "C" in counts]
    order += sorted(e for e in counts if e not in order)
    return "".join(e + (str(counts[e]) if counts[e] > 1 else "") for e in order)
