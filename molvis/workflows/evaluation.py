"""Evaluate a registered model on its test split (CLI `molvis evaluate`, the Dagster
`trained_model` asset and bench/accuracy.py): top-k per query modality on the test split and
the mass window, the spectrum-blind control, the harder candidate sets of
`models/candidate_sets.py` beside the structure-prior control, MS/MS with and without the CCS
window (`ccs_evaluation.py`), and how close the test compounds are to training; the report is
stored with the model's metrics."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine

from molvis.workflows.model_loading import load_model
from registry.db.connection import session_scope
from registry.learned.versions import update_metrics
from registry.read.training_data import load_training_set, window_candidates


def evaluate_model(
    engine: Engine,
    model_name: str | None,
    ppm: float,
    max_queries: int | None,
    mass_window: bool,
) -> dict[str, Any]:
    """The evaluation report of one model (default: the active one)."""
    from models.candidate_sets import Candidate, candidate_set_rows
    from models.evaluate import build_queries, evaluate_queries, model_embedder
    from models.split_similarity import nearest_train_similarity
    from molvis.workflows.ccs_evaluation import ccs_window_rows

    loaded = load_model(engine, model_name)
    model, device, info = loaded.model, loaded.device, loaded.info
    with session_scope(engine) as session:
        data = load_training_set(session)
    test_keys = set(loaded.checkpoint["split"]["test"])
    test_smiles = {c.inchikey: c.smiles for c in data.compounds if c.inchikey in test_keys}
    results: list[dict[str, Any]] = []
    controls: list[dict[str, Any]] = []
    with session_scope(engine) as session:
        windows: dict[float, list[Candidate]] = {}  # each window read once for every set

        def candidate_sets_for(mass: float) -> list[Candidate]:
            if mass not in windows:
                windows[mass] = [Candidate(*c) for c in window_candidates(session, mass, ppm)]
            return windows[mass]

        def candidates_for(mass: float) -> list[tuple[str, str]]:
            return [(c.inchikey, c.smiles) for c in candidate_sets_for(mass)]

        window = candidates_for if mass_window else None
        queries = build_queries(data, test_keys, model.config, max_queries)
        cache: dict = {}
        embedder = model_embedder(model, device)
        for name in ("msms", "ir", "ccs", "fused"):
            results += evaluate_queries(embedder, queries[name], test_smiles, window, name, cache)
        blind = build_queries(data, test_keys, model.config, max_queries, blind=True)["msms"]
        for result in evaluate_queries(embedder, blind, test_smiles, window, "msms", cache):
            controls.append({**result, "control": "spectrum_blind"})
        sets: list[dict[str, Any]] = []
        ccs_windows: list[dict[str, Any]] = []
        if mass_window:
            for name in ("msms", "ir", "ccs", "fused"):
                sets += candidate_set_rows(embedder, queries[name], candidate_sets_for, name, cache)
            sets += candidate_set_rows(
                embedder, blind, candidate_sets_for, "msms", cache, control="spectrum_blind"
            )
            ccs_windows = ccs_window_rows(
                session,
                embedder,
                queries["msms"],
                candidate_sets_for,
                cache,
                float(model.logit_scale),
            )
    split = loaded.checkpoint["split"]
    train_keys = set(split["train"])
    similarity = nearest_train_similarity(
        list(test_smiles.values()), [c.smiles for c in data.compounds if c.inchikey in train_keys]
    )
    report = {
        "model": info.name,
        "version": info.version,
        "ppm": ppm,
        "results": results,
        "controls": controls,
        "candidate_sets": sets,
        "ccs_windows": ccs_windows,
        "test_to_train_similarity": similarity,
    }
    with session_scope(engine) as session:
        update_metrics(session, info.name, {**info.metrics, "evaluation": report})
    return report
