"""The ingest runs the registry recorded, read back in order (the Dagster sensor that reports
command-line ingests as materializations reads them) and the active model's name."""

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


def active_model_name(session: Session) -> str | None:
    return session.execute(
        text("SELECT name FROM model WHERE is_active LIMIT 1")
    ).scalar_one_or_none()
