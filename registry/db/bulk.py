"""Bulk writes by COPY: rows go into a temporary table, then one INSERT ... ON CONFLICT moves
them. Profiled: psycopg's parsing of multi-row INSERTs with tens of thousands of placeholders
(MGF ingest) and text formatting of 256 floats per vector (embedding backfill) each cost as
much as the rest of the work."""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from psycopg.types.json import Jsonb
from sqlalchemy import Table
from sqlalchemy.orm import Session


def copy_rows(
    session: Session,
    table: str,
    columns: list[str],
    rows: Iterable[Sequence[Any]],
    conflict: list[str],
    on_conflict: str = "DO NOTHING",
    returning: list[str] | None = None,
    binary_types: list[str] | None = None,
) -> list[tuple]:
    """Write rows of `columns` in the session's transaction; rows clashing on the `conflict`
    columns get `on_conflict`. With `binary_types` (PostgreSQL type names) the COPY is binary.
    Returns the `returning` columns of the rows written."""
    names = ", ".join(f'"{c}"' for c in columns)
    stage = f"_stage_{table}"
    binary = " WITH (FORMAT BINARY)" if binary_types else ""
    raw = session.connection().connection.driver_connection
    with raw.cursor() as cursor:
        cursor.execute(
            f"CREATE TEMP TABLE {stage} ON COMMIT DROP AS SELECT {names} FROM {table} WITH NO DATA"
        )
        with cursor.copy(f"COPY {stage} ({names}) FROM STDIN{binary}") as copy:
            if binary_types:
                copy.set_types(binary_types)
            for row in rows:
                copy.write_row(row)
        cursor.execute(
            f"INSERT INTO {table} ({names}) SELECT {names} FROM {stage} "
            f"ON CONFLICT ({', '.join(conflict)}) {on_conflict}"
            + (f" RETURNING {', '.join(returning)}" if returning else "")
        )
        written = cursor.fetchall() if returning else []
        cursor.execute(f"DROP TABLE {stage}")
    return written


_ARRAY_ELEMENTS = {"float8": (701, ">f8"), "float4": (700, ">f4")}


def array_binary(values: np.ndarray, element: str) -> bytes:
    """A 1-d float array in PostgreSQL's binary array form, for a binary COPY into a
    double precision[] ("float8") or real[] ("float4") column declared as bytea: a header,
    then each big-endian value after its length. A text literal costs the writer a repr per
    value and the server a parse per value (30k MS/MS spectra: 0.34 s of reprs against 0.18 s
    here; a COPY of 30k arrays of ~60 random doubles, 1.5 s against 0.2 s)."""
    oid, dtype = _ARRAY_ELEMENTS[element]
    if values.size == 0:
        return struct.pack("!iiI", 0, 0, oid)
    body = np.empty(values.size, dtype=[("length", ">i4"), ("value", dtype)])
    body["length"] = body.dtype["value"].itemsize
    body["value"] = values
    return struct.pack("!iiIii", 1, 0, oid, values.size, 1) + body.tobytes()


def _copy_value(value: Any) -> Any:
    return Jsonb(value) if isinstance(value, dict) else value


def copy_insert(
    session: Session,
    table: Table,
    rows: list[dict[str, Any]],
    conflict: list[str],
    returning: list[str],
    binary_types: dict[str, str] | None = None,
) -> list[tuple]:
    """Insert rows (dicts with the same keys), skipping those that clash on the `conflict`
    columns; returns the `returning` columns of the rows inserted. With `binary_types` (type
    name by column, every column) the COPY is binary and the values come ready for it."""
    if not rows:
        return []
    columns = list(rows[0])
    if binary_types:
        types = [binary_types[c] for c in columns]
        values = ([row[c] for c in columns] for row in rows)
        return copy_rows(
            session, table.name, columns, values, conflict, returning=returning, binary_types=types
        )
    values = ([_copy_value(row[c]) for c in columns] for row in rows)
    return copy_rows(session, table.name, columns, values, conflict, returning=returning)
