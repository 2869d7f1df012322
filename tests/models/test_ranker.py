"""The learned ranker: its features (each value, its lead over the other candidates, whether
it is there and the value again where the candidate has reference spectra), a fit
that finds the evidence that tells the truth, the temperature, the JSON it is stored as, the
refusals (another model's ranker, another kind, a test skeleton in its fit)."""

import math

import numpy as np
import pytest

from models.data import SPLIT_SEED, split_of
from models.ranker import (
    EVIDENCE,
    Ranker,
    RankerError,
    Window,
    _negative_log_likelihood,
    check_no_test_skeleton,
    feature_names,
    fit,
    fit_temperature,
    fit_weights,
    held_out_loss,
    softmax,
    window_features,
)


def _keys_of(split: str, n: int) -> list[str]:
    out, i = [], 0
    while len(out) < n:
        key = "".join(chr(ord("A") + int(c)) for c in f"{i:014d}") + "-UHFFFAOYSA-N"
        if split_of(key, SPLIT_SEED) == split:
            out.append(key)
        i += 1
    return out


VAL_KEYS = _keys_of("val", 2000)


def test_features_are_each_value_its_lead_over_the_best_other_and_whether_it_is_there():
    values = np.array([[0.2, 1.0], [0.5, np.nan], [0.5, 0.3]])
    x = window_features(values, ["a", "b"])
    assert feature_names(["a", "b"]) == [
        "a", "a_lead", "a_present", "a_with_references",
        "b", "b_lead", "b_present", "b_with_references",
    ]  # fmt: skip
    # a: 0.2 - 0.5, 0.5 - 0.5 (a tie with the other best), 0.5 - 0.5; all there
    assert np.allclose(x[:, 0], [0.2, 0.5, 0.5]) and np.allclose(x[:, 1], [-0.3, 0.0, 0.0])
    assert np.array_equal(x[:, 2], [1, 1, 1])
    # b: NaN counts as 0 and is not there; the best leads the second by 0.7
    assert np.allclose(x[:, 4], [1.0, 0.0, 0.3]) and np.allclose(x[:, 5], [0.7, -1.0, -0.7])
    assert np.array_equal(x[:, 6], [1, 0, 1])
    assert not x[:, 3::4].any()  # no library scores read: no candidate has references
    single = window_features(np.array([[0.4, np.nan]]), ["a", "b"])
    assert np.allclose(single, [[0.4, 0, 1, 0, 0, 0, 0, 0]])


def test_a_candidate_with_reference_spectra_has_its_values_again():
    """The fourth feature of each evidence is its value where the candidate has a library
    score (NaN: no references), else 0; the library score's own is the score."""
    values = np.array([[0.2, 0.9, 3.0], [0.5, np.nan, 1.0], [np.nan, 0.0, 2.0]])
    x = window_features(values, ["model_score", "library_score", "mass_error_ppm"])
    assert np.allclose(x[:, 3], [0.2, 0.0, 0.0])  # the second has no references, the third none
    assert np.allclose(x[:, 7], [0.9, 0.0, 0.0])
    assert np.allclose(x[:, 11], [3.0, 0.0, 2.0])
    assert np.allclose(x[:, [0, 4, 8]], np.nan_to_num(values))


def _windows(rng: np.random.Generator, n: int, keys: list[str]) -> list[Window]:
    """Windows where the fragmenter score tells the truth (it is highest, with noise) and the
    model score is noise."""
    out = []
    for w in range(n):
        size = int(rng.integers(3, 12))
        values = rng.uniform(0, 1, (size, len(EVIDENCE)))
        truth = int(rng.integers(size))
        values[truth, 1] += 0.6
        out.append(
            Window(values, truth, tuple(keys[(w * 12 + i) % len(keys)] for i in range(size)))
        )
    return out


def test_the_fit_weighs_the_evidence_that_tells_the_truth():
    rng = np.random.default_rng(0)
    ranker = fit(_windows(rng, 150, VAL_KEYS), _windows(rng, 100, VAL_KEYS), EVIDENCE, "m", "v1")
    # a value and its lead differ by a window constant except for the window's best: their
    # weights count together
    coef = np.reshape(ranker.coef, (-1, 4))[:, :2].sum(axis=1)
    weight = dict(zip(ranker.evidence, coef, strict=True))
    noise = [
        abs(w) for e, w in weight.items() if e not in ("fragmenter_score", "explained_intensity")
    ]
    assert weight["fragmenter_score"] > 5 * max(noise)
    test = _windows(rng, 200, VAL_KEYS)
    right = np.mean([int(np.argmax(ranker.scores(w.values))) == w.truth for w in test])
    by_the_evidence = np.mean([int(np.argmax(w.values[:, 1])) == w.truth for w in test])
    assert right >= by_the_evidence - 0.03 and right > 0.6


def test_a_ranker_of_some_evidence_reads_only_its_columns():
    rng = np.random.default_rng(1)
    windows = _windows(rng, 60, VAL_KEYS)
    ranker = fit(windows, windows, ["model_score", "mass_error_ppm"], "m", "v1")
    assert ranker.evidence == ["model_score", "mass_error_ppm"] and len(ranker.coef) == 8
    with pytest.raises(ValueError, match="^a ranker needs at least one kind of evidence$"):
        fit(windows, windows, [], "m", "v1")
    message = "^a ranker needs windows to fit its weights and others for its temperature$"
    with pytest.raises(ValueError, match=message):
        fit(windows, [], EVIDENCE, "m", "v1")


def test_a_poor_match_of_a_candidate_s_own_spectra_counts_against_it():
    """Windows where the truth has no library score and decoys have poor ones (the unknown no
    library holds): the fit learns that having one counts against a candidate, which a weight
    on the score alone (missing as 0) cannot learn; a missing candidate then beats one scoring 0."""
    rng = np.random.default_rng(8)
    windows = []
    for w in range(200):
        values = np.full((6, len(EVIDENCE)), np.nan)
        values[:, 0] = rng.uniform(0, 1, 6)
        values[:, 4] = rng.uniform(0, 0.3, 6)
        values[0, 4] = np.nan  # the truth: not in the library
        windows.append(Window(values, 0, tuple(VAL_KEYS[w * 6 : w * 6 + 6])))
    ranker = fit(windows[:100], windows[100:], ["model_score", "library_score"], "m", "v")
    assert ranker.coef[6] < -1  # library_score_present
    values = np.array([[0.5, 0.0], [0.5, np.nan]])
    assert np.argmax(ranker.scores(values)) == 1


def test_the_fit_weighs_the_evidence_of_candidates_with_references_apart():
    """Windows where the truth is the best-explained of the candidates with reference spectra,
    while candidates without references are explained better still (decoys measured nowhere):
    the fit learns a weight on the explained share of candidates with references, which a
    weight on the share alone cannot give, and ranks the truth first."""
    rng = np.random.default_rng(9)
    windows = []
    for w in range(240):
        values = np.full((6, len(EVIDENCE)), np.nan)
        values[:3, 4] = 0.3  # three candidates with references, the truth among them
        values[:3, 2] = rng.uniform(0, 0.5, 3)
        values[0, 2] = 0.6
        values[3:, 2] = rng.uniform(0.5, 1.0, 3)
        windows.append(Window(values, 0, tuple(VAL_KEYS[w * 6 : w * 6 + 6])))
    evidence = ["explained_intensity", "library_score"]
    ranker = fit(windows[:120], windows[120:200], evidence, "m", "v")
    assert ranker.coef[3] > ranker.coef[0] + 1  # explained_intensity_with_references
    right = [int(np.argmax(ranker.scores(w.values[:, [2, 4]]))) == 0 for w in windows[200:]]
    assert np.mean(right) > 0.9


def test_the_temperature_undoes_scores_twice_as_sharp_as_the_truth():
    """Truths drawn from softmax(s): scores 2 s are too sharp, and a temperature near 2 fixes it."""
    rng = np.random.default_rng(2)
    windows = []
    for _ in range(3000):
        s = rng.normal(0, 1.5, 6)
        values = np.zeros((6, len(EVIDENCE)))
        values[:, 0] = s
        windows.append(Window(values, int(rng.choice(6, p=softmax(s))), ()))
    coef = np.zeros(4 * 1)
    coef[0] = 2.0
    assert fit_temperature(windows, [0], coef) == pytest.approx(2.0, rel=0.15)


def test_probabilities_are_the_softmax_of_the_stored_coefficients():
    coef = [1.0, 2.0, 0.5, 4.0, 3.0, -1.0, -0.7, 1.5]
    ranker = Ranker(["model_score", "library_score"], coef, "m", "v")
    values = np.array([[0.5, 0.2], [0.1, 0.9], [0.3, np.nan]])
    by_hand = []
    for i in range(3):
        others = [j for j in range(3) if j != i]
        x = np.nan_to_num(values)
        lead = [x[i, c] - max(x[j, c] for j in others) for c in range(2)]
        there = ~np.isnan(values[i])
        by_hand.append(
            1.0 * x[i, 0] + 2.0 * lead[0] + 0.5 * there[0] + 4.0 * x[i, 0] * there[1]
            + 3.0 * x[i, 1] - 1.0 * lead[1] - 0.7 * there[1] + 1.5 * x[i, 1]
        )  # fmt: skip
    z = [math.exp(s) for s in by_hand]
    assert np.allclose(ranker.probabilities(values), [v / sum(z) for v in z])
    assert ranker.probabilities(values).sum() == pytest.approx(1.0)


def test_the_json_round_trips_and_names_its_features():
    ranker = Ranker(
        list(EVIDENCE[:2]),
        [0.5, -1.0, 0.1, 0.7, 2.0, 0.25, -0.3, -0.2],
        "molvis-base",
        "abc",
        {"w": 3},
        {"ece": 0.01},
        "f0f0f0f0f0f0",
    )
    data = ranker.to_dict()
    assert data["features"] == feature_names(EVIDENCE[:2]) and data["version"] == 3
    assert Ranker.from_dict(data) == ranker and data["forward_model"] == "f0f0f0f0f0f0"
    bare = {k: v for k, v in data.items() if k not in ("fitted_on", "metrics", "forward_model")}
    assert Ranker.from_dict(bare) == Ranker(list(EVIDENCE[:2]), ranker.coef, "molvis-base", "abc")


@pytest.mark.parametrize(
    "change, message",
    [
        (
            {"version": 2},
            r"^ranker of version 2: molvis reads version 3: refit it \(python -m bench.ranker\) "
            "or search with --ranker hand$",
        ),
        ({"evidence": ["model_score", "smell"]}, r"^ranker evidence \['smell'\] is not what"),
        (
            {"coef": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]},
            r"^ranker evidence \['model_score', 'fragmenter_score'\] is not what molvis gives$",
        ),
    ],
)
def test_another_kind_of_ranker_is_refused(change, message):
    coef = [0.5, -1.0, 0, 0, 2.0, 0.25, 0, 0]
    data = Ranker(list(EVIDENCE[:2]), coef, "m", "v").to_dict() | change
    with pytest.raises(RankerError, match=message):
        Ranker.from_dict(data)


def test_a_ranker_of_another_model_version_is_refused_with_both_versions_named():
    ranker = Ranker(["model_score"], [1.0, 0.0, 0.0, 0.0], "molvis-base", "aaaaaaaaaaaaaaaa")
    ranker.check("molvis-base", "aaaaaaaaaaaaaaaa")
    with pytest.raises(RankerError, match="version aaaaaaaaaaaa, not molvis-base version b{12}: "):
        ranker.check("molvis-base", "bbbbbbbbbbbbbbbb")
    with pytest.raises(
        RankerError, match=r"refit it \(python -m bench.ranker\) or search with --ranker hand$"
    ):
        ranker.check("other", "aaaaaaaaaaaaaaaa")


def test_a_ranker_fitted_with_another_forward_model_is_refused():
    ranker = Ranker(["model_score"], [1.0, 0.0, 0.0, 0.0], "m", "v", forward_model="f" * 16)
    ranker.check("m", "v", "f" * 16)
    ranker.check("m", "v", "")  # no forward model in use: its evidence is missing, not other
    ranker.check("m", "v")  # not said: not checked
    Ranker(["model_score"], [1.0, 0.0, 0.0, 0.0], "m", "v").check(
        "m", "v", "e" * 16
    )  # not recorded
    with pytest.raises(
        RankerError, match="fitted with forward model version f{12}, not e{12}: refit it"
    ):
        ranker.check("m", "v", "e" * 16)


def test_a_planted_test_skeleton_stops_the_fit():
    rng = np.random.default_rng(3)
    windows = _windows(rng, 20, VAL_KEYS)
    check_no_test_skeleton(windows, SPLIT_SEED)
    (planted,) = _keys_of("test", 1)
    bad = Window(windows[5].values, 0, (planted,) + windows[5].keys[1:])
    with pytest.raises(ValueError, match=f"window 5: query {planted} is of the test split"):
        fit(windows[:5] + [bad] + windows[6:], windows, EVIDENCE, "m", "v")
    decoy = Window(windows[2].values, 0, windows[2].keys[:1] + (planted,) + windows[2].keys[2:])
    with pytest.raises(ValueError, match=f"window 20: candidate {planted}"):
        fit(windows, [decoy], EVIDENCE, "m", "v")


def test_the_penalty_kept_is_the_one_the_held_out_windows_prefer():
    rng = np.random.default_rng(4)
    fit_windows, held_out = _windows(rng, 80, VAL_KEYS), _windows(rng, 80, VAL_KEYS)
    ranker = fit(fit_windows, held_out, EVIDENCE, "m", "v", l2=(1000.0, 0.001))
    assert ranker.fitted_on["l2"] == 0.001  # a penalty of 1000 flattens every weight
    flat = fit(fit_windows, held_out, EVIDENCE, "m", "v", l2=(1000.0,))
    assert flat.fitted_on["l2"] == 1000.0


def test_the_likelihood_s_gradient_is_its_derivative():
    rng = np.random.default_rng(5)
    blocks = [(rng.normal(size=(int(rng.integers(2, 6)), 4)), 0) for _ in range(7)]
    w = rng.normal(size=4)
    loss, grad = _negative_log_likelihood(w, blocks, 0.3)
    by_hand = sum(-np.log(softmax(x @ w)[t]) for x, t in blocks) / 7 + 0.3 * w @ w / 7
    assert loss == pytest.approx(by_hand)
    for i in range(4):
        step = np.zeros(4)
        step[i] = 1e-6
        up, _ = _negative_log_likelihood(w + step, blocks, 0.3)
        down, _ = _negative_log_likelihood(w - step, blocks, 0.3)
        assert grad[i] == pytest.approx((up - down) / 2e-6, rel=1e-5, abs=1e-8)


def test_held_out_loss_is_the_mean_negative_log_likelihood():
    values = np.zeros((3, len(EVIDENCE)))
    values[:, 0] = [0.0, np.log(2), np.log(5)]
    windows = [Window(values, 1, ()), Window(values, 2, ())]
    coef = np.array([1.0, 0.0, 0.0, 0.0])  # the model score itself: probabilities 1/8, 2/8, 5/8
    assert held_out_loss(windows, [0], coef) == pytest.approx(-(np.log(2 / 8) + np.log(5 / 8)) / 2)


def test_softmax_of_large_scores_stays_finite():
    assert softmax(np.array([1000.0, 1000.0])) == pytest.approx([0.5, 0.5])
    assert softmax(np.array([0.0, np.log(3)])) == pytest.approx([0.25, 0.75])


def test_the_weights_follow_a_feature_s_unit_and_an_absent_feature_weighs_nothing():
    rng = np.random.default_rng(6)
    windows = _windows(rng, 60, VAL_KEYS)
    coef = fit_weights(windows, [0, 1, 2], 0.01)
    scaled = [Window(w.values * [1, 10, 1, 1, 1, 1, 1], w.truth, w.keys) for w in windows]
    coef_scaled = fit_weights(scaled, [0, 1, 2], 0.01)
    assert coef_scaled[4:6] == pytest.approx(coef[4:6] / 10, rel=1e-3)  # the penalty is unitless
    assert coef_scaled[0:4] == pytest.approx(coef[0:4], rel=1e-3)
    missing = [
        Window(np.where(np.arange(7) == 1, np.nan, w.values), w.truth, w.keys) for w in windows
    ]
    coef_missing = fit_weights(missing, [0, 1, 2], 0.01)
    assert np.all(np.isfinite(coef_missing)) and coef_missing[4:8] == pytest.approx([0] * 4)


def test_the_fit_is_its_weights_over_its_temperature_for_its_model():
    rng = np.random.default_rng(7)
    fit_windows, held_out = _windows(rng, 40, VAL_KEYS), _windows(rng, 40, VAL_KEYS)
    ranker = fit(fit_windows, held_out, ["model_score", "fragmenter_score"], "m", "v1", l2=(0.1,))
    weights = fit_weights(fit_windows, [0, 1], 0.1)
    expected = weights / fit_temperature(held_out, [0, 1], weights)
    assert ranker.coef == pytest.approx(expected.tolist())
    assert (ranker.model_name, ranker.model_version, ranker.forward_model) == ("m", "v1", "")
    kinds = ["model_score"]
    assert fit(fit_windows, held_out, kinds, "m", "v1", forward_model="f0" * 6).forward_model == (
        "f0" * 6
    )


def test_noise_keeps_the_penalty_that_flattens_the_weights():
    """Windows whose evidence says nothing: the small penalty fits the noise of a few windows,
    the large one does not, and the held-out windows prefer it (the grid's order aside)."""
    rng = np.random.default_rng(8)

    def noise(n: int) -> list[Window]:
        return [
            Window(rng.uniform(0, 1, (4, len(EVIDENCE))), int(rng.integers(4)), tuple(VAL_KEYS[:4]))
            for _ in range(n)
        ]

    ranker = fit(noise(8), noise(200), EVIDENCE, "m", "v", l2=(0.001, 100.0))
    assert ranker.fitted_on["l2"] == 100.0
