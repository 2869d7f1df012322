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

The lists are learnt from the vectors present when the index is built: registry.embeddings
builds it after a backfill (and a bulk backfill drops it first), so it is learnt from the
registry's vectors. Results of the mass-window and filtered paths are unchanged.

Revision ID: 0015_open_query_ivfflat
Revises: 0014_window_in_mass_order
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

from migrations.functions import function_sql

revision = "0015_open_query_ivfflat"
down_revision = "0014_window_in_mass_order"
branch_labels = None
depends_on = None

# Each model's structure index as this revision builds it (registry.embeddings builds the same
# for models indexed later).
IVF_INDEX = (
    "CREATE INDEX ix_structure_embedding_half_m{model} ON structure_embedding "
    "USING ivfflat ((embedding::halfvec(256)) halfvec_ip_ops) WITH (lists = {lists}) "
    "WHERE model_id = {model}"
)
HNSW_INDEX = (  # 0013's
    "CREATE INDEX ix_structure_embedding_half_m{model} ON structure_embedding "
    "USING hnsw ((embedding::halfvec(256)) halfvec_ip_ops) WITH (m = 16, ef_construction = 64) "
    "WHERE model_id = {model}"
)
PREFIX = "ix_structure_embedding_half_m"


def ivf_lists(rows: int) -> int:
    """pgvector's guidance: rows / 1000 up to 1M rows, sqrt(rows) beyond; at least one."""
    return max(1, rows // 1000 if rows <= 1_000_000 else int(rows**0.5))


def _indexed_models() -> list[tuple[int, int]]:
    """(model id, its structure vectors) for every model with a structure index."""
    rows = op.get_bind().execute(
        sa.text(
            "SELECT i.indexname, coalesce(m.structure_embeddings, 0) FROM pg_indexes i "
            "LEFT JOIN model m ON i.indexname = :p || m.id "
            "WHERE i.tablename = 'structure_embedding' AND i.indexname LIKE :p || '%'"
        ),
        {"p": PREFIX},
    )
    return [(int(name.removeprefix(PREFIX)), int(n)) for name, n in rows]


def upgrade() -> None:
    op.execute(function_sql("molvis_search", "0015"))
    op.execute("SET LOCAL maintenance_work_mem = '2GB'")
    for model, rows in _indexed_models():
        op.execute(f"DROP INDEX {PREFIX}{model}")
        op.execute(IVF_INDEX.format(model=model, lists=ivf_lists(rows)))


def downgrade() -> None:
    op.execute(function_sql("molvis_search", "0014"))
    op.execute("SET LOCAL maintenance_work_mem = '2GB'")
    for model, _ in _indexed_models():
        op.execute(f"DROP INDEX {PREFIX}{model}")
        op.execute(HNSW_INDEX.format(model=model))
