"""Fingerprints of compounds: filled for every compound that lacks one (idempotent)."""

from __future__ import annotations

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from registry.chem import fingerprint_bits
from registry.schema import Compound


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
        table = Compound.__table__
        session.execute(
            update(table).where(table.c.id == bindparam("cid")).values(fingerprint=bindparam("fp")),
            [{"cid": cid, "fp": fingerprint_bits(smiles)} for cid, smiles in rows],
        )
        done += len(rows)
