"""The ingest runs the registry recorded, read back in order, and the active model with its
vector count (the Dagster sensor that reports command-line work as materializations reads
them)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.orm import Session


@dataclass(frozen=True)
class RecordedRun:
    """One loaded file: its run id, kind, path, source and counts."""

    id: int
    kind: str
    file_path: str
    source: str
    inserted: int
    duplicates: int
    rejected: int
    finished_at: datetime | None


def loaded_runs_after(session: Session, last_id: int, limit: int = 500) -> list[RecordedRun]:
    """Loaded ingest runs with an id above `last_id`, oldest first, at most `limit`."""
    rows = session.execute(
        text("""SELECT r.id, r.kind, r.file_path, s.name AS source, r.inserted, r.duplicates,
                       r.rejected, r.finished_at
                FROM ingest_run r JOIN source s ON s.id = r.source_id
                WHERE r.id > :last AND r.status = 'loaded' ORDER BY r.id LIMIT :n"""),
        {"last": last_id, "n": limit},
    )
    return [RecordedRun(*r) for r in rows]


@dataclass(frozen=True)
class ActiveModel:
    """The active model as the registry holds it: name, version, when it was registered and
    how many structure vectors it has."""

    name: str
    version: str
    created_at: datetime
    structure_embeddings: int

    @property
    def state(self) -> str:
        return f"{self.name}@{self.version}#{self.structure_embeddings}"


def active_model(session: Session) -> ActiveModel | None:
    row = session.execute(
        text("""SELECT name, version, created_at, structure_embeddings FROM model
                WHERE is_active LIMIT 1""")
    ).first()
    return None if row is None else ActiveModel(*row)
