"""Read what training and evaluation need from the registry as plain records (no sessions leak)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from sqlalchemy import text
from sqlalchemy.orm import Session


@dataclass(slots=True)
class CompoundRow:
    id: int
    inchikey: str
    smiles: str
    monoisotopic_mass: float
    fingerprint: str | None


@dataclass(slots=True)
class MsmsRow:
    compound: int  # index into TrainingSet.compounds
    spectrum_id: int
    precursor_mz: float
    adduct: str | None
    ion_mode: str | None
    instrument_type: str | None
    collision_energy: str | None
    mz: np.ndarray
    intensity: np.ndarray


@dataclass(slots=True)
class IrRow:
    compound: int
    spectrum_id: int
    vector: np.ndarray


@dataclass(slots=True)
class CcsRow:
    compound: int
    value_id: int
    ccs: float
    mz: float | None
    adduct: str


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
    for row in session.execute(
        text(
            "SELECT id, compound_id, precursor_mz, adduct, ion_mode, instrument_type, "
            "collision_energy, mz, intensity FROM msms_spectrum ORDER BY id"
        )
    ):
        if row.compound_id in index:
            data.msms.append(
                MsmsRow(
                    index[row.compound_id],
                    row.id,
                    row.precursor_mz,
                    row.adduct,
                    row.ion_mode,
                    row.instrument_type,
                    row.collision_energy,
                    np.asarray(row.mz),
                    np.asarray(row.intensity),
                )
            )
    for row in session.execute(
        text("SELECT id, compound_id, processed::real[] AS processed FROM ir_spectrum ORDER BY id")
    ):
        if row.compound_id in index:
            data.ir.append(
                IrRow(index[row.compound_id], row.id, np.asarray(row.processed, dtype=np.float32))
            )
    for row in session.execute(
        text("SELECT id, compound_id, ccs, mz, adduct FROM ccs_value ORDER BY id")
    ):
        if row.compound_id in index:
            data.ccs.append(CcsRow(index[row.compound_id], row.id, row.ccs, row.mz, row.adduct))
    return data


def candidates_in_window(session: Session, mass: float, ppm: float) -> list[CompoundRow]:
    """Every registry compound whose monoisotopic mass lies within `ppm` of `mass`."""
    delta = mass * ppm * 1e-6
    rows = session.execute(
        text(
            "SELECT id, inchikey, smiles, monoisotopic_mass, NULL AS fingerprint FROM compound "
            "WHERE monoisotopic_mass BETWEEN :lo AND :hi"
        ),
        {"lo": mass - delta, "hi": mass + delta},
    )
    return [CompoundRow(r.id, r.inchikey, r.smiles, r.monoisotopic_mass, None) for r in rows]
