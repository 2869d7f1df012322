"""Compounds still without a fingerprint are found through a partial index: every ingest now
ends by filling any gap (a killed run's, say), and without the index that look-up scanned the
whole compound table once per file (seconds per file at two million compounds).

Revision ID: 0010_fingerprint_gaps
Revises: 0009_pending_key_rows
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "0010_fingerprint_gaps"
down_revision = "0009_pending_key_rows"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_compound_without_fingerprint",
        "compound",
        ["id"],
        postgresql_where=sa.text("fingerprint IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_compound_without_fingerprint", "compound")
