"""molvis_rerank(): the SQL ranking agrees with models/ranker.py on the same inputs (scores,
probabilities, order), keeps confident library matches first, and refuses inputs that do not
line up."""

import json
import math

import numpy as np
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from models.ranker import EVIDENCE, Ranker
from registry.db.connection import session_scope
from registry.search.rerank import rerank


def _key(i: int) -> str:
    return "".join(chr(ord("A") + int(c)) for c in f"{i:014d}") + "-UHFFFAOYSA-N"


def _python_order(ranker: Ranker, keys, values, confident) -> list[int]:
    scores = ranker.scores(values[:, [EVIDENCE.index(e) for e in ranker.evidence]])
    library = np.nan_to_num(values[:, EVIDENCE.index("library_score")], nan=0.0)
    return sorted(
        range(len(keys)),
        key=lambda i: (not confident[i], -library[i] if confident[i] else 0, -scores[i], keys[i]),
    )


def _score_sent_as_nan(engine, ranker: Ranker, fragmenter_score: float = math.nan) -> float:
    """molvis_rerank()'s score of one candidate whose evidence is sent as NaN (rerank() sends a
    missing value as NULL), its fragmenter score as given."""
    with engine.connect() as conn:
        return conn.execute(
            text(
                "SELECT score FROM molvis_rerank(CAST(:r AS jsonb), '{A}', '{NaN}', "
                "CAST(:f AS float8[]), '{NaN}', '{NaN}', '{NaN}', '{NaN}', '{NaN}')"
            ),
            {"r": json.dumps(ranker.to_dict()), "f": [fragmenter_score]},
        ).scalar_one()


@pytest.mark.parametrize("size", [1, 2, 7, 40])
def test_the_sql_ranking_and_the_python_ranking_agree(engine, size):
    rng = np.random.default_rng(size)
    ranker = Ranker(list(EVIDENCE), rng.normal(0, 2, 4 * len(EVIDENCE)).tolist(), "m", "v")
    values = rng.uniform(0, 1, (size, len(EVIDENCE)))
    values[rng.uniform(size=values.shape) < 0.2] = np.nan  # missing: 0, and not present
    if size > 2:
        values[1] = values[0]  # a tie in every evidence: the InChIKey orders it
    keys = [_key(i) for i in rng.permutation(size)]
    confident = [bool(i == size - 1 and size > 2) for i in range(size)]
    with session_scope(engine) as session:
        found = rerank(session, ranker.to_dict(), keys, values, confident)
    assert [r.row for r in found] == _python_order(ranker, keys, values, confident)
    assert [r.rank for r in found] == list(range(1, size + 1))
    python = ranker.scores(values)
    probabilities = ranker.probabilities(values)
    for r in found:
        assert r.score == pytest.approx(python[r.row], abs=1e-9)
        assert r.probability == pytest.approx(probabilities[r.row], abs=1e-9)


def test_equal_evidence_gives_equal_scores_and_the_inchikey_orders_them(engine):
    """A window of 1,000 candidates in 500 pairs, each pair's evidence equal, its terms of very
    different sizes (so that adding them in another order changes the last bits; in smaller
    windows the database happens to add them in one order): each pair's scores are equal to
    the bit and its InChIKeys order it."""
    pairs = 500
    rng = np.random.default_rng(11)
    coef = rng.normal(0, 1, 4 * len(EVIDENCE)) * 10.0 ** rng.integers(-6, 7, 4 * len(EVIDENCE))
    ranker = Ranker(list(EVIDENCE), coef.tolist(), "m", "v")
    values = np.repeat(rng.uniform(0, 1, (pairs, len(EVIDENCE))), 2, axis=0)
    keys = [_key(i) for i in rng.permutation(2 * pairs)]
    with session_scope(engine) as session:
        found = rerank(session, ranker.to_dict(), keys, values, [False] * 2 * pairs)
    score = {r.row: r.score for r in found}
    rank = {r.row: r.rank for r in found}
    for pair in range(pairs):
        a, b = 2 * pair, 2 * pair + 1
        assert score[a] == score[b]
        assert (rank[a] < rank[b]) == (keys[a] < keys[b]) and abs(rank[a] - rank[b]) == 1


def test_a_ranker_of_some_evidence_ignores_the_rest(engine):
    ranker = Ranker(["fragmenter_score"], [4.0, 1.0, 0.0, 0.0], "m", "v")
    values = np.zeros((3, len(EVIDENCE)))
    values[:, 0] = [0.9, 0.5, 0.1]  # the model score says 0, 1, 2
    values[:, 1] = [0.1, 0.2, 0.8]  # the fragmenter says 2, 1, 0
    with session_scope(engine) as session:
        found = rerank(session, ranker.to_dict(), [_key(i) for i in range(3)], values, [False] * 3)
    assert [r.row for r in found] == [2, 1, 0]


def test_a_candidate_with_references_weighs_its_evidence_apart(engine):
    """The fourth coefficient counts a value again where the candidate has a library score
    (NULL and NaN: none), and only for a ranker that reads library scores."""
    values = np.full((3, len(EVIDENCE)), np.nan)
    values[:, EVIDENCE.index("fragmenter_score")] = [0.9, 0.5, 0.4]
    values[:, EVIDENCE.index("library_score")] = [np.nan, 0.1, 0.2]
    keys = [_key(i) for i in range(3)]
    with_library = Ranker(
        ["fragmenter_score", "library_score"], [1.0, 0, 0, 2.0] + [0] * 4, "m", "v"
    )
    without = Ranker(["fragmenter_score"], [1.0, 0, 0, 2.0], "m", "v")
    with session_scope(engine) as session:
        read = rerank(session, with_library.to_dict(), keys, values, [False] * 3)
        unread = rerank(session, without.to_dict(), keys, values, [False] * 3)
    assert [r.row for r in read] == [1, 2, 0]
    assert [r.score for r in read] == pytest.approx([1.5, 1.2, 0.9])
    assert [r.row for r in unread] == [0, 1, 2]
    assert [r.score for r in unread] == pytest.approx([0.9, 0.5, 0.4])
    nan = _score_sent_as_nan(engine, with_library, fragmenter_score=0.5)
    assert nan == pytest.approx(0.5)  # a NaN library score: no references


def test_a_value_that_is_there_counts_apart_from_its_size(engine):
    """A library score of 0 and a missing one differ by the presence coefficient alone; NULL
    and NaN are both missing."""
    ranker = Ranker(["library_score"], [1.0, 0.0, -2.0, 0.0], "m", "v")
    values = np.full((3, len(EVIDENCE)), np.nan)
    values[:, EVIDENCE.index("library_score")] = [0.0, np.nan, 0.5]
    with session_scope(engine) as session:
        found = rerank(session, ranker.to_dict(), [_key(i) for i in range(3)], values, [False] * 3)
    assert [r.row for r in found] == [1, 2, 0]
    assert [r.score for r in found] == pytest.approx([0.0, -1.5, -2.0])
    assert _score_sent_as_nan(engine, ranker) == 0.0


def test_scores_far_below_the_best_get_no_probability_and_no_error(engine):
    ranker = Ranker(["mass_error_ppm"], [-1.0, 0.0, 0.0, 0.0], "m", "v")
    values = np.full((3, len(EVIDENCE)), np.nan)
    values[:, EVIDENCE.index("mass_error_ppm")] = [1.0, 5e4, 2.0]
    with session_scope(engine) as session:
        found = rerank(session, ranker.to_dict(), [_key(i) for i in range(3)], values, [False] * 3)
    assert [r.row for r in found] == [0, 2, 1]
    by_row = {r.row: r.probability for r in found}
    python = ranker.probabilities(values[:, [EVIDENCE.index("mass_error_ppm")]])
    assert [by_row[i] for i in range(3)] == pytest.approx(python, abs=1e-12)
    assert found[2].probability < 1e-300 and found[2].score == -5e4


def test_inputs_that_do_not_line_up_are_refused(engine):
    ranker = Ranker(["model_score"], [1.0, 0.0, 0.0, 0.0], "m", "v").to_dict()
    with engine.connect() as conn:
        assert (
            conn.execute(
                text(
                    "SELECT count(*) FROM molvis_rerank(CAST(:r AS jsonb), '{}', '{}', '{}', '{}', "
                    "'{}', '{}', '{}', '{}')"
                ),
                {"r": json.dumps(ranker)},
            ).scalar()
            == 0
        )
    for call, message in [
        ("'{A,B}', '{1,2}', '{1}', '{1,2}', '{1,2}', '{1,2}', '{1,2}', '{1,2}'", "one value of"),
        ("'{A,B}', '{1,2}', '{1,2}', '{1,2}', '{1,2}', '{1,2}', '{1,2}', '{1}'", "one value of"),
        ("'{A}', '{1}', '{1}', '{1}', '{1}', '{1}', '{1}', '{1}', '{true,false}'", "one value of"),
    ]:
        with engine.connect() as conn, pytest.raises(DBAPIError, match=message):
            conn.execute(
                text(f"SELECT * FROM molvis_rerank(CAST(:r AS jsonb), {call})"),
                {"r": json.dumps(ranker)},
            )
    with engine.connect() as conn, pytest.raises(DBAPIError, match="not a ranker"):
        conn.execute(
            text(
                'SELECT * FROM molvis_rerank(\'{"evidence": ["model_score"], "coef": [1, 2]}\', '
                "'{A}', '{1}', '{1}', '{1}', '{1}', '{1}', '{1}', '{1}')"
            )
        )
