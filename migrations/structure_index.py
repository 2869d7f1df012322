"""Each model's structure index (one partial index per model over structure_embedding), every
version the migrations built, in one place; registry/learned/embeddings.py builds the newest for
models indexed after them.

- before 0013: HNSW over the float32 vectors (`ix_structure_embedding_hnsw_m<model>`);
- 0013: HNSW over half-precision copies, m 16, ef_construction 64 (`..._half_m<model>`);
- 0015: IVFFlat over half-precision copies, pgvector's lists (`pgvector_lists`);
- 0016: IVFFlat, twice pgvector's lists within the build memory (`ivf_lists`)."""

from __future__ import annotations

import sqlalchemy as sa

HALF_PREFIX = "ix_structure_embedding_half_m"
FLOAT_PREFIX = "ix_structure_embedding_hnsw_m"
DIM = 256  # the vector columns' width (migration 0003)
# 3,000 lists are the most whose k-means fits registry.db.bulk_indexes.BUILD_MEMORY (about 204
# lists^2 bytes: pgvector keeps a float per sample and list, 50 samples per list)
MAX_IVF_LISTS = 3000


def name(model_id: int) -> str:
    """The name of a model's structure index since 0013."""
    return f"{HALF_PREFIX}{int(model_id)}"


def ivfflat(model_id: int, lists: int) -> str:
    """0015's index: IVFFlat (inner product on unit vectors = cosine) over half precision."""
    return (
        f"CREATE INDEX IF NOT EXISTS {name(model_id)} ON structure_embedding USING ivfflat "
        f"((embedding::halfvec({DIM})) halfvec_ip_ops) WITH (lists = {int(lists)}) "
        f"WHERE model_id = {int(model_id)}"
    )


def half_hnsw(model_id: int) -> str:
    """0013's index: HNSW over half-precision copies."""
    return (
        f"CREATE INDEX IF NOT EXISTS {name(model_id)} ON structure_embedding USING hnsw "
        f"((embedding::halfvec({DIM})) halfvec_ip_ops) WITH (m = 16, ef_construction = 64) "
        f"WHERE model_id = {int(model_id)}"
    )


def float_hnsw(model_id: int) -> str:
    """The index before 0013: HNSW over the float32 vectors."""
    return (
        f"CREATE INDEX IF NOT EXISTS {FLOAT_PREFIX}{int(model_id)} ON structure_embedding "
        f"USING hnsw (embedding vector_ip_ops) WHERE model_id = {int(model_id)}"
    )


def pgvector_lists(rows: int) -> int:
    """0015's lists, pgvector's guidance: rows / 1000 up to 1M rows, sqrt(rows) beyond; >= 1."""
    return max(1, rows // 1000 if rows <= 1_000_000 else int(rows**0.5))


def ivf_lists(rows: int) -> int:
    """Lists since 0016: twice pgvector's guidance, rows / 500 up to 1M rows and 2 sqrt(rows)
    beyond, at most MAX_IVF_LISTS; at least one (a single list is an exact scan). Smaller
    lists hold a query's neighbours more tightly (bench.index_sweep; 0016 has the figures)."""
    return max(1, min(MAX_IVF_LISTS, rows // 500 if rows <= 1_000_000 else int(2 * rows**0.5)))


def indexed_models(bind, prefix: str = HALF_PREFIX) -> list[tuple[int, int]]:
    """(model id, its structure vectors) of every model with an index named `prefix<id>`."""
    rows = bind.execute(
        sa.text(
            "SELECT i.indexname, coalesce(m.structure_embeddings, 0) FROM pg_indexes i "
            "LEFT JOIN model m ON i.indexname = :p || m.id "
            "WHERE i.tablename = 'structure_embedding' AND i.indexname LIKE :p || '%'"
        ),
        {"p": prefix},
    )
    return [(int(index.removeprefix(prefix)), int(n)) for index, n in rows]
