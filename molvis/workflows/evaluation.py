"""Evaluate a registered model on its test split (CLI `molvis evaluate`, the Dagster
`trained_model` asset and bench/accuracy.py): top-k per query modality on the test split and
the mass window, the spectrum-blind control, the harder candidate sets of
`models/candidate_sets.py` beside the structure-prior control, MS/MS with and without the CCS
window (`ccs_evaluation.py`), and how close the test compounds are to training; the report is
stored with the model's metrics."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from molvis.workflows.model_loading import load_model
from registry.db.connection import session_scope
from registry.learned.versions import update_metrics
from registry.read.training_data import load_training_set, window_candidates


@dataclass
class _Windows:
    """The registry's candidate windows, each read once for every query set that needs it."""

    session: Session
    ppm: float
    read: dict[float, list] = field(default_factory=dict)

    def candidates(self, mass: float) -> list:
        from models.candidate_sets import Candidate

        if mass not in self.read:
            found = window_candidates(self.session, mass, self.ppm)
            self.read[mass] = [Candidate(*c) for c in found]
        return self.read[mass]

    def structures(self, mass: float) -> list[tuple[str, str]]:
        return [(c.inchikey, c.smiles) for c in self.candidates(mass)]


def fragmenter_scores(query, candidates: list) -> np.ndarray:
    """Each candidate's fragmenter score for the query's measured MS/MS (one cleavage step:
    as good as two in `bench/fragments.py`, at a tenth of the cost); 0 for a structure RDKit
    cannot read."""
    from registry.chem.explain import explain

    spectrum = query.spectrum
    scores = []
    for c in candidates:
        try:
            found = explain(c.smiles, spectrum.adduct, spectrum.mz, spectrum.intensity,
                            spectrum.precursor_mz, depth=1)  # fmt: skip
            scores.append(found.score)
        except ValueError:
            scores.append(0.0)
    return np.array(scores)


def _window_rows(session, embedder, queries, blind, windows: _Windows, cache, logit_scale):
    """The rows that need each window's candidates: candidate sets per modality (and the
    spectrum-blind control's, and the fragmenter's on the MS/MS queries) and the CCS windows."""
    from models.candidate_sets import candidate_set_rows
    from molvis.workflows.ccs_evaluation import ccs_window_rows

    sets: list[dict[str, Any]] = []
    for name in ("msms", "ir", "ccs", "fused"):
        sets += candidate_set_rows(embedder, queries[name], windows.candidates, name, cache)
    sets += candidate_set_rows(
        embedder, blind, windows.candidates, "msms", cache, control="spectrum_blind"
    )
    sets += candidate_set_rows(
        embedder, queries["msms"], windows.candidates, "msms fragmenter", cache,
        scores_for=fragmenter_scores,
    )  # fmt: skip
    ccs = ccs_window_rows(
        session, embedder, queries["msms"], windows.candidates, cache, logit_scale
    )
    return sets, ccs


def evaluate_model(
    engine: Engine,
    model_name: str | None,
    ppm: float,
    max_queries: int | None,
    mass_window: bool,
) -> dict[str, Any]:
    """The evaluation report of one model (default: the active one)."""
    from models.evaluate import build_queries, evaluate_queries, model_embedder
    from models.split_similarity import nearest_train_similarity

    loaded = load_model(engine, model_name)
    model, info, split = loaded.model, loaded.info, loaded.checkpoint["split"]
    with session_scope(engine) as session:
        data = load_training_set(session)
    test_keys = set(split["test"])
    test_smiles = {c.inchikey: c.smiles for c in data.compounds if c.inchikey in test_keys}
    results: list[dict[str, Any]] = []
    sets: list[dict[str, Any]] = []
    ccs_windows: list[dict[str, Any]] = []
    with session_scope(engine) as session:
        windows = _Windows(session, ppm)
        window = windows.structures if mass_window else None
        queries = build_queries(data, test_keys, model.config, max_queries)
        cache: dict = {}
        embedder = model_embedder(model, loaded.device)
        for name in ("msms", "ir", "ccs", "fused"):
            results += evaluate_queries(embedder, queries[name], test_smiles, window, name, cache)
        blind = build_queries(data, test_keys, model.config, max_queries, blind=True)["msms"]
        controls = [
            {**result, "control": "spectrum_blind"}
            for result in evaluate_queries(embedder, blind, test_smiles, window, "msms", cache)
        ]
        if mass_window:
            logit_scale = float(model.logit_scale)
            sets, ccs_windows = _window_rows(
                session, embedder, queries, blind, windows, cache, logit_scale
            )
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
