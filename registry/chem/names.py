"""A compound's name as a chemist reads it: library titles such as GNPS's
'Pesticide6_Ethirimol_C11H19N3O_882476 M-H' give their compound name ('Ethirimol'); feature
labels such as 'NPE_269.1647_12.5' (a prefix, an m/z and a retention time) are no name."""

from __future__ import annotations

import re

# collection prefix, the name, the formula, then anything (ids, the adduct)
LIBRARY_TITLE = re.compile(r"^[A-Za-z]+\d*_(?P<name>.+?)_C\d+[A-Za-z0-9]*(?:_.*)?(?:\s.*)?$")
TRAILING_ADDUCT = re.compile(r"\s+\[?M[+-][A-Za-z0-9]*\]?[+-]?$")
FEATURE_LABEL = re.compile(r"^[A-Za-z]*[_ -]?\d+\.\d+[_ @-]+\d+(?:\.\d+)?(?:\s*min)?$")


def display_name(name: str | None) -> str | None:
    """The compound part of a library title; None for a feature label; other names
    unchanged."""
    if not name:
        return name
    if FEATURE_LABEL.match(name.strip()):
        return None
    match = LIBRARY_TITLE.match(name)
    if match:
        return match.group("name").replace("_", " ")
    return TRAILING_ADDUCT.sub("", name)
