"""Retrieval in SQL: compound provenance, the molvis_search() function, a read-only role.

Revision ID: 0004_search
Revises: 0003_embeddings
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

from migrations.functions import function_sql
from registry.db.connection import ENSURE_READER_ROLE

revision = "0004_search"
down_revision = "0003_embeddings"
branch_labels = None
depends_on = None

READER = "molvis_reader"


def upgrade() -> None:
    op.create_table(
        "compound_source",
        sa.Column(
            "compound_id",
            sa.BigInteger,
            sa.ForeignKey("compound.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column(
            "source_id",
            sa.Integer,
            sa.ForeignKey("source.id", ondelete="CASCADE"),
            primary_key=True,
        ),
    )
    op.execute("""
        INSERT INTO compound_source (compound_id, source_id)
        SELECT DISTINCT compound_id, source_id FROM (
            SELECT compound_id, source_id FROM msms_spectrum
            UNION SELECT compound_id, source_id FROM ir_spectrum
            UNION SELECT compound_id, source_id FROM ccs_value) m
        ON CONFLICT DO NOTHING
    """)
    op.execute(function_sql("molvis_search", "0004"))
    op.execute(ENSURE_READER_ROLE)
    op.execute(f"GRANT USAGE ON SCHEMA public TO {READER}")
    op.execute(f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {READER}")
    op.execute(f"GRANT EXECUTE ON FUNCTION molvis_search TO {READER}")


def downgrade() -> None:
    op.execute(f"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {READER}")
    op.execute(f"REVOKE USAGE ON SCHEMA public FROM {READER}")
    op.execute("DROP FUNCTION IF EXISTS molvis_search")
    op.drop_table("compound_source")
