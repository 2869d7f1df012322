"""The open-world hit-probability calibration: its features, the two fits, coherent
probabilities per query, the reliability table, ECE and false discovery rates."""

import math

import numpy as np
import pytest

from models.calibration import (
    FEATURES,
    VERSION,
    Calibration,
    HitEvidence,
    Logistic,
    false_discoveries,
    features,
    fit,
    fits_by_order,
    for_order,
    reliability,
    with_context,
    with_order,
)
from models.calibration_check import HeldOutCheck


def hit(library=None, peaks=None, confident=False, model=0.5, best=0.5, rank=1, n=10, **kw):
    return HitEvidence(library, peaks, confident, model, best, rank, n, **kw)


def test_features_in_their_order():
    h = hit(
        0.9,
        7,
        True,
        0.4,
        0.6,
        2,
        9,
        other_best_model=0.6,
        other_best_library=0.3,
        best_analogue=0.8,
        query_peaks=10,
        library_spectra=3,
        references=4,
    )
    row = features(h)
    assert row == pytest.approx(
        [
            0.9,  # library score
            1.0,  # confident
            math.log1p(7),  # matched peaks
            0.7,  # 7 of the query's 10 peaks explained
            math.log1p(3),  # spectra of the compound that match
            1.0,  # it has references at this precursor
            0.75,  # 3 of its 4 references match
            0.6,  # library lead over the other hits
            0.4,
            -0.2,  # gap to the best model score
            -0.2,  # lead over the other hits' best
            0.8,  # best analogue
            0.5,
            math.log1p(9),
        ]
    )
    assert len(row) == len(FEATURES)
    # a library-only hit (no model score) and a hit without library evidence
    assert features(hit(model=None, best=0.7))[8:10] == [0.0, -0.7]
    assert features(hit())[:8] == [0.0] * 8
    # alone in its window: each lead is its own score
    assert features(hit(0.8, 3, model=0.3))[7] == 0.8 and features(hit(model=0.3))[10] == 0.3
    # more matched peaks than the query kept, or more matching spectra than references: 1
    assert features(hit(0.8, 12, query_peaks=10, library_spectra=5, references=2))[3] == 1.0
    assert features(hit(0.8, 12, query_peaks=10, library_spectra=5, references=2))[6] == 1.0
    # references that all disagree: present, none matching
    assert features(hit(references=3))[5:7] == [1.0, 0.0]


def test_context_is_the_best_of_the_other_hits():
    hits = with_context(
        [hit(0.9, model=0.2), hit(None, model=0.5, rank=2), hit(0.4, model=-0.1, rank=3)]
    )
    assert [(h.other_best_model, h.other_best_library) for h in hits] == [
        (0.5, 0.4),
        (0.2, 0.9),
        (0.5, 0.9),
    ]
    assert with_context([hit(0.9)])[0].other_best_library is None
    # everything else of a hit is kept
    full = hit(0.9, 5, True, best_analogue=0.7, query_peaks=9, library_spectra=2, references=3)
    again = with_context([full])[0]
    assert (again.best_analogue, again.query_peaks, again.library_spectra, again.references) == (
        0.7,
        9,
        2,
        3,
    )
    assert (again.library_score, again.matched_peaks, again.library_confident) == (0.9, 5, True)
    assert [h.rank for h in hits] == [1, 2, 3]


def test_a_querys_probabilities_add_up_to_at_most_one():
    sure = Logistic([0.0] * len(FEATURES), 3.0)  # ~0.95 for any hit
    calibration = Calibration(top=Logistic([0.0] * len(FEATURES), 0.0), rest=sure)
    p = calibration.probabilities([hit(rank=1), hit(rank=2), hit(rank=3)])
    assert p[0] == pytest.approx(0.5)  # the top hit's own model, never scaled
    assert p[1] == pytest.approx(0.25) and p[2] == pytest.approx(0.25)
    assert sum(p) == pytest.approx(1.0)
    # the rest is left as it is when it fits
    low = Calibration(
        top=Logistic([0.0] * len(FEATURES), 0.0), rest=Logistic([0.0] * len(FEATURES), -3.0)
    )
    q = low.probabilities([hit(rank=1), hit(rank=2)])
    assert q[1] == pytest.approx(1 / (1 + math.exp(3)))
    # the top hit uses `top`, the others `rest`
    swapped = Calibration(top=sure, rest=Logistic([0.0] * len(FEATURES), -3.0))
    assert swapped.probabilities([hit(rank=1)])[0] == pytest.approx(1 / (1 + math.exp(-3)))


def _open_world(rng, n, coverage):
    """Synthetic queries: present ones have their truth at rank 1 with probability rising with
    the library score, else at rank 2 half the time; absent ones have every hit wrong."""
    hits, right, weights = [], [], []
    for _ in range(n):
        present = rng.uniform() < 0.5
        lib = float(rng.uniform())
        query = []
        for rank in (1, 2, 3):
            score = lib if rank == 1 else float(rng.uniform(0, lib))
            query.append(
                hit(
                    score,
                    int(rng.integers(0, 12)),
                    score > 0.7,
                    float(rng.uniform(0.2, 0.9)),
                    0.9,
                    rank,
                    20,
                )
            )
        query = with_context(query)
        u = rng.uniform()
        truth = None if not present else 1 if u < lib else 2 if u < (1 + lib) / 2 else None
        hits += query
        right += [h.rank == truth for h in query]
        weights += [coverage if present else 1 - coverage] * 3
    return hits, right, weights


def test_open_world_fit_is_calibrated_on_fresh_queries_and_round_trips():
    rng = np.random.default_rng(0)
    calibration = fit(*_open_world(rng, 3000, 0.3), 0.3, {"split": "synthetic"})
    assert calibration.coverage == 0.3
    hits, right, weights = _open_world(rng, 3000, 0.3)
    probs = []
    for i in range(0, len(hits), 3):
        probs += calibration.probabilities(hits[i : i + 3])
    ece, _ = reliability(probs, right, weights=weights)
    assert ece < 0.03
    top = [(p, r, w) for p, r, w, h in zip(probs, right, weights, hits, strict=True) if h.rank == 1]
    mean_p = np.average([t[0] for t in top], weights=[t[2] for t in top])
    rate = np.average([t[1] for t in top], weights=[t[2] for t in top])
    assert abs(mean_p - rate) < 0.03
    again = Calibration.from_dict(calibration.to_dict())
    assert again.probabilities(hits[:3]) == pytest.approx(calibration.probabilities(hits[:3]))
    assert again.fitted_on == {"split": "synthetic"} and again.coverage == 0.3
    with pytest.raises(ValueError, match="older kind"):
        Calibration.from_dict({**calibration.to_dict(), "features": ["library_score"]})
    with pytest.raises(ValueError, match="older kind"):
        Calibration.from_dict({**calibration.to_dict(), "version": 1})
    with pytest.raises(ValueError, match="both right and wrong"):
        fit([hit(), hit(rank=2)], [True, False], [1, 1], 0.5, {})
    with pytest.raises(ValueError, match="coverage"):
        fit(hits, right, weights, 0.0, {})


def test_each_search_order_keeps_its_own_fit():
    """A fit stored alone (before orders were told apart) is the hand order's; a new fit of
    one order keeps the other's; an order without a fit gets the other's and a note."""
    hand, learned = {"version": VERSION, "n": 1}, {"version": VERSION, "n": 2}
    assert fits_by_order(hand) == {"hand": hand}
    both = with_order(hand, "learned", learned)
    assert both == {"hand": hand, "learned": learned}
    assert with_order(both, "hand", learned) == {"hand": learned, "learned": learned}
    assert with_order(None, "learned", learned) == {"learned": learned}
    assert with_order({}, "hand", hand) == {"hand": hand}
    assert for_order(both, "learned") == (learned, None) and for_order(both, "hand")[0] == hand
    fitted, note = for_order({"learned": learned}, "hand")
    assert fitted == learned
    assert note.startswith("probability fitted on searches in the learned order (this one")
    assert "--ranker hand" in note
    assert for_order(hand, "learned")[0] == hand
    with pytest.raises(ValueError, match="no search order 'window'"):
        with_order(both, "window", learned)


def test_the_older_closed_world_calibration_is_refused():
    old = {"coef": [1.0] * 7, "intercept": 0.0, "features": list(FEATURES[:7]), "ece": 0.01}
    with pytest.raises(ValueError, match="older kind"):
        Calibration.from_dict(old)


def test_reliability_table_and_ece_by_hand():
    ece, bins = reliability([0.1, 0.1, 0.9, 0.9], [False, True, True, True])
    assert ece == pytest.approx(0.5 * abs(0.1 - 0.5) + 0.5 * abs(0.9 - 1.0))
    assert [(b["bin"], b["n"]) for b in bins] == [(1, 2), (9, 2)]
    assert bins[0]["observed"] == 0.5 and bins[1]["predicted"] == pytest.approx(0.9)
    assert reliability([1.0], [True])[0] == 0.0  # p = 1 falls in the last bin
    # weights: the wrong 0.1 counts three times
    ece, bins = reliability([0.1, 0.1], [False, True], weights=[3, 1])
    assert bins[0]["observed"] == pytest.approx(0.25) and ece == pytest.approx(0.15)
    assert reliability([], []) == (0.0, [])


def test_false_discovery_rate_by_hand():
    rows = false_discoveries([0.95, 0.85, 0.6, 0.3], [True, False, True, False], (0.5, 0.9))
    assert rows[0] == {"threshold": 0.5, "reported": 0.75, "fdr": pytest.approx(1 / 3)}
    assert rows[1] == {"threshold": 0.9, "reported": 0.25, "fdr": 0.0}
    assert false_discoveries([0.2], [False], (0.5,))[0]["fdr"] is None
    # weighted: the wrong 0.85 weighs 3
    weighted = false_discoveries([0.95, 0.85], [True, False], (0.8,), [1, 3])
    assert weighted[0]["fdr"] == pytest.approx(0.75)


def test_held_out_check_weighs_each_world_by_the_prior():
    flat = Logistic([0.0] * len(FEATURES), 0.0)  # p = 0.5 for any top hit
    calibration = Calibration(top=flat, rest=Logistic([0.0] * len(FEATURES), -50.0), coverage=0.8)
    check = HeldOutCheck(calibration, (0.5,))
    for _ in range(4):
        check.add("present", [hit(rank=1), hit(rank=2)], [True, False])
        check.add("absent", [hit(0.9, 8, True, rank=1)], [False])
    check.add("absent", [], [])  # a query left without hits counts for nothing
    report = check.report()
    assert report["worlds"]["present"] == {
        "queries": 4,
        "mean_top_probability": 0.5,
        "top_hit_rate": 1.0,
    }
    assert report["worlds"]["absent"]["top_hit_rate"] == 0.0
    assert report["mix"] == {"mean_top_probability": 0.5, "top_hit_rate": pytest.approx(0.8)}
    # top hits: 0.8 of the weight right at p = 0.5
    assert report["ece_top1"] == pytest.approx(0.3)
    assert report["fdr"][0]["fdr"] == pytest.approx(0.2)
    # the confident library match is the absent world's wrong top hit
    assert report["fdr_library_confident"]["fdr"] == 1.0
    assert report["fdr_library_confident"]["reported"] == pytest.approx(0.2)


def test_a_calibration_round_trips_every_field():
    top, rest = Logistic([0.1] * len(FEATURES), -0.5), Logistic([0.2] * len(FEATURES), -1.5)
    calibration = Calibration(top, rest, 0.3, fitted_on={"split": "val"}, ece=0.01, ece_top1=0.02)
    data = calibration.to_dict()
    assert data["version"] == 2 and data["features"] == list(FEATURES)
    again = Calibration.from_dict(data)
    assert again == calibration
    # fitted_on may be missing (an older writer): empty
    del data["fitted_on"]
    assert Calibration.from_dict(data).fitted_on == {}
    missing = {k: v for k, v in calibration.to_dict().items() if k != "features"}
    with pytest.raises(ValueError, match="older kind"):
        Calibration.from_dict(missing)


def test_reliability_weights_inside_a_bin_and_a_single_query():
    ece, (only,) = reliability([0.11, 0.19], [True, False], weights=[3, 1])
    assert only["predicted"] == pytest.approx(0.13) and only["observed"] == 0.75
    assert only["n"] == 4.0 and ece == pytest.approx(0.62)
    assert reliability([0.5], [True]) == (
        0.5,
        [{"bin": 5, "predicted": 0.5, "observed": 1.0, "n": 1.0}],
    )
    assert reliability([0.5], [True], weights=[1 / 3])[1][0]["n"] == 0.333333
    assert reliability([0.5], [True], weights=[0.0]) == (0.0, [])


def test_held_out_report_keys_and_an_empty_check():
    calibration = Calibration(
        Logistic([0.0] * len(FEATURES), 0.0),
        Logistic([0.0] * len(FEATURES), 0.0),
        0.5,
        fitted_on={"split": "val"},
    )
    empty = HeldOutCheck(calibration, (0.5,)).report()
    assert empty["mix"] == {"mean_top_probability": None, "top_hit_rate": None}
    assert empty["worlds"]["present"] == {
        "queries": 0,
        "mean_top_probability": None,
        "top_hit_rate": None,
    }
    assert empty["fdr_library_confident"] == {"reported": 0.0, "fdr": None}
    check = HeldOutCheck(calibration, (0.5,))
    check.add("present", [hit(rank=1), hit(rank=2)], [False, True])
    report = check.report()
    assert set(report) == {
        "coverage",
        "ece_all_hits",
        "ece_top1",
        "mix",
        "worlds",
        "fdr",
        "fdr_library_confident",
        "bins",
        "top1_bins",
        "fitted_on",
        "coef",
    }
    assert report["coverage"] == 0.5 and report["fitted_on"] == {"split": "val"}
    assert report["coef"]["top"] == dict.fromkeys(FEATURES, 0.0) | {"intercept": 0.0}
    assert set(report["coef"]) == {"top", "rest"}
    # the rank-2 hit's p is scaled to what the top hit leaves (0.5): both hits at 0.5
    assert report["ece_all_hits"] == pytest.approx(0.0) and report["ece_top1"] == 0.5
    # bins count weight: each hit of the present world weighs the coverage, 0.5
    assert [b["n"] for b in report["bins"]] == [1.0] and [b["n"] for b in report["top1_bins"]] == [
        0.5
    ]
    assert (report["ece_all_hits"], report["ece_top1"]) == (pytest.approx(0.0), 0.5)


def test_missing_numbers_count_as_zero_and_each_part_has_its_own_model():
    row = features(hit(query_peaks=10))  # no library match, no analogue
    assert row[3] == 0.0 and row[11] == 0.0
    assert features(hit(model=0.4, best=None))[9] == 0.0  # no best known: its own score
    rng = np.random.default_rng(1)
    hits, right, weights = _open_world(rng, 1500, 1.0)
    calibration = fit(hits, right, weights, 1.0, {})  # coverage 1: the closed world
    # rank 1 is right far more often than rank 2: the two models differ
    assert calibration.top.intercept != pytest.approx(calibration.rest.intercept, abs=0.1)
    top = calibration.top.probability(hit(0.5, 3, rank=1, n=20))
    rest = calibration.rest.probability(hit(0.5, 3, rank=2, n=20))
    assert top > rest
    with pytest.raises(ValueError, match="coverage 1.5"):
        fit(hits, right, weights, 1.5, {})


def test_the_first_bin_zero_weights_and_the_refusal_in_words():
    ece, bins = reliability([0.05, 0.05], [False, False])
    assert [b["bin"] for b in bins] == [0] and ece == pytest.approx(0.05)
    assert reliability([0.5, 0.6], [True, False], weights=[0, 0]) == (0.0, [])
    ece, bins = reliability([0.15, 0.55], [True, False], weights=[0, 1])
    assert [b["bin"] for b in bins] == [5] and ece == pytest.approx(0.55)
    assert false_discoveries([0.9], [True], (0.5,), weights=[0])[0]["reported"] == 0.0
    with pytest.raises(ValueError) as caught:
        Calibration.from_dict({"version": 1, "features": []})
    assert str(caught.value) == (
        "the model's calibration is of an older kind (it assumed the right structure is always "
        "among the candidates): refit it with `molvis evaluate --library`"
    )
