"""Read-only views of the registry for the UI: a compound with its measurements, ingest runs,
rejects. Plain dataclasses out; the UI holds no SQL."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session


@dataclass
class CompoundView:
    id: int
    inchikey: str
    inchi: str
    smiles: str
    formula: str
    monoisotopic_mass: float
    names: list[str]
    external_ids: dict[str, Any]
    sources: list[str]
    msms: list[dict[str, Any]] = field(default_factory=list)
    ir: list[dict[str, Any]] = field(default_factory=list)
    ccs: list[dict[str, Any]] = field(default_factory=list)


def compound(session: Session, inchikey: str) -> CompoundView | None:
    row = (
        session.execute(
            text("""
        SELECT c.*, coalesce(array_agg(DISTINCT s.name) FILTER (WHERE s.name IS NOT NULL), '{}')
                 AS source_names
        FROM compound c LEFT JOIN compound_source cs ON cs.compound_id = c.id
        LEFT JOIN source s ON s.id = cs.source_id
        WHERE c.inchikey = :key GROUP BY c.id"""),
            {"key": inchikey},
        )
        .mappings()
        .first()
    )
    if row is None:
        return None
    view = CompoundView(
        row["id"],
        row["inchikey"],
        row["inchi"],
        row["smiles"],
        row["formula"],
        row["monoisotopic_mass"],
        list(row["names"]),
        dict(row["external_ids"]),
        list(row["source_names"]),
    )
    params = {"cid": view.id}
    view.msms = [
        dict(r)
        for r in session.execute(
            text("""
        SELECT m.id, m.record_id, m.precursor_mz, m.adduct, m.ion_mode, m.instrument_type,
               m.collision_energy, m.mz, m.intensity, s.name AS source
        FROM msms_spectrum m JOIN source s ON s.id = m.source_id
        WHERE m.compound_id = :cid AND m.superseded_by IS NULL ORDER BY m.id LIMIT 200"""),
            params,
        ).mappings()
    ]
    view.ir = [
        dict(r)
        for r in session.execute(
            text("""
        SELECT i.id, i.title, i.x, i.y, i.x_units, i.y_units, i.state, s.name AS source
        FROM ir_spectrum i JOIN source s ON s.id = i.source_id
        WHERE i.compound_id = :cid AND i.superseded_by IS NULL ORDER BY i.id"""),
            params,
        ).mappings()
    ]
    view.ccs = [
        dict(r)
        for r in session.execute(
            text("""
        SELECT v.ccs, v.adduct, v.mz, v.method, s.name AS source
        FROM ccs_value v JOIN source s ON s.id = v.source_id
        WHERE v.compound_id = :cid ORDER BY v.adduct, v.ccs"""),
            params,
        ).mappings()
    ]
    return view


def ccs_landscape(session: Session, adduct: str, limit: int = 5000) -> list[tuple[float, float]]:
    """(m/z, CCS) of the library's ions of one adduct, for the CCS-vs-m/z plot."""
    rows = session.execute(
        text(
            "SELECT mz, ccs FROM ccs_value WHERE adduct = :a AND mz IS NOT NULL "
            "ORDER BY id LIMIT :n"
        ),
        {"a": adduct, "n": limit},
    )
    return [(r.mz, r.ccs) for r in rows]


def _mappings(session: Session, sql: str, limit: int) -> list[dict[str, Any]]:
    return [dict(r) for r in session.execute(text(sql), {"n": limit}).mappings()]


def recent_runs(session: Session, limit: int = 20) -> list[dict[str, Any]]:
    return _mappings(
        session,
        """SELECT r.id, r.kind, r.file_path, s.name AS source, r.records_read, r.inserted,
                  r.duplicates, r.rejected, r.finished_at
           FROM ingest_run r JOIN source s ON s.id = r.source_id
           ORDER BY r.id DESC LIMIT :n""",
        limit,
    )


def recent_rejects(session: Session, limit: int = 50) -> list[dict[str, Any]]:
    return _mappings(
        session,
        """SELECT j.record_no, j.line_no, j.reason, r.file_path
           FROM rejected_record j JOIN ingest_run r ON r.id = j.run_id
           ORDER BY j.id DESC LIMIT :n""",
        limit,
    )


def reject_reasons(session: Session, limit: int = 15) -> list[dict[str, Any]]:
    return _mappings(
        session,
        """SELECT left(reason, 90) AS reason, count(*) AS records FROM rejected_record
           GROUP BY 1 ORDER BY 2 DESC LIMIT :n""",
        limit,
    )


def msms_peaks(session: Session, spectrum_id: int) -> tuple[list[float], list[float]] | None:
    """One stored spectrum's peaks (the library side of a mirror plot)."""
    row = session.execute(
        text("SELECT mz, intensity FROM msms_spectrum WHERE id = :id"), {"id": spectrum_id}
    ).first()
    return (list(row.mz), list(row.intensity)) if row else None


def ir_processed(session: Session, spectrum_id: int) -> list[float] | None:
    """One stored IR spectrum on the registry's grid (the reference side of an IR overlay)."""
    row = session.execute(
        text("SELECT processed FROM ir_spectrum WHERE id = :id"), {"id": spectrum_id}
    ).first()
    return None if row is None or row.processed is None else [float(v) for v in row.processed]
