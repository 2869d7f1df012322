"""Each predicted CCS carries its own uncertainty, and the search uses it.

`ccs_prediction.uncertainty_pct`: the half-width of the prediction's 95 % interval in percent
(models/ccs.py: the ensemble's spread, calibrated on validation ions); NULL for predictors
that give none. `molvis_ccs_fits()` judges a candidate never measured by its own interval when
no predicted-CCS tolerance is given (a confident prediction cuts harder), else as before;
`molvis_search()` and `molvis_filter_counts()` pass the tolerance through only when given.

Revision ID: 0023_ccs_uncertainty
Revises: 0022_shipped_model_paths
Create Date: 2026-12-06
"""

from alembic import op

from migrations.functions import function_sql

revision = "0023_ccs_uncertainty"
down_revision = "0022_shipped_model_paths"
branch_labels = None
depends_on = None

FUNCTIONS = {"molvis_ccs_fits": "0012", "molvis_search": "0018", "molvis_filter_counts": "0019"}


def upgrade() -> None:
    op.execute("ALTER TABLE ccs_prediction ADD COLUMN uncertainty_pct real")
    for name in FUNCTIONS:
        op.execute(function_sql(name, "0023"))


def downgrade() -> None:
    for name, previous in FUNCTIONS.items():
        sql = function_sql(name, previous)
        op.execute(sql.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1))
    op.execute("ALTER TABLE ccs_prediction DROP COLUMN uncertainty_pct")
