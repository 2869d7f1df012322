"""Plain records that parsers produce and models consume (no database, no sessions)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(slots=True)
class StructureRef:
    """A structure as a record gives it, before RDKit normalisation."""

    text: str
    given_inchikey: str | None = None
    names: list[str] = field(default_factory=list)
    external_ids: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True, kw_only=True)
class MsmsFields:
    """What an MS/MS spectrum says besides its structure: the precursor ion and the peaks
    (m/z ascending). Shared by parsed records and rows read back from the registry."""

    precursor_mz: float | None
    adduct: str | None
    ion_mode: str | None
    instrument_type: str | None
    collision_energy: str | None
    mz: np.ndarray
    intensity: np.ndarray


@dataclass(slots=True, kw_only=True)
class MsmsRecord(MsmsFields):
    structure: StructureRef
    record_id: str | None
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class IrRecord:
    structure: StructureRef
    record_id: str | None
    title: str | None
    x: np.ndarray
    y: np.ndarray
    x_units: str
    y_units: str
    state: str | None
    processed: np.ndarray
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class CcsRecord:
    structure: StructureRef
    record_id: str | None
    ccs: float
    adduct: str
    mz: float | None
    method: str | None
    drift_gas: str | None
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class StructureRecord:
    structure: StructureRef
    record_id: str | None


Record = MsmsRecord | IrRecord | CcsRecord | StructureRecord


@dataclass(slots=True)
class Parsed:
    """One record of a file: the record, or the reason it was rejected, with where it stood."""

    record_no: int
    line_no: int | None
    raw_text: str
    record: Record | None = None
    reason: str | None = None
    location: str = ""
