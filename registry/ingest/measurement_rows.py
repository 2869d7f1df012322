"""A measurement record as its table's row: the columns and their types, the content hash
that deduplicates measurements across files and sources, metadata made JSON-safe. Rows go by
binary COPY (registry/ingest/store.py): peak arrays and vectors travel in PostgreSQL's binary form."""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
from pgvector import Vector

from registry.db.bulk import array_binary
from registry.db.schema import CcsValue, IrSpectrum, MsmsSpectrum
from registry.records import CcsRecord, IrRecord, MsmsRecord, Record

# Each measurement table's own columns and their PostgreSQL types.
MEASUREMENT_COLUMNS: dict[type, dict[str, str]] = {
    MsmsRecord: {
        "precursor_mz": "float8",
        "adduct": "text",
        "ion_mode": "text",
        "instrument_type": "text",
        "collision_energy": "text",
        "mz": "float8[]",
        "intensity": "float4[]",
    },
    IrRecord: {
        "title": "text",
        "x": "float8[]",
        "y": "float8[]",
        "x_units": "text",
        "y_units": "text",
        "state": "text",
        "processed": "vector",
    },
    CcsRecord: {
        "ccs": "float8",
        "adduct": "text",
        "mz": "float8",
        "method": "text",
        "drift_gas": "text",
    },
}
_SHARED_COLUMNS = {
    "compound_id": "int8",
    "run_id": "int4",
    "source_id": "int4",
    "record_id": "text",
    "metadata": "jsonb",
    "content_hash": "text",
}
_AS_BYTES = {"float8[]", "float4[]", "vector"}
_RECORD_OF_TABLE = {
    MsmsSpectrum.__tablename__: MsmsRecord,
    IrSpectrum.__tablename__: IrRecord,
    CcsValue.__tablename__: CcsRecord,
}


def copy_types(table: str) -> dict[str, str]:
    """The type a binary COPY declares for each column of a measurement table's rows: arrays
    and vectors as bytea, since measurement_row gives their binary form."""
    columns = {**_SHARED_COLUMNS, **MEASUREMENT_COLUMNS[_RECORD_OF_TABLE[table]]}
    return {c: "bytea" if t in _AS_BYTES else t for c, t in columns.items()}


def _digest(*parts: object) -> str:
    digest = hashlib.sha256()
    for part in parts:
        if isinstance(part, np.ndarray):
            digest.update(np.ascontiguousarray(part).tobytes())
        else:
            digest.update(repr(part).encode())
        digest.update(b"\x1f")
    return digest.hexdigest()


def content_hash(record: Record, inchikey: str) -> str:
    """Identity of a measurement regardless of which file or source brought it."""
    if isinstance(record, MsmsRecord):
        rel = record.intensity / record.intensity.max()
        return _digest(
            "msms",
            inchikey,
            round(record.precursor_mz or 0.0, 4),
            record.adduct,
            record.ion_mode,
            record.collision_energy,
            np.round(record.mz, 4),
            np.round(rel, 4),
        )
    if isinstance(record, IrRecord):
        return _digest("ir", inchikey, np.round(record.x, 4), np.round(record.y, 6))
    if isinstance(record, CcsRecord):
        return _digest("ccs", inchikey, record.adduct, round(record.ccs, 2))
    raise TypeError(type(record))


def jsonable(value: Any) -> Any:
    """A value as JSON can hold it (numpy scalars as Python ones, NaN and infinities as null)."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def measurement_row(
    record: Record, compound_id: int, run_id: int, source_id: int, inchikey: str
) -> dict[str, Any]:
    """The table row of one measurement record."""
    row: dict[str, Any] = {
        "compound_id": compound_id,
        "run_id": run_id,
        "source_id": source_id,
        "record_id": record.record_id,
        "metadata": jsonable(record.metadata),
        "content_hash": content_hash(record, inchikey),
    }
    for name, kind in MEASUREMENT_COLUMNS[type(record)].items():
        value = getattr(record, name)
        if kind == "vector":  # the IR grid
            value = Vector(value.astype(np.float32)).to_binary()
        elif kind in _AS_BYTES:
            value = array_binary(value, kind.removesuffix("[]"))
        row[name] = value
    return row
