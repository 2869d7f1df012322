"""The CCS rows of `molvis evaluate`: MS/MS alone vs MS/MS + the CCS window on test queries
whose compound has a measured CCS (models/ccs_windows.py), in windows of 10+ candidates."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from sqlalchemy import text
from sqlalchemy.orm import Session

from models.ccs import ADDUCTS
from models.ccs_windows import CcsWindowQuery, ccs_window_row
from models.evaluate import Embedder, Query, embed_queries, embed_structures
from registry.ccs_predictions import UnknownPredictorError, get_predictor, predicted_by_skeleton

BUCKETS = (("10+", 10, None), ("10-99", 10, 99), ("100+", 100, None))
QUERY_TOLERANCE_PCT = 3.0  # the window around the query's measured CCS


def _measured(session: Session, skeletons: list[str]) -> dict[tuple[str, str], float]:
    """Median current measured CCS per (skeleton, adduct)."""
    rows = session.execute(
        text(
            "SELECT left(c.inchikey, 14), v.adduct, "
            "percentile_cont(0.5) WITHIN GROUP (ORDER BY v.ccs) FROM ccs_value v "
            "JOIN compound c ON c.id = v.compound_id WHERE left(c.inchikey, 14) = ANY (:keys) "
            "AND v.superseded_by IS NULL AND v.adduct = ANY (:adducts) GROUP BY 1, 2"
        ),
        {"keys": skeletons, "adducts": list(ADDUCTS)},
    ).all()
    return {(k, a): float(v) for k, a, v in rows}


def ccs_window_rows(
    session: Session,
    embedder: Embedder,
    queries: list[Query],
    candidates_for: Callable[[float], list],
    cache: dict[str, torch.Tensor],
    logit_scale: float,
) -> list[dict[str, Any]]:
    """Rows for the 3 % window (the issue's) and for the predictor's own tolerance on
    predicted values; [] without a registered CCS predictor."""
    try:
        predictor = get_predictor(session)
    except UnknownPredictorError:
        return []
    truths = _measured(session, sorted({q.truth[:14] for q in queries}))
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
        missing = [c for c in cands if c.inchikey not in cache]
        if missing:
            new = embed_structures(embedder, [c.smiles for c in missing])
            cache.update({c.inchikey: v for c, v in zip(missing, new, strict=True)})
        scores = (torch.stack([cache[c.inchikey] for c in cands]) @ vectors[i]).numpy()
        keys = [c.inchikey[:14] for c in cands]
        measured = _measured(session, keys)
        _, predicted = predicted_by_skeleton(session, keys, adduct, predictor.name)
        windows.append(
            (
                len(cands),
                CcsWindowQuery(
                    keys,
                    np.asarray(scores),
                    q.truth[:14],
                    ccs,
                    [measured.get((k, adduct)) for k in keys],
                    [predicted.get(k) for k in keys],
                ),
            )
        )
    # the soft score's error scale, fixed beforehand: a Laplace fit of the validation errors
    # (median = b ln 2), never tuned on these queries
    laplace = predictor.metrics.get("val_median_pct", predictor.tolerance_pct / 3) / math.log(2)
    rows = []
    for label, lo, hi in BUCKETS:
        subset = [w for n, w in windows if n >= lo and (hi is None or n <= hi)]
        for predicted_tolerance in (QUERY_TOLERANCE_PCT, predictor.tolerance_pct):
            row = ccs_window_row(
                subset, label, QUERY_TOLERANCE_PCT, predicted_tolerance, (logit_scale, laplace)
            )
            rows.append({**row, "predictor": predictor.name, "soft_laplace_pct": laplace})
    return rows
