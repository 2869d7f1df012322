"""molvis_search() written out whole, as 0005 left it (0005 once built it by loading 0004 and
replacing its per-query count with the count kept in the model row; both now read the text
from migrations/sql/molvis_search/0005.sql). The function is unchanged, so the downgrade has
nothing to undo.

Revision ID: 0006_search_whole
Revises: 0005_embedding_count
Create Date: 2026-11-25
"""

from alembic import op

from migrations.functions import function_sql

revision = "0006_search_whole"
down_revision = "0005_embedding_count"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(function_sql("molvis_search", "0005"))  # 0005's text, now read whole


def downgrade() -> None:
    """0005's function is the same text: nothing to restore."""
