"""Adduct arithmetic: neutral monoisotopic mass <-> ion m/z for the common ESI/APCI adducts."""

from __future__ import annotations

import re
from dataclasses import dataclass

PROTON = 1.007276
ELECTRON = 0.000549


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


# Mass shifts are ion mass minus n*M; cation/anion masses already account for electrons.
# [M+Cl]- adds chloride (the report prints a minus sign there; that is an error).
_ADDUCTS = [
    Adduct("[M+H]+", 1, PROTON, 1),
    Adduct("[M+Na]+", 1, 22.989221, 1),
    Adduct("[M+K]+", 1, 38.963158, 1),
    Adduct("[M+NH4]+", 1, 18.033823, 1),
    Adduct("[M+H-H2O]+", 1, PROTON - 18.010565, 1),
    Adduct("[M+H-2H2O]+", 1, PROTON - 2 * 18.010565, 1),
    Adduct("[M]+", 1, -ELECTRON, 1),
    Adduct("[M+Li]+", 1, 7.015455, 1),
    Adduct("[M+2H]2+", 1, 2 * PROTON, 2),
    Adduct("[M+H+Na]2+", 1, PROTON + 22.989221, 2),
    Adduct("[2M+H]+", 2, PROTON, 1),
    Adduct("[2M+Na]+", 2, 22.989221, 1),
    Adduct("[M+ACN+H]+", 1, 41.026549 + PROTON, 1),
    Adduct("[M-H]-", 1, -PROTON, -1),
    Adduct("[M+Cl]-", 1, 34.969402, -1),
    Adduct("[M+FA-H]-", 1, 46.005479 - PROTON, -1),
    Adduct("[M+Hac-H]-", 1, 60.021129 - PROTON, -1),
    Adduct("[M-H-H2O]-", 1, -PROTON - 18.010565, -1),
    Adduct("[M+Br]-", 1, 78.918885, -1),
    Adduct("[M]-", 1, ELECTRON, -1),
    Adduct("[M-2H]2-", 1, -2 * PROTON, -2),
    Adduct("[2M-H]-", 2, -PROTON, -1),
    Adduct("[M+Na-2H]-", 1, 22.989221 - 2 * PROTON, -1),
]
ADDUCTS: dict[str, Adduct] = {a.name: a for a in _ADDUCTS}

_ALIASES = {
    "[M+HCOO]-": "[M+FA-H]-",
    "[M+CHO2]-": "[M+FA-H]-",
    "[M+FA]-": "[M+FA-H]-",
    "[M+HCOOH-H]-": "[M+FA-H]-",
    "[M+CH3COO]-": "[M+Hac-H]-",
    "[M+C2H3O2]-": "[M+Hac-H]-",
    "[M+OAc]-": "[M+Hac-H]-",
    "[M-H2O+H]+": "[M+H-H2O]+",
    "[M+H-H2O]": "[M+H-H2O]+",
    "[M+CH3CN+H]+": "[M+ACN+H]+",
    "[M+]+": "[M]+",
    "[M]+*": "[M]+",
    "[M+.]+": "[M]+",
    "[M-]-": "[M]-",
}
_BARE = re.compile(r"^\[?([^\]]+?)\]?(\d*[+-])?$")


def normalize_adduct(text: str | None) -> str | None:
    """Canonical adduct name for common spellings ('M+H', '[M+H]', '[M+HCOO]-'), else None."""
    if not text:
        return None
    t = text.strip().replace(" ", "")
    if t in ADDUCTS:
        return t
    if t in _ALIASES:
        return _ALIASES[t]
    match = _BARE.match(t)
    if not match:
        return None
    core, charge = match.group(1), match.group(2)
    candidates = [f"[{core}]{charge}"] if charge else [f"[{core}]+", f"[{core}]-"]
    for candidate in candidates:
        name = _ALIASES.get(candidate, candidate)
        if name in ADDUCTS:
            return name
    return None


def neutral_mass(precursor_mz: float, adduct: str) -> float:
    """Neutral monoisotopic mass implied by a precursor m/z and adduct (KeyError if unknown)."""
    return ADDUCTS[adduct].neutral_mass(precursor_mz)
