"""The CCS window rows pinned on a hand-made window: what is kept, removed, and how the
ranking changes."""

import numpy as np
import pytest

from models.ccs_windows import CcsWindowQuery, ccs_window_row, kept, soft_scores


def window():
    # truth T (measured 100, predicted 102); A measured 110 (out at 3 %), B predicted 101 (in),
    # C predicted 120 (out), D nothing known (kept); the model ranks A > C > T > B > D
    return CcsWindowQuery(
        keys=["A", "B", "C", "D", "T"],
        scores=np.array([0.9, 0.5, 0.8, 0.1, 0.7]),
        truth="T",
        ccs=100.0,
        measured=[110.0, None, None, None, 100.0],
        predicted=[99.0, 101.0, 120.0, None, 102.0],
        uncertainty=[1.0, 0.9, 25.0, None, 2.0],
    )


def test_measured_beats_predicted_and_the_truth_is_judged_by_its_prediction():
    q = window()
    assert kept(q, 3, 3).tolist() == [False, True, False, True, True]
    assert kept(q, 3, 1.5).tolist() == [False, True, False, True, False]  # T: 2 % off
    assert kept(q, 15, 25).tolist() == [True, True, True, True, True]
    # no tolerance given: each prediction's own interval (B 0.9 % < 1 % off: out; C within
    # its 25 %; T exactly at its 2 %: in)
    assert kept(q, 3, None).tolist() == [False, False, True, True, True]


def test_row_counts_kept_removed_and_both_rankings():
    row = ccs_window_row([window()], "10+", 3, 3)
    assert row["truth_kept"] == 1.0 and row["removed"] == pytest.approx(0.4)
    assert row["msms_top1"] == 0.0 and row["msms_ccs_top1"] == 1.0  # T first among T, B, D
    assert row["msms_random_top1"] == pytest.approx(1 / 5)
    assert row["msms_ccs_random_top1"] == pytest.approx(1 / 3)
    lost = ccs_window_row([window()], "10+", 3, 1.5)
    assert lost["truth_kept"] == 0.0 and lost["msms_ccs_top20"] == 0.0


def test_soft_scores_subtract_the_deviation_in_laplace_units():
    q = window()
    # A: measured 110 (10 % off); B: predicted 101; C: predicted 120; D: unknown; T: predicted
    # 102 (its measurement is never used)
    expected = 10 * q.scores - np.array([10.0, 1.0, 20.0, 0.0, 2.0]) / 2
    np.testing.assert_allclose(soft_scores(q, 10, 2), expected)
    row = ccs_window_row([q], "10+", 3, 3, soft=(10, 2))
    assert row["msms_ccs_soft_top1"] == 1.0  # T 6 > B 4.5 > A 4 > D 1 > C -2
    assert "msms_ccs_soft_top1" not in ccs_window_row([q], "10+", 3, 3)


def test_a_predictions_own_window_is_its_interval_else_the_predictors_tolerance():
    from molvis.workflows.ccs_evaluation import _window

    assert _window(2.5, 6.3) == 2.5 and _window(None, 6.3) == 6.3
    assert _window(0.0, 6.3) == 0.0  # an interval of zero is an interval, not a missing one
