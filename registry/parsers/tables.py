"""Delimited tables (CSV/TSV) read as strings with pandas, columns found by name."""

from __future__ import annotations

import csv
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
    sep = _separator(member.inner_name.lower(), text.splitlines()[0])
    try:
        table = pd.read_csv(
            io.StringIO(text), sep=sep, dtype=str, keep_default_na=False, on_bad_lines="error"
        )
    except (pd.errors.ParserError, ValueError) as exc:
        raise ParseError(member.name, f"not a readable {sep!r}-separated table: {exc}") from exc
    header = [
        c.strip().lstrip("\ufeff") for c in next(csv.reader([text.splitlines()[0]], delimiter=sep))
    ]
    doubled = sorted({n for n in header if n and header.count(n) > 1})
    if doubled:
        raise ParseError(
            member.name, f"column {doubled[0]!r} appears more than once in the header", 1
        )
    table.columns = [str(c).strip().lstrip("\ufeff") for c in table.columns]
    return table


def _separator(name: str, header: str) -> str:
    """Tab for .tsv/.tab; otherwise the header's most frequent of tab, comma and semicolon
    (European spreadsheets save CSV with ';'), comma when there is none."""
    if name.endswith((".tsv", ".tab")):
        return "\t"
    counts = {sep: header.count(sep) for sep in ("\t", ",", ";")}
    best = max(counts, key=lambda sep: counts[sep])
    return best if counts[best] > 0 else ","


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
