"""Registry foundation: compounds, sources, ingest runs, rejects, MS/MS, IR and CCS measurements.

Revision ID: 0001_registry
Revises:
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op
from pgvector.sqlalchemy import BIT, Vector
from sqlalchemy.dialects.postgresql import ARRAY, DOUBLE_PRECISION, JSONB, REAL

revision = "0001_registry"
down_revision = None
branch_labels = None
depends_on = None


def _measurement_columns() -> list[sa.Column]:
    """Columns every measurement table shares: its compound, run, source and content hash."""
    return [
        sa.Column("id", sa.BigInteger, primary_key=True),
        sa.Column(
            "compound_id", sa.BigInteger, sa.ForeignKey("compound.id"), nullable=False, index=True
        ),
        sa.Column("run_id", sa.Integer, sa.ForeignKey("ingest_run.id"), nullable=False, index=True),
        sa.Column("source_id", sa.Integer, sa.ForeignKey("source.id"), nullable=False),
        sa.Column("record_id", sa.Text),
        sa.Column("metadata", JSONB, nullable=False, server_default="{}"),
        sa.Column("content_hash", sa.Text, nullable=False, unique=True),
    ]


def upgrade() -> None:
    # an owner that is not a superuser migrates a database where a superuser installed pgvector
    op.execute("""
        DO $$ BEGIN
            CREATE EXTENSION IF NOT EXISTS vector;
        EXCEPTION WHEN insufficient_privilege THEN
            RAISE EXCEPTION 'pgvector is not installed in this database and % may not install '
                'it: a superuser runs CREATE EXTENSION vector in it once', current_user;
        END $$;
    """)
    op.create_table(
        "source",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.Text, nullable=False, unique=True),
        sa.Column("licence", sa.Text),
        sa.Column("origin", sa.Text),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now()),
    )
    op.create_table(
        "compound",
        sa.Column("id", sa.BigInteger, primary_key=True),
        sa.Column("inchikey", sa.Text, nullable=False, unique=True),
        sa.Column("inchi", sa.Text, nullable=False),
        sa.Column("smiles", sa.Text, nullable=False),
        sa.Column("formula", sa.Text, nullable=False),
        sa.Column("monoisotopic_mass", DOUBLE_PRECISION, nullable=False),
        sa.Column("names", ARRAY(sa.Text), nullable=False, server_default="{}"),
        sa.Column("external_ids", JSONB, nullable=False, server_default="{}"),
        sa.Column("fingerprint", BIT(2048)),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now()),
        sa.CheckConstraint(
            r"inchikey ~ '^[A-Z]{14}-[A-Z]{10}-[A-Z]$'", name="compound_inchikey_format"
        ),
    )
    op.create_index("ix_compound_formula", "compound", ["formula"])
    op.create_index("ix_compound_monoisotopic_mass", "compound", ["monoisotopic_mass"])
    op.execute(
        "CREATE INDEX ix_compound_fingerprint_hnsw ON compound "
        "USING hnsw (fingerprint bit_jaccard_ops)"
    )
    op.create_table(
        "ingest_run",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("file_path", sa.Text, nullable=False),
        sa.Column("file_sha256", sa.Text, nullable=False, index=True),
        sa.Column("source_id", sa.Integer, sa.ForeignKey("source.id"), nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("records_read", sa.Integer, nullable=False, server_default="0"),
        sa.Column("compounds_new", sa.Integer, nullable=False, server_default="0"),
        sa.Column("compounds_existing", sa.Integer, nullable=False, server_default="0"),
        sa.Column("inserted", sa.Integer, nullable=False, server_default="0"),
        sa.Column("duplicates", sa.Integer, nullable=False, server_default="0"),
        sa.Column("rejected", sa.Integer, nullable=False, server_default="0"),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
        sa.Column("seconds", sa.Float),
    )
    op.create_table(
        "rejected_record",
        sa.Column("id", sa.BigInteger, primary_key=True),
        sa.Column(
            "run_id",
            sa.Integer,
            sa.ForeignKey("ingest_run.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column("file_sha256", sa.Text, nullable=False),
        sa.Column("record_no", sa.Integer, nullable=False),
        sa.Column("line_no", sa.Integer),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("raw_text", sa.Text, nullable=False),
        sa.UniqueConstraint("file_sha256", "record_no", name="uq_rejected_record_file_record"),
    )
    op.create_table(
        "msms_spectrum",
        *_measurement_columns(),
        sa.Column("precursor_mz", DOUBLE_PRECISION, nullable=False, index=True),
        sa.Column("adduct", sa.Text),
        sa.Column("ion_mode", sa.Text),
        sa.Column("instrument_type", sa.Text),
        sa.Column("collision_energy", sa.Text),
        sa.Column("mz", ARRAY(DOUBLE_PRECISION), nullable=False),
        sa.Column("intensity", ARRAY(REAL), nullable=False),
    )
    op.create_table(
        "ir_spectrum",
        *_measurement_columns(),
        sa.Column("title", sa.Text),
        sa.Column("x", ARRAY(DOUBLE_PRECISION), nullable=False),
        sa.Column("y", ARRAY(DOUBLE_PRECISION), nullable=False),
        sa.Column("x_units", sa.Text, nullable=False),
        sa.Column("y_units", sa.Text, nullable=False),
        sa.Column("state", sa.Text),
        sa.Column("processed", Vector(825), nullable=False),
    )
    op.create_table(
        "ccs_value",
        *_measurement_columns(),
        sa.Column("ccs", DOUBLE_PRECISION, nullable=False),
        sa.Column("adduct", sa.Text, nullable=False),
        sa.Column("mz", DOUBLE_PRECISION),
        sa.Column("method", sa.Text),
        sa.Column("drift_gas", sa.Text),
        sa.CheckConstraint("ccs > 0", name="ccs_value_positive"),
    )


def downgrade() -> None:
    for table in ("ccs_value", "ir_spectrum", "msms_spectrum", "rejected_record", "ingest_run"):
        op.drop_table(table)
    op.drop_table("compound")
    op.drop_table("source")
