"""Read what training and evaluation need from the registry as plain records (no sessions leak)."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import text
from sqlalchemy.orm import Session

from registry.read.measurements import CcsRow, IrRow, MsmsRow, read_measurements


@dataclass(slots=True)
class CompoundRow:
    id: int
    inchikey: str
    smiles: str
    monoisotopic_mass: float
    fingerprint: str | None


@dataclass
class TrainingSet:
    """Every compound with at least one measurement, and the measurements by modality."""

    compounds: list[CompoundRow] = field(default_factory=list)
    msms: list[MsmsRow] = field(default_factory=list)
    ir: list[IrRow] = field(default_factory=list)
    ccs: list[CcsRow] = field(default_factory=list)


_COMPOUNDS = """
SELECT c.id, c.inchikey, c.smiles, c.monoisotopic_mass, c.fingerprint::text AS fingerprint
FROM compound c
WHERE EXISTS (SELECT 1 FROM msms_spectrum m WHERE m.compound_id = c.id)
   OR EXISTS (SELECT 1 FROM ir_spectrum i WHERE i.compound_id = c.id)
   OR EXISTS (SELECT 1 FROM ccs_value v WHERE v.compound_id = c.id)
ORDER BY c.inchikey
"""


def load_training_set(session: Session, limit_compounds: int | None = None) -> TrainingSet:
    """All measured compounds (or the first `limit_compounds` by InChIKey) with their data."""
    data = TrainingSet()
    sql = _COMPOUNDS + (f" LIMIT {int(limit_compounds)}" if limit_compounds else "")
    for row in session.execute(text(sql)):
        data.compounds.append(
            CompoundRow(row.id, row.inchikey, row.smiles, row.monoisotopic_mass, row.fingerprint)
        )
    index = {c.id: i for i, c in enumerate(data.compounds)}
    data.msms, data.ir, data.ccs = (
        read_measurements(session, modality, compound=index.get)  # type: ignore[misc]
        for modality in ("msms", "ir", "ccs")
    )
    return data


def window_candidates(
    session: Session, mass: float, ppm: float
) -> list[tuple[str, str, bool, str | None]]:
    """(InChIKey, SMILES, measured, formula) of every compound within `ppm` of `mass`;
    measured: the compound has any MS/MS, IR or CCS measurement."""
    delta = mass * ppm * 1e-6
    rows = session.execute(
        text("""
        SELECT c.inchikey, c.smiles, c.formula,
               EXISTS (SELECT 1 FROM msms_spectrum m WHERE m.compound_id = c.id)
               OR EXISTS (SELECT 1 FROM ir_spectrum i WHERE i.compound_id = c.id)
               OR EXISTS (SELECT 1 FROM ccs_value v WHERE v.compound_id = c.id) AS measured
        FROM compound c WHERE c.monoisotopic_mass BETWEEN :lo AND :hi"""),
        {"lo": mass - delta, "hi": mass + delta},
    )
    return [(r.inchikey, r.smiles, bool(r.measured), r.formula) for r in rows]
