"""The hit-probability calibration: its features, the fit, the reliability table and ECE."""

import math

import numpy as np
import pytest

from models.calibration import FEATURES, Calibration, HitEvidence, features, fit, reliability


def hit(library=None, peaks=None, confident=False, model=0.5, best=0.5, rank=1, n=10):
    return HitEvidence(library, peaks, confident, model, best, rank, n)


def test_features_in_their_order():
    row = features(hit(0.9, 7, True, 0.4, 0.6, 2, 9))
    assert row == pytest.approx([0.9, 1.0, math.log1p(7), 0.4, -0.2, 0.5, math.log1p(9)])
    assert len(row) == len(FEATURES)
    # a library-only hit (no model score) and a hit without library evidence
    assert features(hit(model=None, best=0.7))[3:5] == [0.0, -0.7]
    assert features(hit())[:3] == [0.0, 0.0, 0.0]


def test_reliability_table_and_ece_by_hand():
    ece, bins = reliability([0.1, 0.1, 0.9, 0.9], [False, True, True, True])
    assert ece == pytest.approx(0.5 * abs(0.1 - 0.5) + 0.5 * abs(0.9 - 1.0))
    assert [(b["bin"], b["n"]) for b in bins] == [(1, 2), (9, 2)]
    assert bins[0]["observed"] == 0.5 and bins[1]["predicted"] == pytest.approx(0.9)
    assert reliability([1.0], [True])[0] == 0.0  # p = 1 falls in the last bin


def test_fit_is_calibrated_on_fresh_data_and_round_trips():
    rng = np.random.default_rng(0)

    def sample(n):
        hits, right = [], []
        for _ in range(n):
            lib = float(rng.uniform())
            h = hit(
                lib,
                int(rng.integers(0, 12)),
                lib > 0.7,
                float(rng.uniform(0.2, 0.9)),
                0.9,
                int(rng.integers(1, 20)),
                int(rng.integers(1, 200)),
            )
            p = 1 / (1 + math.exp(-(6 * lib - 3 + 2 / h.rank)))
            hits.append(h)
            right.append(bool(rng.uniform() < p))
        return hits, right

    calibration = fit(*sample(4000), {"split": "synthetic"})
    hits, right = sample(4000)
    ece, _ = reliability([calibration.probability(h) for h in hits], right)
    assert ece < 0.03
    assert calibration.probability(hit(0.95, 9, True)) > calibration.probability(hit(0.2, 2))
    again = Calibration.from_dict(calibration.to_dict())
    assert again.probability(hits[0]) == pytest.approx(calibration.probability(hits[0]))
    assert again.fitted_on == {"split": "synthetic"}
    with pytest.raises(ValueError, match="other features"):
        Calibration.from_dict({**calibration.to_dict(), "features": ["library_score"]})
    with pytest.raises(ValueError, match="both right and wrong"):
        fit([hit()], [True], {})
