"""Does predicted CCS narrow isomer windows? MS/MS test queries whose compound has a measured
CCS are ranked in their mass window twice: by the MS/MS model alone, and after the CCS window
(the query's measured CCS against each candidate's CCS: a measured value where the registry
has one within `tolerance_pct`, else its predicted value within the predicted-CCS tolerance
or, where none is given, within that prediction's own 95 % interval).
The truth is treated as never measured (its predicted CCS decides), as for an unknown. A
third ranking uses CCS as a soft score instead of a window (`soft_scores`).

Each row: queries, mean candidates, how often the truth survives the CCS window, the mean
fraction of candidates it removes, top-k of both rankings and their random expectations."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from models.evaluate import rank_of_truth

KS = (1, 5, 20)


@dataclass
class CcsWindowQuery:
    """One query's window: candidate skeletons, the model's scores, the truth's skeleton, the
    query's measured CCS, and per candidate its measured and predicted CCS (None: unknown) and
    the prediction's 95 % interval in % (`uncertainty`)."""

    keys: list[str]
    scores: np.ndarray
    truth: str
    ccs: float
    measured: list[float | None]
    predicted: list[float | None]
    uncertainty: list[float | None]


def kept(
    q: CcsWindowQuery, tolerance_pct: float, predicted_tolerance_pct: float | None
) -> np.ndarray:
    """Mask of candidates the CCS window keeps (nothing known: kept); predicted_tolerance_pct
    None: each prediction within its own interval."""
    out = np.ones(len(q.keys), dtype=bool)
    for n, key in enumerate(q.keys):
        measured = None if key == q.truth else q.measured[n]
        if measured is not None:
            out[n] = abs(measured - q.ccs) <= q.ccs * tolerance_pct / 100
        elif q.predicted[n] is not None:
            window = (
                q.uncertainty[n] if predicted_tolerance_pct is None else predicted_tolerance_pct
            )
            out[n] = abs(q.predicted[n] - q.ccs) <= q.ccs * window / 100
    return out


def soft_scores(q: CcsWindowQuery, logit_scale: float, laplace_pct: float) -> np.ndarray:
    """CCS as a score instead of a window: the model's logit minus |deviation| / b, the
    log-likelihood of the deviation under Laplace errors of scale b (%); a candidate's measured
    value is used where it has one (never the truth's), else its predicted one, else 0."""
    out = logit_scale * np.asarray(q.scores, dtype=float)
    for n, key in enumerate(q.keys):
        value = None if key == q.truth else q.measured[n]
        value = q.predicted[n] if value is None else value
        if value is not None:
            out[n] -= abs(value - q.ccs) / q.ccs * 100 / laplace_pct
    return out


def _rank(keys: list[str], scores: np.ndarray, truth: str) -> int | None:
    return rank_of_truth(scores, keys.index(truth)) if truth in keys else None


def ccs_window_row(
    queries: list[CcsWindowQuery],
    label: str,
    tolerance_pct: float,
    predicted_tolerance_pct: float | None,
    soft: tuple[float, float] | None = None,
) -> dict[str, Any]:
    """MS/MS alone vs MS/MS + the CCS window on these queries; with `soft` (the model's logit
    scale, the predictor's Laplace error scale in %) also the soft CCS score (no window)."""
    alone, fused, sizes, after, truth_kept, removed, scored = [], [], [], [], [], [], []
    for q in queries:
        if soft:
            scored.append(_rank(q.keys, soft_scores(q, *soft), q.truth))
        mask = kept(q, tolerance_pct, predicted_tolerance_pct)
        keys = [k for k, m in zip(q.keys, mask, strict=True) if m]
        alone.append(_rank(q.keys, q.scores, q.truth))
        fused.append(_rank(keys, q.scores[mask], q.truth))
        sizes.append(len(q.keys))
        after.append(len(keys))
        truth_kept.append(q.truth in keys)
        removed.append(1 - len(keys) / max(len(q.keys), 1))
    row: dict[str, Any] = {
        "windows": label,
        "tolerance_pct": tolerance_pct,
        "predicted_tolerance_pct": predicted_tolerance_pct,
        "n_queries": len(queries),
        "mean_candidates": float(np.mean(sizes)) if sizes else 0.0,
        "truth_kept": float(np.mean(truth_kept)) if queries else 0.0,
        "removed": float(np.mean(removed)) if queries else 0.0,
    }
    rankings = [("msms", alone, sizes), ("msms_ccs", fused, after)]
    if soft:
        rankings.append(("msms_ccs_soft", scored, sizes))
    for name, ranks, n in rankings:
        found = np.array([np.inf if r is None else r for r in ranks], dtype=float)
        counts = np.maximum(np.array(n, dtype=float), 1)
        for k in KS:
            row[f"{name}_top{k}"] = float(np.mean(found <= k)) if queries else 0.0
            row[f"{name}_random_top{k}"] = (
                float(np.mean(np.isfinite(found) * np.minimum(k, counts) / counts))
                if queries
                else 0.0
            )
    return row
