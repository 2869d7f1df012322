"""The registry's HNSW indexes during bulk loads: dropped when a load brings many rows, rebuilt
once at its end. Inserting a row under an HNSW index costs a graph search; building the index
afresh costs a fraction of that per row, so a load of more than about a tenth of the table is
faster without it (measured: docs/SCALING.md, section 3). The drop and the rebuild happen in
the caller's transaction: a failed load rolls both back, and searches wait for the commit."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import text
from sqlalchemy.orm import Session

BULK_MIN_ROWS = 50_000
BULK_SHARE = 0.1
BUILD_MEMORY = "2GB"  # an HNSW build that fits in maintenance_work_mem is several times faster


@dataclass
class BulkLoad:
    """The indexes one load has dropped (name -> definition), to rebuild at its end; `bulk`
    once the load has been found to be one (there may have been no index to drop)."""

    table: str = "compound"
    rows_before: float | None = None
    bulk: bool = False
    dropped: dict[str, str] = field(default_factory=dict)


def hnsw_indexes(session: Session, table: str) -> dict[str, str]:
    """Name -> definition of the table's HNSW indexes."""
    rows = session.execute(
        text(
            "SELECT indexname, indexdef FROM pg_indexes "
            "WHERE tablename = :t AND indexdef LIKE '%USING hnsw%'"
        ),
        {"t": table},
    ).all()
    return dict(rows)


def is_bulk(new_rows: int, rows_before: float) -> bool:
    """Whether a load of `new_rows` into a table of `rows_before` rows should drop its HNSW
    indexes: more than BULK_MIN_ROWS and more than BULK_SHARE of what the table held."""
    return new_rows > max(BULK_MIN_ROWS, BULK_SHARE * rows_before)


def make_room(session: Session, load: BulkLoad, new_rows: int) -> None:
    """Drop the table's HNSW indexes once this load's new rows make it a bulk load."""
    if load.bulk:
        return
    if load.rows_before is None:
        load.rows_before = max(
            0.0,
            session.execute(
                text("SELECT reltuples FROM pg_class WHERE relname = :t"), {"t": load.table}
            ).scalar_one(),
        )
    if not is_bulk(new_rows, load.rows_before):
        return
    load.bulk = True
    load.dropped = hnsw_indexes(session, load.table)
    for name in load.dropped:
        session.execute(text(f'DROP INDEX "{name}"'))


def restore(session: Session, load: BulkLoad) -> list[str]:
    """Rebuild what make_room dropped; returns the names rebuilt."""
    if not load.dropped:
        return []
    session.execute(text(f"SET LOCAL maintenance_work_mem = '{BUILD_MEMORY}'"))
    for definition in load.dropped.values():
        session.execute(text(definition))
    rebuilt, load.dropped = list(load.dropped), {}
    return rebuilt
