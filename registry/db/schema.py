"""Typed SQLAlchemy tables of the registry. Alembic migrations own the DDL; keep both in step."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pgvector.sqlalchemy import BIT, Vector
from sqlalchemy import (
    BigInteger,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    Text,
    func,
)
from sqlalchemy.dialects.postgresql import ARRAY, DOUBLE_PRECISION, JSONB, REAL, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

IR_GRID_POINTS = 825


class Base(DeclarativeBase):
    pass


class Source(Base):
    """Where measurements come from: a library, a lab, a publication."""

    __tablename__ = "source"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(Text, unique=True)
    licence: Mapped[str | None] = mapped_column(Text)
    origin: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Compound(Base):
    """One chemical structure, keyed by its InChIKey."""

    __tablename__ = "compound"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    inchikey: Mapped[str] = mapped_column(Text, unique=True)
    inchi: Mapped[str] = mapped_column(Text)
    smiles: Mapped[str] = mapped_column(Text)
    formula: Mapped[str] = mapped_column(Text, index=True)
    monoisotopic_mass: Mapped[float] = mapped_column(DOUBLE_PRECISION, index=True)
    names: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default="{}")
    external_ids: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default="{}")
    fingerprint: Mapped[str | None] = mapped_column(BIT(2048))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class IngestRun(Base):
    """One ingest of one file: what it was, what it did, how long it took."""

    __tablename__ = "ingest_run"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(Text)
    file_path: Mapped[str] = mapped_column(Text)
    file_sha256: Mapped[str] = mapped_column(Text, index=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("source.id"))
    status: Mapped[str] = mapped_column(Text)
    records_read: Mapped[int] = mapped_column(Integer, default=0)
    compounds_new: Mapped[int] = mapped_column(Integer, default=0)
    compounds_existing: Mapped[int] = mapped_column(Integer, default=0)
    inserted: Mapped[int] = mapped_column(Integer, default=0)
    duplicates: Mapped[int] = mapped_column(Integer, default=0)
    rejected: Mapped[int] = mapped_column(Integer, default=0)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    seconds: Mapped[float | None] = mapped_column(Float)


class RejectedRecord(Base):
    """A record that could not be loaded, kept with its raw text and the reason."""

    __tablename__ = "rejected_record"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("ingest_run.id", ondelete="CASCADE"), index=True)
    file_sha256: Mapped[str] = mapped_column(Text)
    record_no: Mapped[int] = mapped_column(Integer)
    line_no: Mapped[int | None] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(Text)
    raw_text: Mapped[str] = mapped_column(Text)
    raw_sha256: Mapped[str] = mapped_column(Text)  # with the reason: a reject is stored once
    pending_inchikey: Mapped[str | None] = mapped_column(Text)  # loaded when this key arrives
    pending_row: Mapped[dict[str, Any] | None] = mapped_column(JSONB)  # ...as this row


class MeasurementColumns:
    """Columns every measurement table shares: its compound, ingest run and source, the
    record's own id and metadata, the content hash that deduplicates it, and the id of the
    newer version that superseded it (NULL while it is current)."""

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    compound_id: Mapped[int] = mapped_column(ForeignKey("compound.id"), index=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("ingest_run.id"), index=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("source.id"))
    record_id: Mapped[str | None] = mapped_column(Text)
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", JSONB, server_default="{}")
    content_hash: Mapped[str] = mapped_column(Text, unique=True)
    superseded_by: Mapped[int | None] = mapped_column(BigInteger)


class MsmsSpectrum(MeasurementColumns, Base):
    """A tandem mass spectrum with its acquisition metadata."""

    __tablename__ = "msms_spectrum"
    precursor_mz: Mapped[float] = mapped_column(DOUBLE_PRECISION, index=True)
    adduct: Mapped[str | None] = mapped_column(Text)
    ion_mode: Mapped[str | None] = mapped_column(Text)
    instrument_type: Mapped[str | None] = mapped_column(Text)
    collision_energy: Mapped[str | None] = mapped_column(Text)
    mz: Mapped[list[float]] = mapped_column(ARRAY(DOUBLE_PRECISION))
    intensity: Mapped[list[float]] = mapped_column(ARRAY(REAL))


class IrSpectrum(MeasurementColumns, Base):
    """An infrared spectrum: raw x/y as given plus the processed METHOD.md grid vector."""

    __tablename__ = "ir_spectrum"
    title: Mapped[str | None] = mapped_column(Text)
    x: Mapped[list[float]] = mapped_column(ARRAY(DOUBLE_PRECISION))
    y: Mapped[list[float]] = mapped_column(ARRAY(DOUBLE_PRECISION))
    x_units: Mapped[str] = mapped_column(Text)
    y_units: Mapped[str] = mapped_column(Text)
    state: Mapped[str | None] = mapped_column(Text)
    processed: Mapped[list[float]] = mapped_column(Vector(IR_GRID_POINTS))


class CcsValue(MeasurementColumns, Base):
    """A measured collision cross section (A^2) of one ion of a compound."""

    __tablename__ = "ccs_value"
    ccs: Mapped[float] = mapped_column(DOUBLE_PRECISION)
    adduct: Mapped[str] = mapped_column(Text)
    mz: Mapped[float | None] = mapped_column(DOUBLE_PRECISION)
    method: Mapped[str | None] = mapped_column(Text)
    drift_gas: Mapped[str | None] = mapped_column(Text)


class Model(Base):
    """A trained model version: checkpoint file, config, metrics; at most one is active."""

    __tablename__ = "model"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(Text, unique=True)
    version: Mapped[str] = mapped_column(Text)
    path: Mapped[str] = mapped_column(Text)
    config: Mapped[dict[str, Any]] = mapped_column(JSONB)
    metrics: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default="{}")
    is_active: Mapped[bool] = mapped_column(server_default="false")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    # kept by statement triggers on structure_embedding (migration 0005)
    structure_embeddings: Mapped[int] = mapped_column(BigInteger, server_default="0")
    # the fitted hit-probability calibration (migration 0011, models/calibration.py)
    calibration: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    # the learned ranking of a window's candidates (migration 0020, models/ranker.py)
    ranker: Mapped[dict[str, Any] | None] = mapped_column(JSONB)


class StructureEmbedding(Base):
    """A compound's structure embedding under one model version."""

    __tablename__ = "structure_embedding"
    model_id: Mapped[int] = mapped_column(ForeignKey("model.id"), primary_key=True)
    compound_id: Mapped[int] = mapped_column(ForeignKey("compound.id"), primary_key=True)
    embedding: Mapped[list[float]] = mapped_column(Vector(256))
    # the compound's, copied by a trigger; the mass window reads vectors by it (migration 0014)
    monoisotopic_mass: Mapped[float] = mapped_column(DOUBLE_PRECISION)


class MeasurementEmbedding(Base):
    """A measurement's embedding (MS/MS, IR or CCS) under one model version."""

    __tablename__ = "measurement_embedding"
    model_id: Mapped[int] = mapped_column(ForeignKey("model.id"), primary_key=True)
    modality: Mapped[str] = mapped_column(Text, primary_key=True)
    measurement_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    compound_id: Mapped[int] = mapped_column(ForeignKey("compound.id"))
    embedding: Mapped[list[float]] = mapped_column(Vector(256))


class LibraryState(Base):
    """A generation id per spectral library, renewed by statement triggers on every write to
    its spectra (migration 0011): a saved library index compares it to know it is stale."""

    __tablename__ = "library_state"
    library: Mapped[str] = mapped_column(Text, primary_key=True)
    generation: Mapped[str] = mapped_column(UUID(as_uuid=False))
    changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class CompoundSource(Base):
    """Which sources brought a compound (structure-only libraries included)."""

    __tablename__ = "compound_source"
    compound_id: Mapped[int] = mapped_column(ForeignKey("compound.id"), primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("source.id"), primary_key=True)


class CcsPredictorRow(Base):
    """A registered CCS predictor (models/ccs.py); at most one is active (migration 0012)."""

    __tablename__ = "ccs_predictor"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(Text, unique=True)
    version: Mapped[str] = mapped_column(Text)
    path: Mapped[str] = mapped_column(Text)
    config: Mapped[dict[str, Any]] = mapped_column(JSONB)
    metrics: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default="{}")
    # the window a predicted value gets in the search: the validation p95 relative error
    tolerance_pct: Mapped[float] = mapped_column(DOUBLE_PRECISION)
    is_active: Mapped[bool] = mapped_column(server_default="false")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class CcsPrediction(Base):
    """A predicted CCS (A^2) of one ion of a compound under one predictor."""

    __tablename__ = "ccs_prediction"
    predictor_id: Mapped[int] = mapped_column(ForeignKey("ccs_predictor.id"), primary_key=True)
    compound_id: Mapped[int] = mapped_column(ForeignKey("compound.id"), primary_key=True)
    adduct: Mapped[str] = mapped_column(Text, primary_key=True)
    ccs: Mapped[float] = mapped_column(REAL)
    uncertainty_pct: Mapped[float | None] = mapped_column(REAL)  # 95 % interval half-width
