"""The learned ranking of a window's candidates: a conditional logit (McFadden; a softmax over
the window) over each candidate's evidence and its lead over the window's other candidates,
fitted on validation windows only.

Why this model: a window holds at most one right structure, which is what a softmax over the
window models, so its output is a probability per candidate (the chance that it is the right
one when the right one is among them), calibrated by the fit and a temperature fitted on held-out
windows; a dozen weights fit a few hundred windows where a boosted ranker would overfit them; and
a linear score is the same arithmetic in SQL (`molvis_rerank()`), so the ranking stays one
statement from psql. Saved as JSON with the structure model version it belongs to, never pickle.

The features of a candidate, for each evidence value x (missing: 0): x itself, its lead
x - max(x of the other candidates) (0 for a window of one), whether the candidate has the
value at all (1 or 0): a candidate whose own reference spectra match the query poorly is less
likely than one that has none, which a single weight on x (missing as 0) cannot say; and x
again where the candidate has reference spectra in the library (else 0): such a candidate is
either the query's compound measured another way or a measured decoy, and how well the
spectrum explains it tells which, so its evidence weighs apart from a candidate without
references. Window-wide constants cancel in a softmax and are not features."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

from models.data import SPLIT_SEED, split_of
from registry.search.rerank import EVIDENCE  # the evidence molvis_rerank() reads, in its order

SPECTRAL = EVIDENCE[:5]  # what the spectrum-blind control leaves out
GROUPS = {  # what an ablation leaves out together
    "model": ("model_score",),
    "fragmenter": ("fragmenter_score", "explained_intensity"),
    "forward model": ("predicted_similarity",),
    "library": ("library_score",),
    "mass error": ("mass_error_ppm",),
    "CCS": ("ccs_deviation_pct",),
}
VERSION = 3  # 1: value and lead per evidence; 2: and whether it is there; 3: and with references
L2_GRID = (0.001, 0.01, 0.1, 1.0)  # penalties tried on the standardised weights


class RankerError(ValueError):
    """A ranker that cannot rank this search (another model's, or another kind)."""


SUFFIXES = ("", "_lead", "_present", "_with_references")  # each evidence value's, in order
REFERENCES = "library_score"  # a candidate with this value has reference spectra


def feature_names(evidence: Sequence[str]) -> list[str]:
    return [f"{e}{suffix}" for e in evidence for suffix in SUFFIXES]


def window_features(values: np.ndarray, evidence: Sequence[str]) -> np.ndarray:
    """(candidates, evidence) values, columns named by `evidence` -> (candidates, 4 x evidence)
    features: each value, its lead over the best of the other candidates (NaN, a missing value,
    counts as 0 in both), 1 where the value is there, 0 where it is missing, and the value where
    the candidate has a library score (reference spectra), 0 where not or where the ranker
    does not read library scores."""
    raw = np.asarray(values, dtype=float)
    x = np.nan_to_num(raw, nan=0.0)
    n, m = x.shape
    out = np.zeros((n, 4 * m))
    out[:, 0::4] = x
    out[:, 2::4] = ~np.isnan(raw)
    if REFERENCES in evidence:
        out[:, 3::4] = x * ~np.isnan(raw[:, [list(evidence).index(REFERENCES)]])
    if n > 1:
        order = np.argsort(-x, axis=0, kind="stable")
        first = x[order[0], np.arange(m)]
        second = x[order[1], np.arange(m)]
        best_other = np.where(np.arange(n)[:, None] == order[0][None, :], second, first)
        out[:, 1::4] = x - best_other
    return out


def softmax(scores: np.ndarray) -> np.ndarray:
    z = np.exp(scores - scores.max())
    return z / z.sum()


@dataclass
class Ranker:
    """A fitted ranker: per feature a coefficient on the raw feature (standardisation and the
    temperature folded in), for the structure model `model_name` at `model_version` and the
    forward model of version `forward_model` ('' where not recorded)."""

    evidence: list[str]
    coef: list[float]
    model_name: str
    model_version: str
    fitted_on: dict = field(default_factory=dict)
    metrics: dict = field(default_factory=dict)
    forward_model: str = ""

    def scores(self, values: np.ndarray) -> np.ndarray:
        """Each candidate's score from its evidence values (columns in `evidence` order)."""
        return window_features(values, self.evidence) @ np.asarray(self.coef)

    def probabilities(self, values: np.ndarray) -> np.ndarray:
        """Each candidate's probability of being the right one, given that one of them is."""
        return softmax(self.scores(values))

    def check(self, model_name: str, model_version: str, forward_model: str = "") -> None:
        """Refuse to rank the search of another structure model (its cosines differ) or of
        another forward model (its predicted similarities differ; '' on either side: not
        known, not checked)."""
        fix = "refit it (python -m bench.ranker) or search with --ranker hand"
        if (model_name, model_version) != (self.model_name, self.model_version):
            raise RankerError(
                f"the ranker was fitted for model {self.model_name} version "
                f"{self.model_version[:12]}, not {model_name} version {model_version[:12]}: {fix}"
            )
        if self.forward_model and forward_model and forward_model != self.forward_model:
            raise RankerError(
                f"the ranker was fitted with forward model version {self.forward_model[:12]}, "
                f"not {forward_model[:12]}: {fix}"
            )

    def to_dict(self) -> dict:
        return asdict(self) | {"version": VERSION, "features": feature_names(self.evidence)}

    @classmethod
    def from_dict(cls, data: dict) -> Ranker:
        if data.get("version") != VERSION:
            raise RankerError(
                f"ranker of version {data.get('version')}: molvis reads version {VERSION}: refit "
                "it (python -m bench.ranker) or search with --ranker hand"
            )
        evidence = [str(e) for e in data["evidence"]]
        unknown = sorted(set(evidence) - set(EVIDENCE))
        if unknown or len(data["coef"]) != len(SUFFIXES) * len(evidence):
            raise RankerError(f"ranker evidence {unknown or evidence} is not what molvis gives")
        return cls(
            evidence,
            [float(c) for c in data["coef"]],
            str(data["model_name"]),
            str(data["model_version"]),
            dict(data.get("fitted_on", {})),
            dict(data.get("metrics", {})),
            str(data.get("forward_model") or ""),
        )


@dataclass(frozen=True)
class Window:
    """One query's candidates: evidence values (candidates x EVIDENCE), the truth's row and the
    candidates' InChIKeys (or skeletons), the truth's among them."""

    values: np.ndarray
    truth: int
    keys: tuple[str, ...]


def check_no_test_skeleton(windows: list[Window], seed: int) -> None:
    """Refuse windows that hold a test-split skeleton (as query or candidate): the ranker is
    fitted on validation windows only, so that the test figures are of structures it never saw."""
    for n, window in enumerate(windows):
        for key in window.keys:
            if split_of(key, seed) == "test":
                role = "query" if key == window.keys[window.truth] else "candidate"
                raise ValueError(
                    f"window {n}: {role} {key} is of the test split: the ranker must not see it"
                )


def _negative_log_likelihood(w: np.ndarray, blocks: list[tuple[np.ndarray, int]], l2: float):
    loss, grad = l2 * float(w @ w), 2 * l2 * w
    for x, truth in blocks:
        p = softmax(x @ w)
        loss -= float(np.log(max(p[truth], 1e-300)))
        grad += p @ x - x[truth]
    return loss / len(blocks), grad / len(blocks)


def fit_weights(windows: list[Window], columns: list[int], l2: float) -> np.ndarray:
    """Coefficients on standardised features (L-BFGS on the windows' log-likelihood), returned
    on the raw features."""
    from scipy.optimize import minimize

    blocks = [(_features(w, columns), w.truth) for w in windows]
    stacked = np.vstack([x for x, _ in blocks])
    scale = stacked.std(axis=0)
    scale[scale == 0] = 1.0
    scaled = [(x / scale, t) for x, t in blocks]
    found = minimize(
        _negative_log_likelihood,
        np.zeros(stacked.shape[1]),
        args=(scaled, l2),
        jac=True,
        method="L-BFGS-B",
    )
    return found.x / scale


def fit_temperature(windows: list[Window], columns: list[int], coef: np.ndarray) -> float:
    """The divisor of the scores that maximises the held-out windows' likelihood."""
    from scipy.optimize import minimize_scalar

    scores = _scored(windows, columns, coef)

    def loss(log_t: float) -> float:
        return _truth_loss([(s / np.exp(log_t), truth) for s, truth in scores])

    return float(np.exp(minimize_scalar(loss, bounds=(-3, 3), method="bounded").x))


def held_out_loss(windows: list[Window], columns: list[int], coef: np.ndarray) -> float:
    """Mean negative log-likelihood of the windows' truths under raw coefficients."""
    return _truth_loss(_scored(windows, columns, coef))


def _features(window: Window, columns: list[int]) -> np.ndarray:
    """The window's features over its EVIDENCE columns `columns` (named, for the references)."""
    return window_features(window.values[:, columns], [EVIDENCE[c] for c in columns])


def _scored(windows: list[Window], columns: list[int], coef: np.ndarray) -> list:
    return [(_features(w, columns) @ coef, w.truth) for w in windows]


def _truth_loss(scored: list[tuple[np.ndarray, int]]) -> float:
    """Mean -log of the truth's softmax probability over scored windows."""
    return -sum(float(np.log(max(softmax(s)[truth], 1e-300))) for s, truth in scored) / len(scored)


def fit(
    fit_windows: list[Window],
    calibration_windows: list[Window],
    evidence: Sequence[str],
    model_name: str,
    model_version: str,
    l2: Sequence[float] = L2_GRID,
    fitted_on: dict | None = None,
    forward_model: str = "",
) -> Ranker:
    """A ranker over `evidence` (a subset of EVIDENCE, in that order): weights fitted on
    `fit_windows` for each L2 penalty of `l2`, the one whose weights explain the held-out
    `calibration_windows` (other queries of the validation split) best kept, and its temperature
    fitted on those same windows."""
    evidence = [e for e in EVIDENCE if e in evidence]
    if not evidence:
        raise ValueError("a ranker needs at least one kind of evidence")
    if not fit_windows or not calibration_windows:
        raise ValueError("a ranker needs windows to fit its weights and others for its temperature")
    check_no_test_skeleton(fit_windows + calibration_windows, SPLIT_SEED)
    columns = [EVIDENCE.index(e) for e in evidence]
    fits = [(penalty, fit_weights(fit_windows, columns, penalty)) for penalty in l2]
    penalty, coef = min(fits, key=lambda f: held_out_loss(calibration_windows, columns, f[1]))
    coef = coef / fit_temperature(calibration_windows, columns, coef)
    fitted_on = (fitted_on or {}) | {"l2": penalty}
    coef = [float(c) for c in coef]
    return Ranker(evidence, coef, model_name, model_version, fitted_on, forward_model=forward_model)
