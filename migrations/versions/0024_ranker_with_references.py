"""The learned ranker weighs a candidate's evidence apart where it has reference spectra
(models/ranker.py, ranker version 3): such a candidate is the query's compound measured
another way or a measured decoy, and how well the spectrum explains it tells which.

`molvis_rerank()` takes four coefficients per evidence (value, lead, present, value where the
candidate has a library score). Rankers of version 2 cannot be read by it and are cleared from
`model.ranker`: a shipped model gets its new ranker from beside its checkpoint; any other is
refitted (python -m bench.ranker).

Revision ID: 0024_ranker_with_references
Revises: 0023_ccs_uncertainty
Create Date: 2026-12-07
"""

from alembic import op

from migrations.functions import function_sql

revision = "0024_ranker_with_references"
down_revision = "0023_ccs_uncertainty"
branch_labels = None
depends_on = None

CLEAR = "UPDATE model SET ranker = NULL WHERE ranker IS NOT NULL AND ranker ->> 'version' = '{}'"


def upgrade() -> None:
    op.execute(CLEAR.format(2))
    op.execute(function_sql("molvis_rerank", "0024"))


def downgrade() -> None:
    op.execute(CLEAR.format(3))
    op.execute(function_sql("molvis_rerank", "0021"))
