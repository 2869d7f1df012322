"""Stored measurements read back as plain rows: one definition per modality, shared by the
training-data reader and the embedding backfill."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from sqlalchemy import text
from sqlalchemy.orm import Session

from registry.records import MsmsFields


@dataclass(slots=True, kw_only=True)
class MsmsRow(MsmsFields):
    compound: int  # what the reader mapped the compound id to (a training index, or the id)
    measurement_id: int


@dataclass(slots=True)
class IrRow:
    compound: int
    measurement_id: int
    vector: np.ndarray  # the 825-point processed grid


@dataclass(slots=True)
class CcsRow:
    compound: int
    measurement_id: int
    ccs: float
    mz: float | None
    adduct: str


MeasurementRow = MsmsRow | IrRow | CcsRow

TABLES = {"msms": "msms_spectrum", "ir": "ir_spectrum", "ccs": "ccs_value"}
_COLUMNS = {
    "msms": "id, compound_id, precursor_mz, adduct, ion_mode, instrument_type, collision_energy, "
    "mz, intensity",
    "ir": "id, compound_id, processed::real[] AS processed",
    "ccs": "id, compound_id, ccs, mz, adduct",
}


def _row(modality: str, r, compound: int) -> MeasurementRow:
    if modality == "msms":
        return MsmsRow(
            compound=compound,
            measurement_id=r.id,
            precursor_mz=r.precursor_mz,
            adduct=r.adduct,
            ion_mode=r.ion_mode,
            instrument_type=r.instrument_type,
            collision_energy=r.collision_energy,
            mz=np.asarray(r.mz),
            intensity=np.asarray(r.intensity),
        )
    if modality == "ir":
        return IrRow(compound, r.id, np.asarray(r.processed, dtype=np.float32))
    return CcsRow(compound, r.id, r.ccs, r.mz, r.adduct)


def read_measurements(
    session: Session,
    modality: str,
    where: str = "TRUE",
    params: dict | None = None,
    compound: Callable[[int], int | None] = lambda cid: cid,
) -> list[MeasurementRow]:
    """Current rows (not superseded by a newer version) of one modality ('msms', 'ir', 'ccs') by
    id, filtered by a SQL condition on the table (alias t); `compound` maps each compound id to
    the row's `compound` (None drops it)."""
    sql = (
        f"SELECT {_COLUMNS[modality]} FROM {TABLES[modality]} t "
        f"WHERE t.superseded_by IS NULL AND ({where}) ORDER BY t.id"
    )
    rows = []
    for r in session.execute(text(sql), params or {}):
        ref = compound(r.compound_id)
        if ref is not None:
            rows.append(_row(modality, r, ref))
    return rows
