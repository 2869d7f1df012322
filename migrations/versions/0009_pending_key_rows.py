"""Rows that give only an InChIKey whose compound is not in the registry yet are kept as
pending: the reject stores the row it would have become, and the next ingest that brings the
compound loads it (and drops the reject). Loading files in any order gives the same registry.

Revision ID: 0009_pending_key_rows
Revises: 0008_versions_and_rejects
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0009_pending_key_rows"
down_revision = "0008_versions_and_rejects"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("rejected_record", sa.Column("pending_inchikey", sa.Text, nullable=True))
    op.add_column("rejected_record", sa.Column("pending_row", JSONB, nullable=True))
    op.create_index(
        "ix_rejected_record_pending_inchikey",
        "rejected_record",
        ["pending_inchikey"],
        postgresql_where=sa.text("pending_inchikey IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_rejected_record_pending_inchikey", "rejected_record")
    op.drop_column("rejected_record", "pending_row")
    op.drop_column("rejected_record", "pending_inchikey")
