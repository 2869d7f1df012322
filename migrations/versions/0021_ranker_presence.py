"""The learned ranker also reads whether each evidence value is there (models/ranker.py, ranker
version 2): a candidate whose own reference spectra match the query poorly counts against
it, where a missing library score did the same as a poor one.

`molvis_rerank()` takes three coefficients per evidence (value, lead, present). Rankers of
version 1 cannot be read by it and are cleared from `model.ranker`: a shipped model gets its
new ranker from beside its checkpoint; any other is refitted (python -m bench.ranker).

Revision ID: 0021_ranker_presence
Revises: 0020_learned_ranker
Create Date: 2026-12-06
"""

from alembic import op

from migrations.functions import function_sql

revision = "0021_ranker_presence"
down_revision = "0020_learned_ranker"
branch_labels = None
depends_on = None

CLEAR = "UPDATE model SET ranker = NULL WHERE ranker IS NOT NULL AND ranker ->> 'version' = '{}'"


def upgrade() -> None:
    op.execute(CLEAR.format(1))
    op.execute(function_sql("molvis_rerank", "0021"))


def downgrade() -> None:
    op.execute(CLEAR.format(2))
    op.execute(function_sql("molvis_rerank", "0020"))
