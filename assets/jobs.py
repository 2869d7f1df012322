"""Jobs that join the registry and the models: train and register, evaluate, embed backfills.
The CLI runs them in-process; the Dagster assets run the same functions."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from registry.db import get_engine, session_scope
from registry.settings import load_settings

PRETRAINED_DIR = Path(__file__).resolve().parent.parent / "models" / "pretrained"
EMBED_DIM = 256


def ensure_pretrained(session) -> None:
    """First use: register the checkpoints shipped with molvis, the first one as active."""
    from registry.model_store import list_models, register_model

    if list_models(session):
        return
    import torch

    for n, path in enumerate(sorted(PRETRAINED_DIR.glob("*.pt"))):
        checkpoint = torch.load(path, map_location="cpu", weights_only=False)
        register_model(
            session,
            path.stem,
            checkpoint["version"],
            str(path),
            checkpoint["config"],
            checkpoint.get("metrics", {}),
            activate=n == 0,
        )


def train_and_register(
    config, output: Path | None, activate: bool, show_progress: bool = True
) -> dict[str, Any]:
    """Train on the registry, save the checkpoint, register the model version."""
    from models.checkpoint import save_checkpoint
    from models.train import train
    from registry.model_store import register_model
    from registry.training_data import load_training_set

    with session_scope(get_engine()) as session:
        data = load_training_set(session, config.max_compounds)
    print(
        f"training {config.name} on {len(data.compounds)} compounds, {len(data.msms)} MS/MS, "
        f"{len(data.ir)} IR, {len(data.ccs)} CCS",
        file=sys.stderr,
    )
    result = train(data, config, show_progress=show_progress)
    path = output or load_settings().home / "models" / f"{config.name}.pt"
    save_checkpoint(result.checkpoint, path)
    with session_scope(get_engine()) as session:
        ensure_pretrained(session)
        register_model(
            session,
            config.name,
            result.checkpoint["version"],
            str(path.resolve()),
            result.checkpoint["config"],
            result.checkpoint["metrics"],
            activate=activate,
        )
    return {
        "name": config.name,
        "version": result.checkpoint["version"],
        "path": str(path),
        "best_epoch": result.checkpoint["metrics"]["best_epoch"],
        "history": result.history,
    }


def load_model(name: str | None):
    """(model info, model in eval mode, checkpoint) of a registered model (default: active)."""
    from models.checkpoint import load_checkpoint
    from models.train import pick_device
    from registry.model_store import get_model

    with session_scope(get_engine()) as session:
        ensure_pretrained(session)
        info = get_model(session, name)
    device = pick_device("auto")
    model, checkpoint = load_checkpoint(Path(info.path), str(device))
    return info, model, checkpoint, device


def evaluate_model(
    model_name: str | None, ppm: float, max_queries: int | None, mass_window: bool
) -> dict[str, Any]:
    """Top-k of every query modality on the model's test split, both candidate sets, plus the
    spectrum-blind control; the report is stored with the model's metrics."""
    from models.evaluate import build_queries, evaluate_queries
    from registry.model_store import update_metrics
    from registry.training_data import candidates_in_window, load_training_set

    info, model, checkpoint, device = load_model(model_name)
    with session_scope(get_engine()) as session:
        data = load_training_set(session)
    test_keys = set(checkpoint["split"]["test"])
    test_smiles = {c.inchikey: c.smiles for c in data.compounds if c.inchikey in test_keys}
    results: list[dict[str, Any]] = []
    controls: list[dict[str, Any]] = []
    with session_scope(get_engine()) as session:

        def candidates_for(mass: float) -> list[tuple[str, str]]:
            return [(c.inchikey, c.smiles) for c in candidates_in_window(session, mass, ppm)]

        window = candidates_for if mass_window else None
        queries = build_queries(data, test_keys, model.config, max_queries)
        cache: dict = {}
        for name in ("msms", "ir", "ccs", "fused"):
            results += evaluate_queries(
                model, queries[name], test_smiles, window, device, name, cache
            )
        blind = build_queries(data, test_keys, model.config, max_queries, blind=True)["msms"]
        for result in evaluate_queries(model, blind, test_smiles, window, device, "msms", cache):
            controls.append({**result, "control": "spectrum_blind"})
    report = {
        "model": info.name,
        "version": info.version,
        "ppm": ppm,
        "results": results,
        "controls": controls,
    }
    with session_scope(get_engine()) as session:
        update_metrics(session, info.name, {**info.metrics, "evaluation": report})
    return report


def embed_backfill(
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
    """Embed every compound and measurement lacking a vector for the model (structures may be
    limited to one id shard). Structure batches commit one by one; with `replace` the shard is
    deleted first, so re-running a partition is safe. `workers`: featurisation processes
    (default: half the cores on CPU, all but one with a GPU)."""
    import torch

    from models.data import msms_input
    from models.embed import backfill, default_workers, embed_inputs
    from registry import embeddings as store
    from registry.training_data import CcsRow, IrRow

    info, model, _, device = load_model(model_name)
    if model.config.embed_dim != EMBED_DIM:
        raise ValueError(
            f"model {info.name} embeds in {model.config.embed_dim} dimensions; "
            f"the registry stores {EMBED_DIM}"
        )
    counts: dict[str, int] = {}
    engine = get_engine()
    if replace and shards:
        with session_scope(engine) as session:
            store.delete_structure_shard(session, info.id, shards, shard)
    if structures:
        with session_scope(engine) as reader:

            def write(ids: list[int], vectors) -> None:
                with session_scope(engine) as writer:
                    store.write_structure_embeddings(writer, info.id, ids, vectors)

            done = backfill(
                store.structures_missing(reader, info.id, batch_size, shards, shard),
                model,
                write,
                device,
                (lambda n: progress("structure", n)) if progress else None,
                default_workers(device) if workers is None else workers,
            )
        counts["structure"] = done.embedded
        counts["structure_skipped"] = done.skipped
    if not measurements:
        return counts
    for modality in ("msms", "ir", "ccs"):
        with session_scope(engine) as session:
            rows = store.measurements_missing(session, info.id, modality)
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
                vectors = embed_inputs(model, modality, inputs[start : start + batch_size], device)
                ids = [r.value_id if isinstance(r, CcsRow) else r.spectrum_id for r in chunk]
                store.write_measurement_embeddings(
                    session, info.id, modality, ids, [r.compound for r in chunk], vectors
                )
                if progress:
                    progress(modality, len(chunk))
        counts[modality] = len(rows)
    return counts
