"""The open query searches an IVFFlat index instead of HNSW.

Measured at 1M compounds on 2026-12-04 (MS/MS embeddings against MOSES structure embeddings,
`python -m bench.query --sizes 1000000`, through molvis_search()): HNSW's greedy descent
reaches the true nearest structures of these cross-modal queries only at a high ef_search,
and how often depends on the graph a build happens to make (recall@20 0.851 at ef_search 400,
p95 11.9 ms; 0.909 at 800, p95 18.0 ms; 0.82-0.98 at 400 over earlier builds). An IVFFlat
index of 1,000 lists scans the whole lists nearest the query, which follows no greedy path:
recall@20 0.930 at 15 probes (p95 11.6 ms), 0.946 at 20 (p95 14.0 ms), 0.971 at 40; it builds
in 32 s instead of 123 s and takes 525 MB instead of 793. A registry smaller than the lists
probed is searched exactly.

- each model's structure index (same name) becomes IVFFlat over half-precision copies with
  rows / 1000 lists (sqrt(rows) above 1M rows: pgvector's guidance), at least one;
- molvis_search()'s open path sets ivfflat.probes from `molvis.probes` (default 20) instead of
  hnsw.ef_search from `molvis.ef_search`.

The lists are learnt from the vectors present when the index is built: registry.learned.embeddings
builds it after a backfill (and a bulk backfill drops it first), so it is learnt from the
registry's vectors. Results of the mass-window and filtered paths are unchanged.

Revision ID: 0015_open_query_ivfflat
Revises: 0014_window_in_mass_order
Create Date: 2026-12-04
"""

from alembic import op

from migrations import structure_index as index
from migrations.functions import function_sql

revision = "0015_open_query_ivfflat"
down_revision = "0014_window_in_mass_order"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(function_sql("molvis_search", "0015"))
    op.execute("SET LOCAL maintenance_work_mem = '2GB'")
    for model, rows in index.indexed_models(op.get_bind()):
        op.execute(f"DROP INDEX {index.name(model)}")
        op.execute(index.ivfflat(model, index.pgvector_lists(rows)))


def downgrade() -> None:
    op.execute(function_sql("molvis_search", "0014"))
    op.execute("SET LOCAL maintenance_work_mem = '2GB'")
    for model, _ in index.indexed_models(op.get_bind()):
        op.execute(f"DROP INDEX {index.name(model)}")
        op.execute(index.half_hnsw(model))
