"""Adduct arithmetic: neutral monoisotopic mass <-> ion m/z for any '[nM+X-Y]z±' adduct."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache

ELECTRON = 0.000548580
PROTON = 1.007276467
ELEMENTS = {
    "H": 1.00782503,
    "C": 12.0,
    "N": 14.00307401,
    "O": 15.99491462,
    "Na": 22.98976928,
    "K": 38.96370649,
    "Li": 7.01600344,
    "Cl": 34.96885268,
    "Br": 78.9183371,
    "F": 18.99840316,
    "S": 31.97207117,
    "P": 30.97376199,
    "I": 126.904473,
    "Si": 27.97692653,
    "Ca": 39.96259086,
    "Fe": 55.93493633,
    "Mg": 23.9850417,
    "Ag": 106.905097,
    "Cu": 62.9295989,
    "Zn": 63.9291422,
    "Rb": 84.91178974,
    "Cs": 132.90545196,
}
ABBREVIATIONS = {
    "FA": "CH2O2",
    "HCOOH": "CH2O2",
    "HCOO": "CHO2",
    "HCO2": "CHO2",
    "Hac": "C2H4O2",
    "CH3COOH": "C2H4O2",
    "CH3COO": "C2H3O2",
    "OAc": "C2H3O2",
    "ACN": "C2H3N",
    "CH3CN": "C2H3N",
    "MeOH": "CH4O",
    "CH3OH": "CH4O",
    "TFA": "C2HF3O2",
    "DMSO": "C2H6OS",
    "IsoProp": "C3H8O",
}
# Charges of the ions an adduct term may add or remove (everything else is neutral).
_ION_CHARGES = {
    **dict.fromkeys(("H", "Na", "K", "Li", "NH4", "Ag", "Cu", "Rb", "Cs"), 1),
    **dict.fromkeys(("Cl", "Br", "I", "HCOO", "HCO2", "CHO2", "CH3COO", "C2H3O2", "OAc"), -1),
}
# Canonical spellings for adducts that have several in the wild.
_ALIASES = {
    "[M+HCOO]-": "[M+FA-H]-",
    "[M+CHO2]-": "[M+FA-H]-",
    "[M+HCO2]-": "[M+FA-H]-",
    "[M+FA]-": "[M+FA-H]-",
    "[M+HCOOH-H]-": "[M+FA-H]-",
    "[M+H2CO2-H]-": "[M+FA-H]-",
    "[M-H+CH2O2]-": "[M+FA-H]-",
    "[M-H+HCOOH]-": "[M+FA-H]-",
    "[M+CH3COO]-": "[M+Hac-H]-",
    "[M+C2H3O2]-": "[M+Hac-H]-",
    "[M+OAc]-": "[M+Hac-H]-",
    "[M+CH3COOH-H]-": "[M+Hac-H]-",
    "[M-H+CH3COOH]-": "[M+Hac-H]-",
    "[M-H2O+H]+": "[M+H-H2O]+",
    "[M-2H2O+H]+": "[M+H-2H2O]+",
    "[M+CH3CN+H]+": "[M+ACN+H]+",
    "[M+]+": "[M]+",
    "[M]+*": "[M]+",
    "[M+.]+": "[M]+",
    "[M]+.": "[M]+",  # radical cations, as CCS compendia write them
    "[M+dot]+": "[M]+",
    "[M-]-": "[M]-",
    "[M]-*": "[M]-",
    "[M-e]+": "[M]+",
}
_ADDUCT_RE = re.compile(r"^\[?(\d*)M((?:[+-][A-Za-z0-9]+)*)\]?(\d*)([+-]+)\*?$")
_TERM_RE = re.compile(r"([+-])(\d*)([A-Za-z][A-Za-z0-9]*)")
_FORMULA_RE = re.compile(r"([A-Z][a-z]?)(\d*)")


class UnknownAdductError(ValueError):
    """An adduct string molvis cannot turn into a mass shift."""


@dataclass(frozen=True, slots=True)
class Adduct:
    """An adduct as ``m/z = (n_molecules * M + mass_shift) / |charge|``."""

    name: str
    n_molecules: int
    mass_shift: float
    charge: int

    def mz(self, neutral_mass: float) -> float:
        return (self.n_molecules * neutral_mass + self.mass_shift) / abs(self.charge)

    def neutral_mass(self, mz: float) -> float:
        return (mz * abs(self.charge) - self.mass_shift) / self.n_molecules

    @property
    def ion_mode(self) -> str:
        return "positive" if self.charge > 0 else "negative"


def formula_mass(formula: str) -> float:
    """Monoisotopic mass of a formula or abbreviation ('H2O', 'FA', 'C6H10O5')."""
    formula = ABBREVIATIONS.get(formula, formula)
    parts = _FORMULA_RE.findall(formula)
    if not parts or "".join(e + n for e, n in parts) != formula:
        raise UnknownAdductError(f"cannot read formula {formula!r}")
    mass = 0.0
    for element, number in parts:
        if element not in ELEMENTS:
            raise UnknownAdductError(f"unknown element {element!r} in {formula!r}")
        mass += ELEMENTS[element] * (int(number) if number else 1)
    return mass


def adduct_atoms(adduct: str) -> Counter:
    """The atoms one molecule's ion gains (positive counts) or loses (negative) under an
    adduct: '[M+H]+' {H: 1}, '[M-H]-' {H: -1}, '[M+FA-H]-' {C: 1, H: 1, O: 2}."""
    name = parse_adduct(adduct).name
    match = _ADDUCT_RE.match(name)
    atoms: Counter = Counter()
    for sign, count, formula in _TERM_RE.findall(match.group(2) if match else ""):
        times = (1 if sign == "+" else -1) * (int(count) if count else 1)
        for element, number in _FORMULA_RE.findall(ABBREVIATIONS.get(formula, formula)):
            atoms[element] += times * (int(number) if number else 1)
    return atoms


def _canonical(text: str) -> str:
    t = text.strip().replace(" ", "")
    if not t.startswith("["):
        t = "[" + t if "]" in t else f"[{t}]" if not t.endswith(("+", "-")) else t
    match = re.match(r"^(\[[^\]]*\])(\d*)([+-]+)(\*?)$", t)
    if match:
        body, number, signs, _ = match.groups()
        charge = int(number) if number else len(signs)
        t = f"{body}{charge if charge > 1 else ''}{signs[0]}"
    return _ALIASES.get(t, t)


@lru_cache(maxsize=4096)
def parse_adduct(text: str) -> Adduct:
    """Adduct from its usual notation; raises UnknownAdductError when it cannot be read."""
    name = _canonical(text)
    match = _ADDUCT_RE.match(name)
    if not match:
        raise UnknownAdductError(f"cannot read adduct {text!r} (expected e.g. [M+H]+)")
    n_text, terms, charge_text, signs = match.groups()
    charge = (int(charge_text) if charge_text else 1) * (1 if signs[0] == "+" else -1)
    shift = 0.0
    for sign, count, formula in _TERM_RE.findall(terms):
        shift += (1 if sign == "+" else -1) * (int(count) if count else 1) * formula_mass(formula)
    shift -= charge * ELECTRON
    return Adduct(name, int(n_text) if n_text else 1, shift, charge)


def _net_charge(body: str) -> int:
    """The charge a sign-less adduct implies: +1 per proton or metal ion gained, -1 per proton
    lost or anion gained; neutral losses and gains (H2O, FA, ACN, ...) count nothing."""
    return sum(
        (1 if sign == "+" else -1) * (int(count) if count else 1) * _ION_CHARGES.get(formula, 0)
        for sign, count, formula in _TERM_RE.findall(body)
    )


def normalize_adduct(text: str | None) -> str | None:
    """Canonical adduct name for common spellings ('M+H', '[M-H]', '[M+HCOO]-'), else None. An
    adduct written without its charge gets the one its terms imply ('[M-H]' is [M-H]-)."""
    if not text or not text.strip():
        return None
    try:
        return parse_adduct(text).name
    except UnknownAdductError:
        pass
    if re.search(r"[+-]\s*\*?$", text.strip()):
        return None  # it has a charge, and still cannot be read
    body = text.strip().strip("[]").replace(" ", "")
    net = _net_charge(body)
    if net == 0:
        return None
    charge = f"{abs(net) if abs(net) > 1 else ''}{'+' if net > 0 else '-'}"
    try:
        return parse_adduct(f"[{body}]{charge}").name
    except UnknownAdductError:
        return None


def neutral_mass(precursor_mz: float | None, adduct: str | None) -> float | None:
    """Neutral monoisotopic mass implied by a precursor m/z and adduct: the one helper every
    caller uses. None when either is missing or the adduct is not one molvis can compute."""
    if not precursor_mz or not adduct:
        return None
    try:
        return parse_adduct(adduct).neutral_mass(precursor_mz)
    except UnknownAdductError:
        return None


COMMON_ADDUCTS = {
    "positive": ("[M+H]+", "[M+Na]+", "[M+NH4]+", "[M+K]+", "[M]+", "[M+H-H2O]+"),
    "negative": ("[M-H]-", "[M+FA-H]-", "[M+Cl]-", "[M+Hac-H]-", "[M]-"),
}


def infer_adduct(
    precursor_mz: float, mass: float, ion_mode: str | None, ppm: float = 20.0
) -> str | None:
    """The common adduct whose m/z matches the precursor within `ppm`, if exactly one does."""
    modes = [ion_mode] if ion_mode in COMMON_ADDUCTS else list(COMMON_ADDUCTS)
    hits = [
        a
        for mode in modes
        for a in COMMON_ADDUCTS[mode]
        if abs(parse_adduct(a).mz(mass) - precursor_mz) <= precursor_mz * ppm * 1e-6
    ]
    return hits[0] if len(hits) == 1 else None
