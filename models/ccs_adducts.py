"""How an adduct enters the CCS predictor (models/ccs.py): what it is whatever its spelling,
and its composition as input columns, so rare adducts borrow from common ones ([2M+Na]+ shares
what sodium does with [M+Na]+)."""

from __future__ import annotations

from functools import lru_cache

from registry.chem.adducts import UnknownAdductError, adduct_atoms, parse_adduct

# The atoms an adduct's composition columns count (gained > 0, lost < 0); the rest pool in one.
ADDUCT_ELEMENTS = ("H", "C", "N", "O", "Na", "K", "Cl", "S")
ADDUCT_WIDTH = 3 + len(ADDUCT_ELEMENTS) + 1


class CcsInputError(ValueError):
    """A structure or adduct the predictor cannot use (the message says which)."""


def _key(adduct: str) -> tuple:
    """What an adduct is, whatever its spelling: (molecules, charge, atoms gained or lost);
    '[M-H2O-H]-' and '[M-H-H2O]-' are one key. Raises CcsInputError for an unreadable one."""
    try:
        parsed = parse_adduct(adduct)
        atoms = adduct_atoms(adduct)
    except UnknownAdductError as exc:
        raise CcsInputError(str(exc)) from None
    return parsed.n_molecules, parsed.charge, tuple(sorted((k, v) for k, v in atoms.items() if v))


def _composition(adduct: str) -> tuple[float, ...]:
    """The adduct's columns: molecules - 1, charge, |charge| - 1, each ADDUCT_ELEMENTS atom
    gained or lost, and the other atoms' count (absolute) in one."""
    molecules, charge, atoms = adduct_key(adduct)
    counts = dict(atoms)
    other = sum(abs(v) for k, v in counts.items() if k not in ADDUCT_ELEMENTS)
    columns = [molecules - 1, charge, abs(charge) - 1]
    return tuple(float(c) for c in [*columns, *(counts.get(e, 0) for e in ADDUCT_ELEMENTS), other])


# Memoised (a backfill asks for each compound's adducts); wrapped here rather than decorated
# so that mutation testing reaches the functions themselves (tests clear the caches).
adduct_key = lru_cache(maxsize=4096)(_key)
adduct_composition = lru_cache(maxsize=4096)(_composition)


def readable_key(adduct: str) -> tuple | None:
    """The adduct's key, or None for an adduct that cannot be read (left out of training)."""
    try:
        return adduct_key(adduct)
    except CcsInputError:
        return None


def adduct_index(adducts: tuple[str, ...]) -> dict[tuple, int]:
    """Each known adduct's column by its key, so any spelling of it finds it."""
    return {adduct_key(a): i for i, a in enumerate(adducts)}
