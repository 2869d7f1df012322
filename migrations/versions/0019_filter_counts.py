"""The filter counts as a SQL function beside the search.

`molvis_filter_counts()` says how many compounds each of molvis_search()'s filters leaves (mass
window, formula, sources, CCS), so a search that finds nothing can name the filter that emptied
it. The page and `molvis search` asked this of a statement written in Python that repeated the
search's filters; now both filters live in SQL and a psql user can ask it too.

Revision ID: 0019_filter_counts
Revises: 0018_open_query_k_skeletons
Create Date: 2026-12-06
"""

from alembic import op

from migrations.functions import function_sql

revision = "0019_filter_counts"
down_revision = "0018_open_query_k_skeletons"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(function_sql("molvis_filter_counts", "0019"))
    op.execute("GRANT EXECUTE ON FUNCTION molvis_filter_counts TO molvis_reader")


def downgrade() -> None:
    op.execute("DROP FUNCTION molvis_filter_counts")
