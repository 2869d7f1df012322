"""The harder candidate sets and the structure-prior control, on hand-made vectors and
candidates whose answers are known."""

import numpy as np
import pytest

from models.candidate_sets import (
    MASSSPECGYM_MAX,
    MEASURED_SET,
    Candidate,
    candidate_set_rows,
)
from models.evaluate import Embedder, Query
from models.split_similarity import nearest_train_similarity
from tests.builders import unit

# InChIKeys: first block decides a hit
T = "TTTTTTTTTTTTTT-UHFFFAOYSA-N"
T_STEREO = "TTTTTTTTTTTTTT-ABCDEFGHSA-N"
A, B, C = (
    "AAAAAAAAAAAAAA-UHFFFAOYSA-N",
    "BBBBBBBBBBBBBB-UHFFFAOYSA-N",
    "CCCCCCCCCCCCCC-UHFFFAOYSA-N",
)
VECTORS = {"t": [1, 0], "a": [0.9, 0.1], "b": [0.8, 0.6], "c": [0.0, 1.0]}


EMBEDDER = Embedder(
    queries=lambda modality, items: np.stack([unit(x, len(x)) for x in items]),
    structures=lambda smiles: (
        np.ones(len(smiles), bool),
        np.stack([unit(VECTORS[s], len(VECTORS[s])) for s in smiles]),
    ),
    dim=2,
)


def rows_by_set(rows):
    return {r["candidate_set"]: r for r in rows}


def test_sets_ranks_random_and_structure_prior():
    # the query points between t and b: in the whole window a (library, same formula) and b
    # (measured, other formula) compete with the truth
    window = [
        Candidate(T, "t", True, "C7H8N4O2"),
        Candidate(A, "a", False, "C7H8N4O2"),
        Candidate(B, "b", True, "C8H12N2O2"),
        Candidate(C, "c", False, "C8H12N2O2"),
    ]
    query = Query("msms", [("msms", [0.5, 0.5])], T_STEREO, 180.06)  # a stereo variant: a hit
    rows = rows_by_set(candidate_set_rows(EMBEDDER, [query], lambda m: window, "msms", {}))
    # scores: b 0.99, a 0.78, t 0.71, c 0.71 -> the truth ties c at rank 4 (ties pessimistic)
    whole = rows["window"]
    assert whole["n_queries"] == 1 and whole["mean_candidates"] == 4
    assert (whole["top1"], whole["top5"]) == (0.0, 1.0)
    assert whole["random_top1"] == pytest.approx(1 / 4)
    assert whole["prior_top1"] == pytest.approx(1 / 2)  # 2 measured candidates
    assert rows["window 2-9"]["n_queries"] == 1 and "window 10-99" not in rows
    measured = rows["measured_only"]  # t and b: b first
    assert measured["mean_candidates"] == 2 and measured["top1"] == 0.0
    assert measured["random_top1"] == pytest.approx(0.5) and measured["top5"] == 1.0
    assert MEASURED_SET not in rows  # two measured candidates: not in the 3+ set
    same = rows["same_formula"]  # t and a: a first
    assert same["mean_candidates"] == 2 and same["top1"] == 0.0
    assert same["prior_top1"] == pytest.approx(1.0)  # one measured: the prior ranks t first
    toward_truth = Query("msms", [("msms", [1.0, -0.2])], T, 180.06)
    rows = rows_by_set(
        candidate_set_rows(
            EMBEDDER, [toward_truth], lambda m: window, "msms", {}, control="spectrum_blind"
        )
    )
    assert rows["window"]["top1"] == 1.0 and rows["window"]["control"] == "spectrum_blind"


def test_measured_only_3_plus_holds_windows_of_three_or_more_measured_candidates():
    """A window of exactly three measured candidates (and a library one) is in the set, ranked
    among its measured candidates only; one of two measured candidates is not."""
    three = [
        Candidate(T, "t", True, "X"),
        Candidate(A, "a", False, "X"),
        Candidate(B, "b", True, "X"),
        Candidate(C, "c", True, "X"),
    ]
    two = [three[0], three[1], three[2]]
    queries = [
        Query("msms", [("msms", [0.5, 0.5])], T, 100.0),
        Query("msms", [("msms", [1.0, -0.2])], T, 200.0),
    ]
    rows = rows_by_set(
        candidate_set_rows(EMBEDDER, queries, lambda m: three if m < 150 else two, "msms", {})
    )
    assert rows["measured_only"]["n_queries"] == 2
    row = rows[MEASURED_SET]
    assert row["n_queries"] == 1 and row["mean_candidates"] == 3
    assert row["random_top1"] == pytest.approx(1 / 3)
    assert row["top1"] == 0.0 and row["top5"] == 1.0  # b first, the truth behind it


def test_truth_missing_and_no_mass_are_misses_and_massspecgym_caps_at_256():
    big = [Candidate(T, "t", True, "X")] + [
        Candidate(f"{n:014d}-UHFFFAOYSA-N".replace("0", "Z"), "c", False, "X") for n in range(300)
    ]
    queries = [
        Query("msms", [("msms", [1.0, 0.0])], T, 300.0),
        Query("msms", [("msms", [1.0, 0.0])], A, 300.0),  # truth not in the window
        Query("msms", [("msms", [1.0, 0.0])], T, None),  # no mass: no candidates
    ]
    rows = rows_by_set(candidate_set_rows(EMBEDDER, queries, lambda m: big, "msms", {}))
    assert rows["window"]["top1"] == pytest.approx(1 / 3)
    assert rows["window"]["truth_in_candidates"] == pytest.approx(1 / 3)
    gym = rows["massspecgym_256"]
    assert gym["mean_candidates"] == pytest.approx(2 * MASSSPECGYM_MAX / 3)
    assert gym["top1"] == pytest.approx(1 / 3)  # the truth is always kept
    assert rows["window 100+"]["n_queries"] == 2


def test_nearest_train_similarity():
    result = nearest_train_similarity(["CCO", "c1ccccc1O"], ["CCO", "CCCO", "c1ccccc1"])
    assert result["compounds"] == 2 and result["p90"] <= 1.0
    assert result["fraction_at_least_0.7"] == 0.5  # ethanol itself; phenol vs benzene is lower
    assert nearest_train_similarity([], ["CCO"]) == {}


def test_a_ranker_that_reads_the_query_replaces_the_model():
    """`scores_for` ranks each window (the fragmenter reading the peaks): here it puts the
    truth first where the model put it fourth; the random and prior columns stay the set's."""
    window = [
        Candidate(T, "t", True, "C7H8N4O2"),
        Candidate(A, "a", False, "C7H8N4O2"),
        Candidate(B, "b", True, "C8H12N2O2"),
    ]
    query = Query("msms", [("msms", [0.5, 0.5])], T, 180.06, spectrum="peaks")
    seen = []

    def scores_for(q, cands):
        seen.append((q.spectrum, [c.smiles for c in cands]))
        return np.array([1.0 if c.smiles == "t" else 0.5 for c in cands])

    rows = rows_by_set(
        candidate_set_rows(
            EMBEDDER, [query], lambda m: window, "msms fragmenter", {}, scores_for=scores_for
        )
    )
    assert rows["window"]["top1"] == 1.0 and rows["window"]["query"] == "msms fragmenter"
    assert rows["window"]["random_top1"] == pytest.approx(1 / 3)
    assert seen == [("peaks", ["t", "a", "b"])]  # the whole window, scored once
