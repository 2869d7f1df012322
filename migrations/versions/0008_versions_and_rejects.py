"""Record versions and rejects stored once.

A measurement re-ingested from the same source under the same accession but with other
content (a MassBank record whose peaks were corrected, an IR file replaced) is a new version:
the new row is stored, the old one stays as history with `superseded_by` pointing at it, and
searches, training and embeddings use current rows only. Rejects are stored once per raw text
and reason, so loading a new version of a file does not repeat the rejects it shares with the
old one.

Revision ID: 0008_versions_and_rejects
Revises: 0007_reader_timeout
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "0008_versions_and_rejects"
down_revision = "0007_reader_timeout"
branch_labels = None
depends_on = None

MEASUREMENTS = ("msms_spectrum", "ir_spectrum", "ccs_value")
RAW_SHA = "encode(sha256(convert_to(raw_text, 'UTF8')), 'hex')"


def upgrade() -> None:
    for table in MEASUREMENTS:
        op.add_column(table, sa.Column("superseded_by", sa.BigInteger, nullable=True))
        op.create_index(
            f"ix_{table}_source_record",
            table,
            ["source_id", "record_id"],
            postgresql_where=sa.text("superseded_by IS NULL"),
        )
    op.add_column("rejected_record", sa.Column("raw_sha256", sa.Text, nullable=True))
    op.execute(f"UPDATE rejected_record SET raw_sha256 = {RAW_SHA}")
    op.execute("""
        DELETE FROM rejected_record r USING rejected_record k
        WHERE r.raw_sha256 = k.raw_sha256 AND r.reason = k.reason AND r.id > k.id
    """)
    op.alter_column("rejected_record", "raw_sha256", nullable=False)
    op.drop_constraint("uq_rejected_record_file_record", "rejected_record")
    op.create_unique_constraint(
        "uq_rejected_record_raw_reason", "rejected_record", ["raw_sha256", "reason"]
    )


def downgrade() -> None:
    op.drop_constraint("uq_rejected_record_raw_reason", "rejected_record")
    op.create_unique_constraint(
        "uq_rejected_record_file_record", "rejected_record", ["file_sha256", "record_no"]
    )
    op.drop_column("rejected_record", "raw_sha256")
    for table in MEASUREMENTS:
        op.drop_index(f"ix_{table}_source_record", table)
        op.drop_column(table, "superseded_by")
