"""The open query returns k hits when its nearest rows are stereo variants.

Stereo variants (one InChIKey first block) are one hit, folded after the index scan. The scan
fetched 2k rows, so when the nearest rows were variants of fewer than k skeletons, fewer than
k hits came back (the demo registry: k = 3 gave 2). The scan now fetches four times as many
rows until they hold k skeletons (library-matched ones included), the probed lists run out,
or 64 times k rows were fetched; the usual case (k skeletons among 2k rows) runs the scan once, as
before. The mass window and the other filters take every candidate and are 0017's.

Revision ID: 0018_open_query_k_skeletons
Revises: 0017_window_planned_per_call
Create Date: 2026-12-04
"""

from alembic import op

from migrations.functions import function_sql

revision = "0018_open_query_k_skeletons"
down_revision = "0017_window_planned_per_call"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(function_sql("molvis_search", "0018"))


def downgrade() -> None:
    op.execute(function_sql("molvis_search", "0017"))
