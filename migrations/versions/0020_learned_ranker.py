"""The learned ranker: stored with its structure model, and its ranking as a SQL function.

`model.ranker` holds a model's fitted ranker (models/ranker.py: evidence names, coefficients,
the model version it belongs to; JSON, never pickle). `molvis_rerank()` orders the candidates a
search found by the ranker's score over their evidence (the model's cosine, the fragment
evidence, the library score, the mass error) and gives each its probability, so a psql user
ranks the same way `molvis search` does.

Revision ID: 0020_learned_ranker
Revises: 0019_filter_counts
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

from migrations.functions import function_sql

revision = "0020_learned_ranker"
down_revision = "0019_filter_counts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("model", sa.Column("ranker", JSONB))
    op.execute(function_sql("molvis_rerank", "0020"))
    op.execute("GRANT EXECUTE ON FUNCTION molvis_rerank TO molvis_reader")


def downgrade() -> None:
    op.execute("DROP FUNCTION molvis_rerank")
    op.drop_column("model", "ranker")
