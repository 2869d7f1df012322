"""The probability that a hit is the right structure when the right structure may be absent
from the registry (open world, as SIRIUS's COSMIC asks it).

Two logistic models over each hit's evidence (its library score and matched peaks, the model's
score, its lead over the other hits, the query's best analogue score, rank, window size): one
for rank-1 hits, whose probability is the query's confidence, one for the hits below. They are
fitted on held-out queries searched twice, once with the truth among the candidates and once
with it removed (library spectra and candidate), weighted by a stated prior of library
coverage. A query's probabilities never add up to more than 1: at most one hit is right.

Saved as JSON (feature names, coefficients, the coverage prior, the data it was fitted on, its
errors), never pickle; one fit per search order (`ORDERS`), since the same evidence means more
at rank 1 of the learned order than at rank 1 of the hand order."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace

import numpy as np

FEATURES = (
    "library_score",
    "library_confident",
    "log_matched_peaks",
    "explained_peaks",
    "log_library_spectra",
    "has_references",
    "matched_reference_share",
    "library_lead",
    "model_score",
    "model_gap",
    "model_lead",
    "best_analogue",
    "inverse_rank",
    "log_candidates",
)
VERSION = 2  # 1: closed world, one model over every hit (FEATURES of 7)
DEFAULT_COVERAGE = 0.5
ORDERS = ("hand", "learned")  # the orders a search ranks in (molvis/workflows/ranking.py)


def fits_by_order(data: dict) -> dict[str, dict]:
    """A model's stored calibrations by the order they were fitted on (none: {}); one fit
    stored alone (before the orders were told apart) is the hand order's."""
    if not data:
        return {}
    if not any(order in data for order in ORDERS):
        return {"hand": data}
    return {order: data[order] for order in ORDERS if order in data}


def for_order(data: dict, order: str) -> tuple[dict, str | None]:
    """The fit for a search ranked in `order`; without one, the other order's fit and a note
    saying that its probabilities were fitted on another order."""
    fits = fits_by_order(data)
    if order in fits:
        return fits[order], None
    other = next(o for o in ORDERS if o in fits)
    return fits[other], (
        f"probability fitted on searches in the {other} order (this one ranked in the {order} "
        f"order): `molvis evaluate --library --ranker {order}` fits one for it"
    )


def with_order(data: dict | None, order: str, fitted: dict) -> dict:
    """The stored calibrations with `order`'s replaced by `fitted`, the other order's kept."""
    if order not in ORDERS:
        raise ValueError(f"no search order {order!r} (one of {', '.join(ORDERS)})")
    return fits_by_order(data or {}) | {order: fitted}


@dataclass(frozen=True)
class HitEvidence:
    """The numbers a hit's probability is computed from. `other_best_*`: the best score among
    the query's other hits (None when there is none); `best_analogue`: the query's best
    analogue match to any library spectrum (how near the library comes to the unknown);
    `query_peaks`: the query's cleaned peaks; `library_spectra`: how many spectra of the hit's
    compound match the query (a compound measured at several energies matches more than once,
    an isomer seldom does); `references`: how many of its reference spectra the query was
    compared with (precursor window, polarity), whatever they scored: a candidate whose
    references all disagree with the query is unlikely, one without references unknown."""

    library_score: float | None
    matched_peaks: int | None
    library_confident: bool
    model_score: float | None
    best_model_score: float | None
    rank: int
    candidates: int
    other_best_model: float | None = None
    other_best_library: float | None = None
    best_analogue: float | None = None
    query_peaks: int = 0
    library_spectra: int = 0
    references: int = 0


def features(hit: HitEvidence) -> list[float]:
    """The feature row of one hit, in FEATURES order. A lead is this hit's score minus the
    best of the other hits' (positive: it stands out; no other hit: its own score)."""
    model = hit.model_score if hit.model_score is not None else 0.0
    best = hit.best_model_score if hit.best_model_score is not None else model
    library = hit.library_score or 0.0
    return [
        library,
        1.0 if hit.library_confident else 0.0,
        math.log1p(hit.matched_peaks or 0),
        min(1.0, (hit.matched_peaks or 0) / hit.query_peaks) if hit.query_peaks else 0.0,
        math.log1p(hit.library_spectra),
        1.0 if hit.references else 0.0,
        min(1.0, hit.library_spectra / hit.references) if hit.references else 0.0,
        library - (hit.other_best_library or 0.0),
        model,
        model - best,
        model - (hit.other_best_model if hit.other_best_model is not None else 0.0),
        hit.best_analogue or 0.0,
        1.0 / hit.rank,
        math.log1p(hit.candidates),
    ]


def with_context(hits: Sequence[HitEvidence]) -> list[HitEvidence]:
    """The query's hits with each one's `other_best_*` filled from the others, in order."""
    out = []
    for i, h in enumerate(hits):
        others = hits[:i] + hits[i + 1 :]
        models = [o.model_score for o in others if o.model_score is not None]
        libraries = [o.library_score for o in others if o.library_score is not None]
        out.append(
            replace(
                h,
                other_best_model=max(models, default=None),
                other_best_library=max(libraries, default=None),
            )
        )
    return out


@dataclass
class Logistic:
    """One fitted logistic model over FEATURES."""

    coef: list[float]
    intercept: float

    def probability(self, hit: HitEvidence) -> float:
        z = self.intercept + float(np.dot(self.coef, features(hit)))
        return 1.0 / (1.0 + math.exp(-max(min(z, 700.0), -700.0)))


@dataclass
class Calibration:
    """A fitted open-world calibration: `top` for rank-1 hits, `rest` for the others."""

    top: Logistic
    rest: Logistic
    coverage: float = DEFAULT_COVERAGE
    features: list[str] = field(default_factory=lambda: list(FEATURES))
    fitted_on: dict = field(default_factory=dict)
    ece: float | None = None
    ece_top1: float | None = None

    def probabilities(self, hits: Sequence[HitEvidence]) -> list[float]:
        """Each hit's probability of being right, in the order given (one query's hits): the
        rank-1 hit's from `top`; the others' from `rest`, scaled down together when they would
        add up to more than what the rank-1 hit leaves."""
        p = [(self.top if h.rank == 1 else self.rest).probability(h) for h in hits]
        lead = sum(x for x, h in zip(p, hits, strict=True) if h.rank == 1)
        below = sum(x for x, h in zip(p, hits, strict=True) if h.rank != 1)
        room = max(0.0, 1.0 - lead)
        if below > room:
            scale = room / below
            p = [x if h.rank == 1 else x * scale for x, h in zip(p, hits, strict=True)]
        return p

    def to_dict(self) -> dict:
        return asdict(self) | {"version": VERSION}

    @classmethod
    def from_dict(cls, data: dict) -> Calibration:
        """Raises ValueError for a calibration of another version or other features (an older
        closed-world fit must not give probabilities: it assumed the truth was always there)."""
        if data.get("version") != VERSION or list(data.get("features", [])) != list(FEATURES):
            raise ValueError(
                "the model's calibration is of an older kind (it assumed the right structure "
                "is always among the candidates): refit it with `molvis evaluate --library`"
            )
        return cls(
            Logistic([float(c) for c in data["top"]["coef"]], float(data["top"]["intercept"])),
            Logistic([float(c) for c in data["rest"]["coef"]], float(data["rest"]["intercept"])),
            float(data["coverage"]),
            list(data["features"]),
            dict(data.get("fitted_on", {})),
            data.get("ece"),
            data.get("ece_top1"),
        )


def _logistic(hits: list[HitEvidence], correct: list[bool], weights: list[float]) -> Logistic:
    from sklearn.linear_model import LogisticRegression

    y = np.asarray(correct, dtype=int)
    if len(set(y)) < 2:
        raise ValueError("calibration needs both right and wrong hits among its queries")
    x = np.array([features(h) for h in hits])
    model = LogisticRegression(C=1.0, max_iter=2000).fit(x, y, sample_weight=np.asarray(weights))
    return Logistic([float(c) for c in model.coef_[0]], float(model.intercept_[0]))


def fit(
    hits: list[HitEvidence],
    correct: list[bool],
    weights: list[float],
    coverage: float,
    fitted_on: dict,
) -> Calibration:
    """Both logistic models (scikit-learn, L2, C=1), each hit weighted as its query's world
    (coverage for a query searched with its truth present, 1 - coverage with it removed)."""
    if not 0 < coverage <= 1:
        raise ValueError(f"library coverage {coverage:g}: give a share in (0, 1]")
    parts = {True: ([], [], []), False: ([], [], [])}
    for h, c, w in zip(hits, correct, weights, strict=True):
        part = parts[h.rank == 1]
        part[0].append(h)
        part[1].append(c)
        part[2].append(w)
    return Calibration(
        _logistic(*parts[True]), _logistic(*parts[False]), coverage, fitted_on=fitted_on
    )


def reliability(probabilities, correct, bins: int = 10, weights=None) -> tuple[float, list[dict]]:
    """Expected calibration error over equal-width bins, and the bins (mean predicted,
    observed frequency, weight) for the reliability curve; `weights` per item (default 1)."""
    p = np.asarray(probabilities, dtype=float)
    y = np.asarray(correct, dtype=float)
    w = np.ones_like(p) if weights is None else np.asarray(weights, dtype=float)
    if not len(p) or w.sum() <= 0:
        return 0.0, []
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(p, edges[1:-1]), 0, bins - 1)
    table, ece, total = [], 0.0, w.sum()
    for b in range(bins):
        inside = which == b
        if not inside.any() or w[inside].sum() <= 0:
            continue
        wb = w[inside]
        mean_p = float(np.average(p[inside], weights=wb))
        freq = float(np.average(y[inside], weights=wb))
        ece += wb.sum() / total * abs(mean_p - freq)
        table.append(
            {"bin": b, "predicted": mean_p, "observed": freq, "n": float(round(wb.sum(), 6))}
        )
    return float(ece), table


def false_discoveries(
    probabilities, correct, thresholds: Sequence[float], weights=None
) -> list[dict]:
    """For each threshold: the share of queries whose top hit reaches it (`reported`) and the
    share of those that are wrong (`fdr`, None when none reach it), as COSMIC reports them."""
    p = np.asarray(probabilities, dtype=float)
    y = np.asarray(correct, dtype=bool)
    w = np.ones_like(p) if weights is None else np.asarray(weights, dtype=float)
    out = []
    for t in thresholds:
        kept = p >= t
        mass = float(w[kept].sum())
        out.append(
            {
                "threshold": t,
                "reported": mass / float(w.sum()) if w.sum() else 0.0,
                "fdr": float(w[kept & ~y].sum()) / mass if mass else None,
            }
        )
    return out
