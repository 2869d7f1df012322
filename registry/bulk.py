"""Bulk inserts by COPY: rows go into a temporary table, then one INSERT ... ON CONFLICT DO
NOTHING ... RETURNING moves them. Profiled on MGF ingest: psycopg's parsing of multi-row INSERT
statements with tens of thousands of placeholders cost as much as the server's own work."""

from __future__ import annotations

from typing import Any

import numpy as np
from psycopg.types.json import Jsonb
from sqlalchemy import Table
from sqlalchemy.orm import Session

from registry.embeddings import vector_literal


def _copy_value(value: Any) -> Any:
    if isinstance(value, dict):
        return Jsonb(value)
    if isinstance(value, np.ndarray):  # pgvector columns
        return vector_literal(value)
    return value


def copy_insert(
    session: Session,
    table: Table,
    rows: list[dict[str, Any]],
    conflict: list[str],
    returning: list[str],
) -> list[tuple]:
    """Insert rows (all with the same keys) in the session's transaction, skipping those that
    clash on the `conflict` columns; returns the `returning` columns of the rows inserted."""
    if not rows:
        return []
    columns = list(rows[0])
    names = ", ".join(f'"{c}"' for c in columns)
    stage = f"_stage_{table.name}"
    raw = session.connection().connection.driver_connection
    with raw.cursor() as cursor:
        cursor.execute(
            f"CREATE TEMP TABLE {stage} ON COMMIT DROP AS "
            f"SELECT {names} FROM {table.name} WITH NO DATA"
        )
        with cursor.copy(f"COPY {stage} ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row([_copy_value(row[c]) for c in columns])
        cursor.execute(
            f"INSERT INTO {table.name} ({names}) SELECT {names} FROM {stage} "
            f"ON CONFLICT ({', '.join(conflict)}) DO NOTHING RETURNING {', '.join(returning)}"
        )
        inserted = cursor.fetchall()
        cursor.execute(f"DROP TABLE {stage}")
    return inserted
