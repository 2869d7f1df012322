"""molvis_search() ranks first and describes only the k rows it returns.

Measured at 1M compounds (bench/query.py): a 10 ppm window of MOSES masses holds ~600
candidates, and 0012 built every one's per-modality JSON, display name and stereo-variant list
before ranking (p95 82 ms). Now:

- each candidate gets one cosine, against the fused query vector: with unit modality vectors
  u_i and weights w_i, sum_i w_i cos(e, u_i) / sum_i w_i = cos(e, f) |f| / sum_i w_i where
  f = sum_i w_i u_i, so the weighted mean of cosines is one distance per candidate;
- the best stereo variant of each skeleton is ranked and cut to k; names, per-modality
  cosines (JSON) and the variant lists are built for those k rows alone;
- the candidate selection is written once per case (mass window, other filters, library
  matches) so each cached plan uses its index (the mass window's B-tree; `left(inchikey, 14)`
  for the library keys) instead of an `x IS NULL OR ...` generic plan, and it keeps each
  candidate's InChIKey, so the ranking reads no compound row but the k it returns;
- the CCS predicate is called only when a CCS is given;
- the open (unfiltered) query searches an HNSW index over half-precision copies of the
  structure vectors (this migration rebuilds each model's index so), with hnsw.ef_search 800
  unless `molvis.ef_search` says otherwise, and re-ranks the 2k it fetches at full precision.
  Cross-modal queries lie far from every structure vector: at 1M compounds pgvector's default
  of 40 found 53 % of the true top 20, 400 found 82-98 % and 800 91-99 % depending on the
  build (bench/index_sweep.py); recall first, since a missed structure is silently missed.

Results are unchanged (same rows, JSON and variants; scores to float rounding). Scores that
agree to 6 decimals rank as ties, broken by InChIKey as before: the one-distance score and
the per-modality sum differ in the last float digits, which must not reorder equal scores.

Revision ID: 0013_rank_first
Revises: 0012_ccs_prediction
Create Date: 2026-12-03
"""

from alembic import op

from migrations import structure_index as index
from migrations.functions import function_sql

revision = "0013_rank_first"
down_revision = "0012_ccs_prediction"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(function_sql("molvis_search", "0013"))
    op.execute("SET LOCAL maintenance_work_mem = '2GB'")
    for model, _ in index.indexed_models(op.get_bind(), index.FLOAT_PREFIX):
        op.execute(f"DROP INDEX {index.FLOAT_PREFIX}{model}")
        op.execute(index.half_hnsw(model))


def downgrade() -> None:
    op.execute(function_sql("molvis_search", "0012"))
    op.execute("SET LOCAL maintenance_work_mem = '2GB'")
    for model, _ in index.indexed_models(op.get_bind()):
        op.execute(f"DROP INDEX {index.name(model)}")
        op.execute(index.float_hnsw(model))
