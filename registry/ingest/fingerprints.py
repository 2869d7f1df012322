"""Fingerprints of compounds: filled for every compound that lacks one (idempotent)."""

from __future__ import annotations

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from registry.chem.identity import fingerprint_bits
from registry.db.schema import Compound


def fill_missing(session: Session, batch_size: int = 5000) -> int:
    """Compute the report's RDKit fingerprint for compounds without one; returns how many."""
    done = 0
    while True:
        rows = session.execute(
            select(Compound.id, Compound.smiles)
            .where(Compound.fingerprint.is_(None))
            .order_by(Compound.id)
            .limit(batch_size)
        ).all()
        if not rows:
            return done
        session.execute(
            text(
                "UPDATE compound c SET fingerprint = CAST(v.fp AS bit(2048)) "
                "FROM unnest(CAST(:ids AS bigint[]), CAST(:fps AS text[])) AS v(id, fp) "
                "WHERE c.id = v.id"
            ),
            {"ids": [cid for cid, _ in rows], "fps": [fingerprint_bits(s) for _, s in rows]},
        )
        done += len(rows)
