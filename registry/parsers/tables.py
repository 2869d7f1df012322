"""Delimited tables (CSV/TSV) read as strings with pandas, columns found by name."""

from __future__ import annotations

import io
from collections.abc import Iterable

import pandas as pd

from registry.parsers import ParseError
from registry.sources import TextMember


def read_table(member: TextMember) -> pd.DataFrame:
    """All cells as stripped strings ('' when empty); separator from the name or sniffed."""
    text = member.text
    if not text.strip():
        raise ParseError(member.name, "empty file", 1)
    name = member.inner_name.lower()
    if name.endswith((".tsv", ".tab")):
        sep = "\t"
    elif name.endswith(".csv"):
        sep = ","
    else:
        header = text.splitlines()[0]
        sep = "\t" if header.count("\t") >= max(1, header.count(",")) else ","
    try:
        table = pd.read_csv(
            io.StringIO(text), sep=sep, dtype=str, keep_default_na=False, on_bad_lines="error"
        )
    except (pd.errors.ParserError, ValueError) as exc:
        raise ParseError(member.name, f"not a readable {sep!r}-separated table: {exc}") from exc
    table.columns = [str(c).strip().lstrip("\ufeff") for c in table.columns]
    return table


def find_column(table: pd.DataFrame, aliases: Iterable[str]) -> str | None:
    """First column whose lower-cased name is one of the aliases."""
    lowered = {c.lower(): c for c in table.columns}
    for alias in aliases:
        if alias in lowered:
            return lowered[alias]
    return None


def parse_column_overrides(text: str | None) -> dict[str, str]:
    """'ccs=CCS_N2,adduct=Ion' -> {'ccs': 'CCS_N2', 'adduct': 'Ion'}."""
    if not text:
        return {}
    overrides: dict[str, str] = {}
    for item in text.split(","):
        field, sep, column = item.partition("=")
        if not sep or not field.strip() or not column.strip():
            raise ValueError(f"--columns item {item!r} is not FIELD=COLUMN")
        overrides[field.strip().lower()] = column.strip()
    return overrides
