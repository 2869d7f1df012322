"""Integrity counts of the registry (the Dagster asset checks report them; zero is healthy)."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session

from registry.read.measurements import TABLES


def _count(session: Session, sql: str, **params) -> int:
    return int(session.execute(text(sql), params).scalar_one())


def malformed_inchikeys(session: Session) -> int:
    return _count(
        session, "SELECT count(*) FROM compound WHERE inchikey !~ '^[A-Z]{14}-[A-Z]{10}-[A-Z]$'"
    )


def duplicate_inchikeys(session: Session) -> int:
    return _count(session, "SELECT count(*) - count(DISTINCT inchikey) FROM compound")


def compounds_without_fingerprint(session: Session) -> int:
    return _count(session, "SELECT count(*) FROM compound WHERE fingerprint IS NULL")


def orphan_measurements(session: Session) -> int:
    """Measurements whose compound or ingest run is gone."""
    return sum(
        _count(
            session,
            f"""SELECT count(*) FROM {table} t
            WHERE NOT EXISTS (SELECT 1 FROM compound c WHERE c.id = t.compound_id)
               OR NOT EXISTS (SELECT 1 FROM ingest_run r WHERE r.id = t.run_id)""",
        )
        for table in TABLES.values()
    )


def compounds_without_embedding(session: Session, model_id: int) -> int:
    return _count(
        session,
        """SELECT count(*) FROM compound c WHERE NOT EXISTS (
             SELECT 1 FROM structure_embedding e WHERE e.model_id = :m AND e.compound_id = c.id)""",
        m=model_id,
    )


def malformed_embeddings(session: Session, model_id: int, dims: int = 256) -> int:
    """Structure vectors of the wrong width or not of unit length."""
    return _count(
        session,
        """SELECT count(*) FROM structure_embedding WHERE model_id = :m
             AND (vector_dims(embedding) <> :dims
                  OR NOT (vector_norm(embedding) BETWEEN 0.99 AND 1.01))""",
        m=model_id,
        dims=dims,
    )
