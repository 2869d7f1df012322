"""The mass window's candidates are planned for each call.

Under the function's generic plans (0014's force_generic_plan, kept for the ranking), the
planner cannot see how wide a mass window is: it estimated four candidates and joined each
compound to its vector by an index lookup on compound_id (5,084 buffer hits for a window of
1,271 candidates, 2.6 ms), never the hash join of two range scans 0014 laid the vectors out
for (235 hits, 0.85 ms). The window's statement now runs by EXECUTE ... USING, planned with
the window's bounds. Timed inside the function at 1M compounds (200 windows of 10 ppm, two
passes each, 2026-12-04): the candidate step p95 4.9-6.2 -> 2.9 ms. Through registry.search.molvis_search
(`python -m bench.query --sizes 100000 1000000 --window-only`, warm, against 0015's function):
p95 9.88 -> 6.32 and 8.52 -> 6.27 ms in two runs at 1M; at 100k 0.97x (p50 +0.16 ms, the
planning). Answers are unchanged (tests/registry/test_window_layout.py compares them
with 0013's); the open, filtered and library paths are 0015's.

Revision ID: 0017_window_planned_per_call
Revises: 0016_ivf_lists_by_500
Create Date: 2026-12-04
"""

from alembic import op

from migrations.functions import function_sql

revision = "0017_window_planned_per_call"
down_revision = "0016_ivf_lists_by_500"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(function_sql("molvis_search", "0017"))


def downgrade() -> None:
    op.execute(function_sql("molvis_search", "0015"))
