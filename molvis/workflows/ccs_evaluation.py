"""The CCS rows of `molvis evaluate`: MS/MS alone vs MS/MS + the CCS window on test queries
whose compound has a measured CCS (models/ccs_windows.py), in windows of 10+ candidates."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from sqlalchemy.orm import Session

from models.candidate_sets import window_scores
from models.ccs_inputs import ADDUCTS
from models.ccs_windows import CcsWindowQuery, ccs_window_row
from models.evaluate import Embedder, Query, embed_queries
from registry.learned.ccs_predictions import (
    UnknownPredictorError,
    get_predictor,
    predicted_by_skeleton,
)
from registry.search.molvis_search import measured_ccs

BUCKETS = (("10+", 10, None), ("10-99", 10, 99), ("100+", 100, None))
QUERY_TOLERANCE_PCT = 3.0  # the window around the query's measured CCS


def _median_measured(session: Session, skeletons: list[str], adduct: str) -> dict[str, float]:
    """Median current measured CCS of one ion per skeleton."""
    return {k: float(np.median(v)) for k, v in measured_ccs(session, skeletons, adduct).items()}


def _window(uncertainty: float | None, tolerance_pct: float) -> float:
    """A prediction's own window: its interval (0 included, as molvis_ccs_fits()'s coalesce
    takes it), else (a predictor that gives none) the predictor's tolerance."""
    return tolerance_pct if uncertainty is None else uncertainty


def ccs_window_rows(
    session: Session,
    embedder: Embedder,
    queries: list[Query],
    candidates_for: Callable[[float], list],
    cache: dict[str, torch.Tensor],
    logit_scale: float,
) -> list[dict[str, Any]]:
    """Rows for the 3 % window (the issue's), the predictor's own tolerance and each
    prediction's own 95 % interval on predicted values; [] without a registered CCS predictor."""
    try:
        predictor = get_predictor(session)
    except UnknownPredictorError:
        return []
    skeletons = sorted({q.truth[:14] for q in queries})
    truths = {
        (k, a): v for a in ADDUCTS for k, v in _median_measured(session, skeletons, a).items()
    }
    chosen = []
    for q in queries:  # the truth's ion: the first of the predictor's adducts it was measured as
        adduct = next((a for a in ADDUCTS if (q.truth[:14], a) in truths), None)
        if adduct and q.neutral_mass:
            chosen.append((q, adduct, truths[(q.truth[:14], adduct)]))
    vectors = embed_queries(embedder, [q for q, _, _ in chosen])
    windows: list[tuple[int, CcsWindowQuery]] = []
    for i, (q, adduct, ccs) in enumerate(chosen):
        cands = candidates_for(q.neutral_mass)
        if len(cands) < 10:
            continue
        scores = window_scores(embedder, cands, vectors[i], cache)
        keys = [c.inchikey[:14] for c in cands]
        measured = _median_measured(session, keys, adduct)
        _, predicted = predicted_by_skeleton(session, keys, adduct, predictor.name)
        windows.append(
            (
                len(cands),
                CcsWindowQuery(
                    keys,
                    scores,
                    q.truth[:14],
                    ccs,
                    [measured.get(k) for k in keys],
                    [predicted[k][0] if k in predicted else None for k in keys],
                    [
                        _window(predicted[k][1], predictor.tolerance_pct)
                        if k in predicted
                        else None
                        for k in keys
                    ],
                ),
            )
        )
    # the soft score's error scale, fixed beforehand: a Laplace fit of the validation errors
    # (median = b ln 2), never tuned on these queries
    laplace = predictor.metrics.get("val_median_pct", predictor.tolerance_pct / 3) / math.log(2)
    rows = []
    for label, lo, hi in BUCKETS:
        subset = [w for n, w in windows if n >= lo and (hi is None or n <= hi)]
        for predicted_tolerance in (QUERY_TOLERANCE_PCT, predictor.tolerance_pct, None):
            row = ccs_window_row(
                subset, label, QUERY_TOLERANCE_PCT, predicted_tolerance, (logit_scale, laplace)
            )
            rows.append({**row, "predictor": predictor.name, "soft_laplace_pct": laplace})
    return rows
