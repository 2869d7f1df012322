"""Embedding storage: which compounds and measurements lack vectors for a model, and writing
them (delete-then-insert per shard, so a re-run of a partition is safe)."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from pgvector import Vector
from sqlalchemy import text
from sqlalchemy.orm import Session

from migrations import structure_index
from registry.db.bulk import copy_rows
from registry.db.bulk_indexes import BUILD_MEMORY, is_bulk
from registry.read.measurements import MeasurementRow, read_measurements

EMBED_DIM = structure_index.DIM  # the width of the registry's vector columns (migration 0003)

# In mass order (keyset on compound's (mass, id) index), so a backfill lays the vectors out
# as the mass window reads them (migration 0014).
_MISSING_STRUCTURES = """
SELECT c.id, c.smiles, c.monoisotopic_mass FROM compound c
WHERE (c.monoisotopic_mass, c.id) > (:after_mass, :after) {shard}
  AND NOT EXISTS (SELECT 1 FROM structure_embedding e
                  WHERE e.model_id = :model AND e.compound_id = c.id)
ORDER BY c.monoisotopic_mass, c.id LIMIT :limit
"""


def _shard_clause(shards: int | None) -> str:
    return "AND mod(c.id, :shards) = :shard" if shards else ""


def structures_missing(
    session: Session, model_id: int, batch_size: int, shards: int | None = None, shard: int = 0
) -> Iterator[list[tuple[int, str]]]:
    """Batches of (compound id, SMILES) without an embedding for the model, by keyset paging
    in order of mass."""
    after_mass, after = float("-inf"), 0
    sql = text(_MISSING_STRUCTURES.format(shard=_shard_clause(shards)))
    while True:
        rows = session.execute(
            sql,
            {
                "after_mass": after_mass,
                "after": after,
                "model": model_id,
                "limit": batch_size,
                "shards": shards,
                "shard": shard,
            },
        ).all()
        if not rows:
            return
        after, after_mass = rows[-1][0], rows[-1][2]
        yield [(r[0], r[1]) for r in rows]


def write_structure_embeddings(
    session: Session, model_id: int, ids: list[int], vectors: np.ndarray
) -> None:
    _upsert_vectors(
        session,
        "structure_embedding",
        ["model_id", "compound_id"],
        ["int4", "int8"],
        [(model_id, cid) for cid in ids],
        vectors,
        ["model_id", "compound_id"],
    )


def _upsert_vectors(
    session: Session,
    table: str,
    keys: list[str],
    key_types: list[str],
    rows: list[tuple],
    vectors: np.ndarray,
    conflict: list[str],
) -> None:
    """Insert or replace vectors (pgvector's binary form) by key, by binary COPY."""
    copy_rows(
        session,
        table,
        [*keys, "embedding"],
        ((*key, Vector(vector).to_binary()) for key, vector in zip(rows, vectors, strict=True)),
        conflict,
        on_conflict="DO UPDATE SET embedding = EXCLUDED.embedding",
        binary_types=[*key_types, "bytea"],
    )


def vector_literal(vector: np.ndarray) -> str:
    """A pgvector text literal ('[0.1,0.2,...]') for binding as text and casting in SQL."""
    return "[" + ",".join(f"{x:.7g}" for x in np.asarray(vector, dtype=np.float64)) + "]"


def delete_structure_shard(session: Session, model_id: int, shards: int, shard: int) -> int:
    return session.execute(
        text(
            "DELETE FROM structure_embedding WHERE model_id = :model "
            "AND mod(compound_id, :shards) = :shard"
        ),
        {"model": model_id, "shards": shards, "shard": shard},
    ).rowcount


def drop_vectors(session: Session, model_id: int) -> None:
    """Delete every stored vector of a model (its weights changed)."""
    session.execute(text("DELETE FROM structure_embedding WHERE model_id = :m"), {"m": model_id})
    session.execute(text("DELETE FROM measurement_embedding WHERE model_id = :m"), {"m": model_id})


def measurements_missing(session: Session, model_id: int, modality: str) -> list[MeasurementRow]:
    """Measurements of one modality without an embedding for the model (compound = its id)."""
    return read_measurements(
        session,
        modality,
        "NOT EXISTS (SELECT 1 FROM measurement_embedding e WHERE e.model_id = :model "
        "AND e.modality = :modality AND e.measurement_id = t.id)",
        {"model": model_id, "modality": modality},
    )


def write_measurement_embeddings(
    session: Session,
    model_id: int,
    modality: str,
    measurement_ids: list[int],
    compound_ids: list[int],
    vectors: np.ndarray,
) -> None:
    _upsert_vectors(
        session,
        "measurement_embedding",
        ["model_id", "modality", "measurement_id", "compound_id"],
        ["int4", "text", "int8", "int8"],
        [(model_id, modality, m, c) for m, c in zip(measurement_ids, compound_ids, strict=True)],
        vectors,
        ["model_id", "modality", "measurement_id"],
    )


def embedding_counts(session: Session, model_id: int) -> dict[str, int]:
    structures = session.execute(
        text("SELECT count(*) FROM structure_embedding WHERE model_id = :m"), {"m": model_id}
    ).scalar()
    per = dict(
        session.execute(
            text(
                "SELECT modality, count(*) FROM measurement_embedding WHERE model_id = :m "
                "GROUP BY modality"
            ),
            {"m": model_id},
        ).all()
    )
    return {"structure": structures, **per}


# The structure index: IVFFlat over half-precision copies of the vectors, which
# molvis_search() queries by that expression (ivfflat.probes from molvis.probes) and re-ranks at
# full precision; its DDL and lists, with the versions before it: migrations/structure_index.py.


def build_structure_index(session: Session, model_id: int) -> str:
    """The IVFFlat index (inner product on unit vectors = cosine) over one model's structure
    vectors, when missing: its lists are learnt from the vectors stored now, so it is built
    after a backfill (a bulk backfill drops it first)."""
    rows = session.execute(  # kept by triggers (migration 0005): no scan of the model's rows
        text("SELECT structure_embeddings FROM model WHERE id = :m"), {"m": model_id}
    ).scalar_one()
    session.execute(text(f"SET LOCAL maintenance_work_mem = '{BUILD_MEMORY}'"))
    session.execute(text(structure_index.ivfflat(model_id, structure_index.ivf_lists(rows))))
    return structure_index.name(model_id)


def drop_structure_index_for_backlog(session: Session, model_id: int) -> bool:
    """Drop the model's structure index when the structures still to embed make a bulk load
    (registry.db.bulk_indexes.is_bulk); True when dropped, for the backfill to rebuild it after (and
    learn its lists from the new vectors)."""
    missing, held = session.execute(
        text("""SELECT (SELECT count(*) FROM compound c WHERE NOT EXISTS (
                            SELECT 1 FROM structure_embedding e
                            WHERE e.model_id = :m AND e.compound_id = c.id)),
                       (SELECT structure_embeddings FROM model WHERE id = :m)"""),
        {"m": model_id},
    ).one()
    if not is_bulk(missing, held or 0):
        return False
    session.execute(text(f"DROP INDEX IF EXISTS {structure_index.name(model_id)}"))
    return True


def structure_vectors(session: Session, model_id: int, inchikeys: list[str]) -> dict[str, list]:
    """Stored structure embeddings of one model for these compounds (InChIKey -> floats)."""
    rows = session.execute(
        text("""SELECT c.inchikey, e.embedding::real[] AS v FROM structure_embedding e
                JOIN compound c ON c.id = e.compound_id
                WHERE e.model_id = :m AND c.inchikey = ANY(:keys)"""),
        {"m": model_id, "keys": inchikeys},
    )
    return {r.inchikey: r.v for r in rows}
