"""Embedding backfill (CLI `molvis embed`, the Dagster embedding assets, the UI tests): every
compound and measurement lacking a vector for a model gets one."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Engine

from molvis.workflows.model_loading import LoadedModel, load_model
from registry.db.connection import session_scope
from registry.learned import embeddings
from registry.learned.embeddings import EMBED_DIM
from registry.read.measurements import CcsRow, IrRow


def embed_backfill(
    engine: Engine,
    model_name: str | None,
    batch_size: int = 1024,
    shards: int | None = None,
    shard: int = 0,
    replace: bool = False,
    structures: bool = True,
    measurements: bool = True,
    progress: Callable[[str, int], None] | None = None,
    workers: int | None = None,
) -> dict[str, int]:
    """Embed what lacks a vector for the model (structures may be limited to one id shard).
    Structure batches commit one by one; with `replace` the shard is deleted first, so re-running
    a partition is safe. A whole backfill of a large structure backlog runs without the
    model's structure index (IVFFlat), dropped and rebuilt here. `workers`: featurisation
    processes (default: half the cores on CPU, all but one with a GPU). A whole backfill ends
    with the model's structure index in place (built when missing), so the structures are
    searchable."""
    loaded = load_model(engine, model_name)
    if loaded.model.config.embed_dim != EMBED_DIM:
        raise ValueError(
            f"model {loaded.info.name} embeds in {loaded.model.config.embed_dim} dimensions; "
            f"the registry stores {EMBED_DIM}"
        )
    counts: dict[str, int] = {}
    if replace and shards:
        with session_scope(engine) as session:
            embeddings.delete_structure_shard(session, loaded.info.id, shards, shard)
    if structures:
        counts |= _embed_structures(engine, loaded, batch_size, shards, shard, progress, workers)
    if measurements:
        for modality in ("msms", "ir", "ccs"):
            counts[modality] = _embed_measurements(engine, loaded, modality, batch_size, progress)
    return counts


def _embed_structures(
    engine: Engine,
    loaded: LoadedModel,
    batch_size: int,
    shards: int | None,
    shard: int,
    progress: Callable[[str, int], None] | None,
    workers: int | None,
) -> dict[str, int]:
    """Every compound (of the shard) without a structure vector; a whole backfill drops the
    structure index before a large backlog and ends with it built."""
    from models.embed import backfill
    from models.prefetch import default_workers

    model_id = loaded.info.id
    if not shards:  # a whole backfill; shard runs leave the index to the index asset
        with session_scope(engine) as session:
            embeddings.drop_structure_index_for_backlog(session, model_id)
    with session_scope(engine) as reader:

        def write(ids: list[int], vectors) -> None:
            with session_scope(engine) as writer:
                embeddings.write_structure_embeddings(writer, model_id, ids, vectors)

        done = backfill(
            embeddings.structures_missing(reader, model_id, batch_size, shards, shard),
            loaded.model,
            write,
            loaded.device,
            (lambda n: progress("structure", n)) if progress else None,
            default_workers(loaded.device) if workers is None else workers,
        )
    if not shards:  # what this backfill dropped, or an index never built
        with session_scope(engine) as session:
            embeddings.build_structure_index(session, model_id)
    return {"structure": done.embedded, "structure_skipped": done.skipped}


def _embed_measurements(
    engine: Engine,
    loaded: LoadedModel,
    modality: str,
    batch_size: int,
    progress: Callable[[str, int], None] | None,
) -> int:
    """Every stored measurement of one modality without a vector; how many were embedded."""
    import torch

    from models.data import msms_input
    from models.embed import embed_inputs

    model = loaded.model
    with session_scope(engine) as session:
        rows = embeddings.measurements_missing(session, loaded.info.id, modality)
        inputs = [
            (r.ccs, r.mz, r.adduct)
            if isinstance(r, CcsRow)
            else torch.from_numpy(r.vector)
            if isinstance(r, IrRow)
            else msms_input(r, model.config)
            for r in rows
        ]
        for start in range(0, len(rows), batch_size):
            chunk = rows[start : start + batch_size]
            vectors = embed_inputs(
                model, modality, inputs[start : start + batch_size], loaded.device
            )
            embeddings.write_measurement_embeddings(
                session,
                loaded.info.id,
                modality,
                [r.measurement_id for r in chunk],
                [r.compound for r in chunk],
                vectors,
            )
            if progress:
                progress(modality, len(chunk))
    return len(rows)
