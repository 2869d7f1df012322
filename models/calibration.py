"""The probability that a hit is the right structure: a logistic model over the hit's evidence
(library score and matched peaks, the model's score and its gap to the best, rank, window
size), fitted on held-out queries and checked by its expected calibration error (ECE).

Saved as JSON (feature names, coefficients, the data it was fitted on, its ECE), never pickle."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np

FEATURES = (
    "library_score",
    "library_confident",
    "log_matched_peaks",
    "model_score",
    "model_gap",
    "inverse_rank",
    "log_candidates",
)


@dataclass(frozen=True)
class HitEvidence:
    """The numbers the probability is computed from."""

    library_score: float | None
    matched_peaks: int | None
    library_confident: bool
    model_score: float | None
    best_model_score: float | None
    rank: int
    candidates: int


def features(hit: HitEvidence) -> list[float]:
    """The feature row of one hit, in FEATURES order."""
    model = hit.model_score if hit.model_score is not None else 0.0
    best = hit.best_model_score if hit.best_model_score is not None else model
    return [
        hit.library_score or 0.0,
        1.0 if hit.library_confident else 0.0,
        math.log1p(hit.matched_peaks or 0),
        model,
        model - best,
        1.0 / hit.rank,
        math.log1p(hit.candidates),
    ]


@dataclass
class Calibration:
    """A fitted logistic calibration."""

    coef: list[float]
    intercept: float
    features: list[str] = field(default_factory=lambda: list(FEATURES))
    fitted_on: dict = field(default_factory=dict)
    ece: float | None = None

    def probability(self, hit: HitEvidence) -> float:
        z = self.intercept + float(np.dot(self.coef, features(hit)))
        return 1.0 / (1.0 + math.exp(-z))

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Calibration:
        if list(data.get("features", [])) != list(FEATURES):
            raise ValueError("calibration was fitted on other features: refit it")
        return cls(
            [float(c) for c in data["coef"]],
            float(data["intercept"]),
            list(data["features"]),
            dict(data.get("fitted_on", {})),
            data.get("ece"),
        )


def fit(hits: list[HitEvidence], correct: list[bool], fitted_on: dict) -> Calibration:
    """Logistic regression of correctness on the hit features (scikit-learn, L2, C=1)."""
    from sklearn.linear_model import LogisticRegression

    y = np.asarray(correct, dtype=int)
    if len(set(y)) < 2:
        raise ValueError("calibration needs both right and wrong hits among its queries")
    x = np.array([features(h) for h in hits])
    model = LogisticRegression(C=1.0, max_iter=1000).fit(x, y)
    return Calibration(
        [float(c) for c in model.coef_[0]], float(model.intercept_[0]), fitted_on=fitted_on
    )


def reliability(probabilities, correct, bins: int = 10) -> tuple[float, list[dict]]:
    """Expected calibration error over equal-width bins, and the bins (mean predicted,
    observed frequency, count) for the reliability curve."""
    p = np.asarray(probabilities, dtype=float)
    y = np.asarray(correct, dtype=float)
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(p, edges[1:-1]), 0, bins - 1)
    table, ece = [], 0.0
    for b in range(bins):
        inside = which == b
        if not inside.any():
            continue
        mean_p, freq = float(p[inside].mean()), float(y[inside].mean())
        ece += inside.mean() * abs(mean_p - freq)
        table.append({"bin": b, "predicted": mean_p, "observed": freq, "n": int(inside.sum())})
    return float(ece), table


def reliability_plot(
    bins: list[dict], top_bins: list[dict], ece: float, top_ece: float, path
) -> None:
    """The reliability curve (predicted probability against observed frequency) as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 5))
    ax.plot([0, 1], [0, 1], color="grey", lw=1, ls="--", label="perfect calibration")
    for table, label, marker in (
        (bins, f"all hits (ECE {ece:.3f})", "o"),
        (top_bins, f"rank-1 hits (ECE {top_ece:.3f})", "s"),
    ):
        ax.plot(
            [b["predicted"] for b in table],
            [b["observed"] for b in table],
            marker=marker,
            label=label,
        )
    ax.set_xlabel("predicted probability that the hit is right")
    ax.set_ylabel("observed fraction right")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.legend(loc="upper left")
    ax.set_title("molvis hit probability, held-out spectra")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
