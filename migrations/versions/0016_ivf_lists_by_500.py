"""Each model's IVFFlat structure index gets twice pgvector's guidance in lists.

Measured at 1M compounds on 2026-12-04 (MS/MS embeddings against MOSES structure embeddings):
at the default 20 probes, 2,000 lists scan about 10k vectors, 1,000 lists 20k. The index scan
alone (`bench.index_sweep`, scratch builds): 2,000 lists reach recall@20 0.970-0.977 in four
builds at p95 3.3-5.1 ms; 1,000 lists 0.968-0.991 in six builds at p95 7.6-9.7 ms. Through
molvis_search() (`bench.query --sizes 1000000`): 0.981 at p95 8.1 ms, against 0.946 at 14.0
ms with 1,000 lists. At equal vectors scanned the two were alike in one run and 2,000 lists
better in the others (1,000 lists at 10 probes: 0.936-0.964). 4,000 lists were no better at
equal latency and took 294-459 s and 3.2 GB to build; 2,000 take 90-113 s, not 29-32.

- lists = rows / 500 up to 1M rows, 2 sqrt(rows) beyond, at most 3,000: pgvector's k-means
  holds a float per sample and list (50 samples per list), about 204 lists^2 bytes; 3,000
  lists built at 1M under the 2 GB a build is given (registry.db.bulk_indexes.BUILD_MEMORY), 3,300
  asked for 2,209 MB;
- each model's structure index is rebuilt with them (about 100 s at 1M vectors);
  molvis_search() is unchanged (molvis.probes stays 20).

Revision ID: 0016_ivf_lists_by_500
Revises: 0015_open_query_ivfflat
Create Date: 2026-12-04
"""

from alembic import op

from migrations import structure_index as index

revision = "0016_ivf_lists_by_500"
down_revision = "0015_open_query_ivfflat"
branch_labels = None
depends_on = None


def _rebuild(lists_for) -> None:
    """Every model's structure index rebuilt (same name, same expression) with lists_for(rows)."""
    op.execute("SET LOCAL maintenance_work_mem = '2GB'")
    for model, rows in index.indexed_models(op.get_bind()):
        op.execute(f"DROP INDEX {index.name(model)}")
        op.execute(index.ivfflat(model, lists_for(rows)))


def upgrade() -> None:
    _rebuild(index.ivf_lists)


def downgrade() -> None:
    _rebuild(index.pgvector_lists)
