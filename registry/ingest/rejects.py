"""Rejected records: what is kept of each (a bounded prefix of its raw text and the reason),
stored once per raw text and reason, and CCS rows and MS/MS spectra that gave only an InChIKey
kept pending until their compound arrives."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from sqlalchemy import Table, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from registry.db.schema import CcsValue, MsmsSpectrum, RejectedRecord
from registry.ingest.measurement_rows import jsonable, measurement_row
from registry.ingest.normalize import precursor_mismatch
from registry.ingest.store import insert_measurements, link_sources

MAX_RAW_TEXT = 20_000  # characters of a rejected record kept for the chemist to read
MAX_REASON = 1_000


PENDING_REASON = "InChIKey {} only, no structure, and no such compound in the registry yet"


# Tables whose rows wait for their compound; a pending row names its table (rows kept before
# MS/MS could wait name none: CCS).
PENDING_TABLES = {t.name: t for t in (CcsValue.__table__, MsmsSpectrum.__table__)}
_BYTES = "$base64"  # a binary COPY value (peaks) inside the pending row's JSON


def pending_fields(item, table: Table | None, run_id: int, source_id: int) -> dict[str, Any]:
    """What a reject keeps to load its record later: a CCS row or MS/MS spectrum that gave only
    an InChIKey whose compound is not in the registry yet (nothing for other rejects)."""
    if item is None or table is None or table.name not in PENDING_TABLES:
        return {"pending_inchikey": None, "pending_row": None}
    row = measurement_row(item.record, None, run_id, source_id, item.inchikey)
    kept = {
        k: {_BYTES: base64.b64encode(v).decode()} if isinstance(v, bytes) else v
        for k, v in row.items()
    }
    return {
        "pending_inchikey": item.inchikey,
        "pending_row": jsonable(kept) | {"table": table.name},
    }


def _stored_row(pending: dict[str, Any], compound_id: int) -> dict[str, Any]:
    """A pending row as its table takes it, against the compound that has arrived."""
    row = {
        k: base64.b64decode(v[_BYTES]) if isinstance(v, dict) and _BYTES in v else v
        for k, v in pending.items()
        if k != "table"
    }
    return row | {"compound_id": compound_id}


def _precursor_problem(pending: dict[str, Any], mass: float) -> str | None:
    """Why a pending MS/MS spectrum's precursor is not its arrived structure's ion (the check
    every spectrum with a structure passes at ingest), or None."""
    if pending.get("table") != "msms_spectrum" or pending.get("precursor_mz") is None:
        return None
    return precursor_mismatch(
        pending["precursor_mz"], pending.get("adduct"), pending.get("instrument_type"), mass
    )


def resolve_pending(session: Session) -> int:
    """Load pending rows whose compound is in the registry now and drop their rejects; a
    spectrum whose precursor is not the compound's ion stays a reject, with that reason."""
    found = session.execute(
        text("""
            SELECT r.id, r.pending_row, c.id AS compound_id, c.monoisotopic_mass
            FROM rejected_record r JOIN compound c ON c.inchikey = r.pending_inchikey
            ORDER BY r.id""")
    ).all()
    ready = []
    for r in found:
        problem = _precursor_problem(r.pending_row, r.monoisotopic_mass)
        if problem is None:
            ready.append(r)
            continue
        session.execute(
            text(
                "UPDATE rejected_record SET reason = :reason, pending_inchikey = NULL, "
                "pending_row = NULL WHERE id = :id"
            ),
            {"reason": kept_reason(problem), "id": r.id},
        )
    if not ready:
        return 0
    for name, table in PENDING_TABLES.items():
        rows = [
            _stored_row(r.pending_row, r.compound_id)
            for r in ready
            if r.pending_row.get("table", "ccs_value") == name
        ]
        insert_measurements(session, table, rows)
        for source_id in {row["source_id"] for row in rows}:
            link_sources(
                session,
                sorted({r["compound_id"] for r in rows if r["source_id"] == source_id}),
                source_id,
            )
    session.execute(
        text("DELETE FROM rejected_record WHERE id = ANY(:ids)"), {"ids": [r.id for r in ready]}
    )
    return len(ready)


def kept_reason(reason: str) -> str:
    """A reject's reason as stored: at most MAX_REASON characters, NUL bytes shown as \\0."""
    return reason.replace("\x00", "\\0")[:MAX_REASON]


def kept_raw_text(raw: str) -> str:
    """What a reject keeps of its record: at most MAX_RAW_TEXT characters (a 50 MB line is not
    stored whole), with its full length said; NUL bytes shown as \\0 (PostgreSQL text holds none)."""
    shown = raw[:MAX_RAW_TEXT].replace("\x00", "\\0")
    if len(raw) > MAX_RAW_TEXT:
        shown += f"\n[... {len(raw) - MAX_RAW_TEXT:,} more characters of {len(raw):,} not kept]"
    return shown


def insert_rejects(session: Session, rejects: list[dict[str, Any]]) -> int:
    """Keep rejected records with their reason, once per raw text and reason (a new version
    of a file does not repeat the rejects it shares with the old one)."""
    if not rejects:
        return 0
    for reject in rejects:
        reject["raw_sha256"] = hashlib.sha256(reject["raw_text"].encode()).hexdigest()
    stmt = (
        pg_insert(RejectedRecord.__table__)
        .on_conflict_do_nothing(constraint="uq_rejected_record_raw_reason")
        .returning(RejectedRecord.__table__.c.id)
    )
    return len(session.execute(stmt, rejects).all())
