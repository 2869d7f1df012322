"""Predicted CCS for every compound, used where no measured value exists.

- `ccs_predictor`: registered CCS predictors (models/ccs.py), at most one active, each with
  the tolerance its validation error implies (`tolerance_pct`, the p95 relative error).
- `ccs_prediction`: one predicted value per (predictor, compound, adduct), filled by
  `molvis ccs backfill` and the partitioned Dagster asset `ccs_predictions`.
- `molvis_ccs_fits()`: the one CCS predicate of the search. A candidate with a measured CCS of
  the query's ion (any adduct when none is given) must have one within `ccs_tolerance_pct`; a
  candidate without one, and with a predicted CCS of that adduct, must be within the
  predictor's tolerance; a candidate with neither stays (nothing is known against it).
- `molvis_search()` written whole again: it takes `ccs_predictor_name` (default: the active
  predictor) and `ccs_predicted_tolerance_pct` (default: the larger of `ccs_tolerance_pct` and
  the predictor's own tolerance), and both candidate branches call `molvis_ccs_fits()`
  (which, unlike 0011's inline filter, ignores measured values a later version superseded).

Revision ID: 0012_ccs_prediction
Revises: 0011_library_search
Create Date: 2026-11-25
"""

from alembic import op

from migrations.functions import function_sql

revision = "0012_ccs_prediction"
down_revision = "0011_library_search"
branch_labels = None
depends_on = None

TABLES = """
CREATE TABLE ccs_predictor (
    id serial PRIMARY KEY,
    name text NOT NULL UNIQUE,
    version text NOT NULL,
    path text NOT NULL,
    config jsonb NOT NULL,
    metrics jsonb NOT NULL DEFAULT '{}',
    tolerance_pct float8 NOT NULL CHECK (tolerance_pct > 0),
    is_active boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX uq_ccs_predictor_one_active ON ccs_predictor (is_active) WHERE is_active;
CREATE TABLE ccs_prediction (
    predictor_id int NOT NULL REFERENCES ccs_predictor (id) ON DELETE CASCADE,
    compound_id bigint NOT NULL REFERENCES compound (id) ON DELETE CASCADE,
    adduct text NOT NULL,
    ccs real NOT NULL,
    PRIMARY KEY (predictor_id, compound_id, adduct)
);
GRANT SELECT ON ccs_predictor, ccs_prediction TO molvis_reader;
"""


def upgrade() -> None:
    op.execute(TABLES)
    op.execute(function_sql("molvis_ccs_fits", "0012"))
    op.execute("GRANT EXECUTE ON FUNCTION molvis_ccs_fits TO molvis_reader")
    op.execute("DROP FUNCTION molvis_search")  # 0011's: the arguments change
    op.execute(function_sql("molvis_search", "0012"))
    op.execute("GRANT EXECUTE ON FUNCTION molvis_search TO molvis_reader")


def downgrade() -> None:
    op.execute("DROP FUNCTION molvis_search")
    op.execute(function_sql("molvis_search", "0011"))
    op.execute("GRANT EXECUTE ON FUNCTION molvis_search TO molvis_reader")
    op.execute("DROP FUNCTION molvis_ccs_fits")
    op.execute("DROP TABLE ccs_prediction; DROP TABLE ccs_predictor;")
