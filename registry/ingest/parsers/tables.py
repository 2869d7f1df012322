"""Delimited tables (CSV/TSV) read as strings with pandas, columns found by name."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator

import pandas as pd

from registry.ingest.files import TextMember
from registry.ingest.parsers import ParseError


def read_table(member: TextMember) -> pd.DataFrame:
    """All cells as stripped strings ('' when empty); separator from the name or sniffed."""
    (table,) = table_chunks(member, rows=None)
    return table


def table_chunks(member: TextMember, rows: int | None = 10_000) -> Iterator[pd.DataFrame]:
    """The table `rows` rows at a time (all at once with None), read from the member's stream,
    so a table of millions of rows never sits in memory whole; same cells as `read_table`."""
    first = member.head(1 << 16).lstrip("\r\n").splitlines()[:1]
    if not first or not first[0].strip():
        raise ParseError(member.name, "empty file", 1)
    sep = _separator(member.inner_name.lower(), first[0])
    header = [c.strip().lstrip("\ufeff") for c in next(csv.reader(first, delimiter=sep))]
    doubled = sorted({n for n in header if n and header.count(n) > 1})
    if doubled:
        raise ParseError(
            member.name, f"column {doubled[0]!r} appears more than once in the header", 1
        )
    options = {"sep": sep, "dtype": str, "keep_default_na": False, "on_bad_lines": "error"}
    try:
        with member.stream() as handle:
            if rows is None:
                chunks: Iterable[pd.DataFrame] = [pd.read_csv(handle, **options)]
            else:
                chunks = pd.read_csv(handle, chunksize=rows, **options)
            for table in chunks:
                table.columns = [str(c).strip().lstrip("\ufeff") for c in table.columns]
                yield table
    except (pd.errors.ParserError, ValueError) as exc:
        raise ParseError(member.name, f"not a readable {sep!r}-separated table: {exc}") from exc


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
