"""The search's learned order: a constructed window whose evidence orders the candidates one way
each and the ranker's stored weights another; the search follows the ranker, `--ranker hand`
keeps today's order, and a ranker of another model version is refused; each order's hits take
the probability fitted on that order."""

import json

import numpy as np
import pytest

from models.calibration import FEATURES, Calibration, Logistic
from models.ranker import EVIDENCE, Ranker, RankerError
from molvis.workflows.evidence import KnownCcs
from molvis.workflows.fragment_evidence import ANNOTATED, shipped_forward_model
from molvis.workflows.query import Query
from molvis.workflows.ranking import learned_order, learned_ranker, shown
from molvis.workflows.search import SearchOptions
from registry.db.connection import session_scope
from registry.learned.versions import ModelInfo, get_model, set_calibration, set_ranker
from registry.library.saved_index import refresh_index
from registry.search.molvis_search import Hit, SearchResult
from tests.builders import write
from tests.conftest import ingest, molvis
from tests.molvis.test_identify import GNPS3, search_json

# model score alone: A C D B; fragmenter alone: B C D A; their sum (the ranker): C D A B
WINDOW = {"A": (0.9, 0.0), "B": (0.0, 0.8), "C": (0.6, 0.6), "D": (0.5, 0.5)}
RANKER = Ranker(
    ["model_score", "fragmenter_score"], [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0], "m", "v1"
)


def _window() -> tuple[SearchResult, list[dict]]:
    hits, explained = [], []
    for rank, (name, (model, fragments)) in enumerate(
        sorted(WINDOW.items(), key=lambda x: -x[1][0])
    ):
        key = name * 14 + "-UHFFFAOYSA-N"
        hits.append(Hit(rank + 1, key, "C", None, 100.0, model, {"msms": model}))
        explained.append({"fragmenter_score": fragments, "explained_intensity": 1 - fragments})
    return SearchResult("q", len(hits), hits, {}), explained


def test_the_search_follows_the_ranker_not_any_one_evidence(engine):
    result, explained = _window()
    assert [h.inchikey[0] for h in result.hits] == list("ACDB")  # today's order: the model's
    query = Query("q", precursor_mz=101.0, adduct="[M+H]+")
    with session_scope(engine) as session:
        order = learned_order(
            session, RANKER, result, explained, KnownCcs(), query, SearchOptions(k=3)
        )
    assert [result.hits[o.row].inchikey[0] for o in order] == list("CDA")  # the first k
    values = np.array(
        [[h.score, e["fragmenter_score"]] for h, e in zip(result.hits, explained, strict=True)]
    )
    expected = RANKER.probabilities(values)  # over all four candidates, not the first k
    assert [o.probability for o in order] == pytest.approx(expected[[o.row for o in order]])


def test_the_ranker_reads_every_evidence_of_each_hit_as_the_search_gives_it(engine):
    """Every column the ranker reads, from where the search keeps it: the model score, the
    fragment evidence, the library score, |ppm error| (at most the search's window) and |CCS
    deviation| (missing: 0); a
    confident library match (0.7, 6 peaks) first, one peak short of it not."""
    ranker = Ranker(
        list(EVIDENCE),
        [
            -2.0,
            0.2,
            0.7,
            0.4,
            1.1,
            -0.3,
            -0.4,
            -0.3,
            0.9,
            0.4,
            0.3,
            0.2,
            1.3,
            -0.6,
            -1.2,
            0.1,
            0.5,
            0.1,
            0.6,
            -0.5,
            -0.8,
            0.3,
            -0.1,
            0.3,
            -0.2,
            0.05,
            0.2,
            0.25,
        ],
        "m",
        "v1",
    )
    query = Query("q", precursor_mz=195.087652, adduct="[M+H]+", ccs=150.0, ccs_adduct="[M+H]+")
    mass = query.neutral_mass
    hits, explained = [], []
    for i, (lib, peaks, ppm) in enumerate(
        [(0.69, 9, 1.0), (0.7, 5, -2.0), (None, None, 3.0), (0.7, 6, 0.5), (0.3, 2, -4.0)]
    ):
        key = chr(ord("A") + i) * 14 + "-UHFFFAOYSA-N"
        hits.append(
            Hit(
                i + 1,
                key,
                "C",
                None,
                mass * (1 + ppm * 1e-6),
                0.1 * i,
                {"msms": 0.1},
                library_score=lib,
                matched_peaks=peaks,
            )
        )
        explained.append(
            None
            if i == 2
            else {
                "fragmenter_score": 0.2 + 0.1 * i,
                "explained_intensity": 0.9 - 0.15 * i,
                "predicted_similarity": None if i == 4 else 0.05 * i,
            }
        )
    ccs = KnownCcs({"DDDDDDDDDDDDDD": [147.0, 160.0]}, {"AAAAAAAAAAAAAA": (153.0, 5.0)}, "p")
    result = SearchResult("q", 5, hits, {})
    with session_scope(engine) as session:
        options = SearchOptions(ppm=3.5)
        order = learned_order(session, ranker, result, explained, ccs, query, options)
    values = np.array(
        [
            [0.0, 0.2, 0.9, 0.0, 0.69, 1.0, np.nan],  # CCS 153 predicted
            [0.1, 0.3, 0.75, 0.05, 0.7, 2.0, np.nan],
            [0.2, np.nan, np.nan, np.nan, np.nan, 3.0, np.nan],  # no fragments, no library
            [0.3, 0.5, 0.45, 0.15, 0.7, 0.5, np.nan],  # measured 147 and 160
            [0.4, 0.6, 0.3, np.nan, 0.3, 3.5, np.nan],  # 4 ppm off: counts as the window's 3.5
        ]
    )
    values[0, 6] = round(3 / 153 * 100, 3)  # from the predicted value (deviations: 3 decimals)
    values[3, 6] = round(3 / 147 * 100, 3)  # from the nearest measured value
    expected = ranker.probabilities(values)
    assert np.argmax(expected) == 0  # the ranker alone would put another first
    assert order[0].row == 3  # the one confident match
    by_row = {o.row: o.probability for o in order}
    assert [by_row[i] for i in range(5)] == pytest.approx(expected, abs=1e-5)
    rest = [o.row for o in order[1:]]
    assert rest == sorted([0, 1, 2, 4], key=lambda i: -ranker.scores(values)[i])


def test_no_mass_no_peak_count_and_a_library_score_short_of_confident(engine):
    """Without a precursor the mass error is missing (0); a match without a peak count, or
    just under 0.7, is not confident."""
    ranker = Ranker(
        ["model_score", "library_score"], [1.0, 0.0, 0.0, 0.0, 2.0, 0.0, 0.0, 0.0], "m", "v1"
    )
    query = Query("q", adduct="[M+H]+")
    hits = [
        Hit(1, "A" * 14 + "-UHFFFAOYSA-N", "C", None, 100.0, 0.9, {}, library_score=0.1),
        Hit(2, "B" * 14 + "-UHFFFAOYSA-N", "C", None, 100.0, 0.1, {}, library_score=0.7),
        Hit(
            3,
            "C" * 14 + "-UHFFFAOYSA-N",
            "C",
            None,
            100.0,
            0.2,
            {},
            library_score=0.69,
            matched_peaks=9,
        ),
    ]
    with session_scope(engine) as session:
        order = learned_order(
            session,
            ranker,
            SearchResult("q", 3, hits, {}),
            None,
            KnownCcs(),
            query,
            SearchOptions(),
        )
    # scores 0.9 + 0.2, 0.1 + 1.4, 0.2 + 1.38: by score alone, no confident match first
    assert [o.row for o in order] == [2, 1, 0]
    assert [o.score for o in order] == pytest.approx([1.58, 1.5, 1.1])


def test_annotations_are_shown_for_the_first_hits_only():
    found = {"peaks": 3, "annotations": [{"mz": 1.0}]}
    assert shown(found, ANNOTATED - 1) == found
    assert shown(found, ANNOTATED) == {"peaks": 3}
    assert shown(None, 0) is None


def _info(ranker: dict | None, version: str = "v1") -> ModelInfo:
    return ModelInfo(1, "m", version, "/nowhere/m.pt", {}, True, None, ranker)


class _Loaded:
    def __init__(self, info: ModelInfo):
        self.info = info


def test_which_ranker_a_search_gets_and_why():
    query = Query("q", msms=object(), precursor_mz=101.0, adduct="[M+H]+")
    data = RANKER.to_dict()
    ranker, why = learned_ranker(_Loaded(_info(data)), query, SearchOptions())
    assert ranker == RANKER and why is None
    assert learned_ranker(_Loaded(_info(data)), query, SearchOptions(ranker="hand")) == (None, None)
    assert learned_ranker(_Loaded(_info(data)), Query("q", adduct="[M+H]+"), SearchOptions()) == (
        None,
        None,
    )
    _, why = learned_ranker(_Loaded(_info(data)), query, SearchOptions(fragments=False))
    assert why == "ranked by hand: the learned ranker reads the fragment evidence"
    _, why = learned_ranker(_Loaded(_info(None)), query, SearchOptions())
    assert why == "ranked by hand: model m has no learned ranker (python -m bench.ranker fits one)"
    with pytest.raises(RankerError, match="fitted for model m version v1, not m version v2"):
        learned_ranker(_Loaded(_info(data, "v2")), query, SearchOptions())
    in_use = shipped_forward_model().version
    assert learned_ranker(_Loaded(_info(data | {"forward_model": in_use})), query, SearchOptions())
    with pytest.raises(
        RankerError, match=f"fitted with forward model version 000000000000, not {in_use}"
    ):
        learned_ranker(_Loaded(_info(data | {"forward_model": "0" * 12})), query, SearchOptions())
    with pytest.raises(ValueError, match="ranker 'mine'"):
        SearchOptions(ranker="mine")


# isomers of fuberidazole (C11H8N2O), the first query of GNPS3: its mass window's candidates
ISOMERS = (
    "c1ccc2[nH]c(-c3ccoc3)nc2c1",
    "N#Cc1ccccc1Nc1ccco1",
    "N#Cc1ccc(Nc2ccco2)cc1",
    "N#Cc1cccc(Nc2ccco2)c1",
)


@pytest.fixture
def registry(engine, seed_registry, molvis_home, tmp_path):
    ingest(engine, "msms", GNPS3, "gnps")
    smiles = "smiles\n" + "\n".join(ISOMERS) + "\n"
    ingest(engine, "structures", write(tmp_path, "isomers.csv", smiles), "isomers")
    seed_registry(model="random")
    with session_scope(engine) as session:
        refresh_index(session, molvis_home)
    return engine


def _sure(intercept: float) -> dict:
    """A calibration that gives every rank-1 hit the same probability, whatever its evidence."""
    flat = [0.0] * len(FEATURES)
    return Calibration(Logistic(flat, intercept), Logistic(flat, -9.0)).to_dict()


def test_the_command_line_ranks_by_the_stored_ranker_or_by_hand(registry):
    """... and each order's hits get the probability fitted on that order's searches."""
    with session_scope(registry) as session:
        info = get_model(session, "ui-model")
        ranker = Ranker(
            ["model_score"], [-3.0, 0.0, 0.0, 0.0], "ui-model", info.version
        )  # the reverse
        set_ranker(session, "ui-model", ranker.to_dict())
        set_calibration(session, "ui-model", {"hand": _sure(4.0), "learned": _sure(-4.0)})
    args = ("--msms", str(GNPS3), "--no-library", "--top", "4")
    learned = search_json(*args)[:1]  # fuberidazole's window: itself and its four isomers
    hand = search_json(*args, "--ranker", "hand")[:1]
    assert learned[0]["hits"][0]["probability"] == pytest.approx(1 / (1 + np.exp(4.0)), abs=1e-4)
    assert hand[0]["hits"][0]["probability"] == pytest.approx(1 / (1 + np.exp(-4.0)), abs=1e-4)
    assert not any("probability" in n for n in learned[0]["notes"] + hand[0]["notes"])
    assert len(learned[0]["hits"]) == len(hand[0]["hits"]) == 4
    for mine, today in zip(learned, hand, strict=True):
        assert [h["evidence"]["ranking"]["ranker"] for h in mine["hits"]] == ["learned"] * len(
            mine["hits"]
        )
        assert {h["evidence"]["ranking"]["ranker"] for h in today["hits"]} == {"hand"}
        scores = [h["score"] for h in today["hits"]]
        assert scores == sorted(scores, reverse=True)
        mine_scores = [h["score"] for h in mine["hits"]]
        assert mine_scores == sorted(mine_scores)  # the stored weights reverse the model
        for h in mine["hits"]:
            assert h["evidence"]["ranking"]["score"] == pytest.approx(-3.0 * h["score"], abs=1e-5)
            assert h["ranked_by"] == "learned ranker"
            assert h["ranking_value"] == h["evidence"]["ranking"]["score"]
        assert {h["ranked_by"] for h in today["hits"]} == {"model + 0.25 x library score"}
        window = [h["evidence"]["ranking"]["window_probability"] for h in mine["hits"]]
        assert mine["confidence"]["window_top_k_probability"] == {
            "1": pytest.approx(window[0], abs=1e-6)
        }  # four hits: no top 5
        assert today["confidence"]["window_top_k_probability"] is None
    with session_scope(registry) as session:
        set_ranker(
            session,
            "ui-model",
            Ranker(["model_score"], [1.0, 0.0, 0.0, 0.0], "ui-model", "old").to_dict(),
        )
    refused = molvis("search", *args, "--json")
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    assert "fitted for model ui-model version old" in refused.stderr
    assert "--ranker hand" in refused.stderr
    assert json.loads(molvis("search", *args, "--json", "--ranker", "hand").stdout)
