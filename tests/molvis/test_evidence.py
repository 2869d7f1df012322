"""Levels and evidence numbers of a hit."""

import numpy as np
import pytest

from molvis.workflows.evidence import KnownCcs, ccs_deviation, level, ppm_error, summary
from molvis.workflows.query import Query
from registry.search.molvis_search import Hit


def make_hit(scores=None, formula="C8H10N4O2", mass=194.080376):
    return Hit(
        1,
        "RYYVLZVUVIJVGH-UHFFFAOYSA-N",
        "Cn1cnc2c1c(=O)n(C)c(=O)n2C",
        "caffeine",
        mass,
        0.5,
        scores if scores is not None else {"msms": 0.5},
        formula,
    )


def query(precursor=195.087652, adduct="[M+H]+", ccs=None):
    return Query("q", precursor_mz=precursor, adduct=adduct, ccs=ccs, ccs_adduct="[M+H]+")


def lib(score, peaks=None, confident=False, search="msms"):
    return {"search": search, "score": score, "matched_peaks": peaks, "confident": confident}


def test_levels_follow_the_evidence():
    assert level(lib(0.9, 8, True), make_hit(), query(), None) == "2a"
    assert level(lib(0.3, 1), make_hit(), query(), None) == "3"  # the model speaks for it
    assert level(None, make_hit(), query(), None) == "3"  # the model's MS/MS score
    assert level(None, make_hit({"ir": 0.4}), query(), None) == "3"
    # CCS alone is not spectral evidence: mass only, or the formula when given
    assert level(None, make_hit({"ccs": 0.9}), query(), None) == "5"
    assert level(None, make_hit({"ccs": 0.9}), query(None, None), "C8H10N4O2") == "4"
    # no mass window and no formula: a model score alone is not a tentative candidate, and
    # without a mass there is no "mass only" level either
    assert level(None, make_hit(), query(None, None), None) is None
    assert level(None, make_hit({"ccs": 0.9}), query(None, None), None) is None
    # a formula given that the hit does not have: no level without a mass
    assert level(None, make_hit(), query(None, None), "C6H6") is None
    # a confident IR match needs no mass
    assert (
        level(lib(0.95, None, True, "ir"), make_hit({"ir": -0.2}), query(None, None), None) == "2a"
    )
    assert level(lib(0.95, None, True, "ir"), make_hit(), query(None, None), None) == "2a"


def test_level_3_needs_positive_spectral_evidence():
    against = make_hit({"msms": -0.14})
    assert level(None, against, query(), None) == "5"
    assert level(None, make_hit({"msms": 0.0}), query(), None) == "5"
    assert level(None, make_hit({"msms": 0.01}), query(), None) == "3"
    # a library match below the confident thresholds counts from 0.5 and 3 matched peaks
    assert level(lib(0.5, 3), against, query(), None) == "3"
    assert level(lib(0.49, 9), against, query(), None) == "5"
    assert level(lib(0.9, 2), against, query(), None) == "5"
    assert level(lib(0.7, None, search="ir"), make_hit({"ir": -0.1}), query(), None) == "3"
    assert level(lib(0.69, None, search="ir"), make_hit({"ir": -0.1}), query(), None) == "5"
    # spectral support and an agreeing formula: 3 (3 is checked before 4), also without a mass
    assert level(None, make_hit(), query(), "C8H10N4O2") == "3"
    assert level(None, make_hit(), query(None, None), "C8H10N4O2") == "3"
    # the formula agreeing without spectral support is level 4, not 3
    assert level(None, against, query(), "C8H10N4O2") == "4"
    assert level(None, against, query(), "C6H6") == "5"


def _fragments(explained: int, share: float, peaks: int = 8) -> dict:
    return {"peaks": peaks, "explained_peaks": explained, "explained_intensity": share}


def test_fragments_that_explain_the_query_are_spectral_support():
    against = make_hit({"msms": -0.14})
    assert level(None, against, query(), None, _fragments(3, 0.5)) == "3"
    assert level(None, against, query(), None, _fragments(2, 0.9)) == "5"  # too few peaks
    assert level(None, against, query(), None, _fragments(6, 0.49)) == "5"  # too little
    assert level(None, against, query(), None, None) == "5"
    assert level(None, against, query(None, None), "C8H10N4O2", _fragments(4, 0.8)) == "3"
    assert level(None, against, query(None, None), None, _fragments(4, 0.8)) is None  # no mass


def test_summary_says_the_evidence_in_words():
    hit = make_hit({"msms": -0.14})
    q = query()
    evidence = {
        "library": lib(0.41, 2),
        "ppm_error": ppm_error(hit, q),
        "ccs": None,
        "formula": {"formula": hit.formula, "agrees": False},
        "references": {"compared": 4, "matching": 1},
    }
    words = summary("5", evidence, hit)
    assert "1 of its 4 reference spectra at this precursor match" in words
    assert words.startswith("level 5: library match 0.41, 2 matched peaks (below")
    assert "model MS/MS cosine -0.14 (speaks against it)" in words
    assert "formula differs" in words and "ppm" in words
    none = summary(None, evidence | {"ppm_error": None, "library": None}, make_hit())
    assert none.startswith("no level") and "no mass given" in none
    assert "speaks for it" in none
    assert "fragments" not in words
    explained = summary("3", evidence | {"fragments": _fragments(3, 0.614, peaks=7)}, hit)
    assert "its fragments explain 3 of 7 fragment peaks (61 % of the intensity)" in explained
    assert "fragments" not in summary("5", evidence | {"fragments": _fragments(0, 0, 0)}, hit)


def test_ppm_error_and_ccs_deviation():
    q = query()
    exact = q.neutral_mass
    assert ppm_error(make_hit(mass=exact), q) == 0.0
    assert ppm_error(make_hit(mass=exact * (1 + 5e-6)), q) == pytest.approx(5.0, abs=1e-3)
    assert ppm_error(make_hit(), query(None, None)) is None
    with_ccs = query(ccs=140.0)
    predicted = {"A": (141.0, 3.0), "C": (145.0, 4.567), "E": (150.0, None)}
    known = KnownCcs({"A": [150.0, 137.2], "B": [150.0]}, predicted, "p1")
    assert ccs_deviation(with_ccs, known, "A") == {
        "measured": 137.2,
        "predicted": None,
        "basis": "measured",  # measured beats predicted
        "adduct": "[M+H]+",
        "deviation_pct": round(2.8 / 137.2 * 100, 3),
    }
    assert ccs_deviation(with_ccs, known, "C") == {
        "measured": None,
        "predicted": 145.0,
        "uncertainty_pct": 4.57,  # the prediction's 95 % interval
        "basis": "predicted",
        "predictor": "p1",
        "adduct": "[M+H]+",
        "deviation_pct": round(-5 / 145 * 100, 3),
    }
    assert ccs_deviation(with_ccs, known, "E")["uncertainty_pct"] is None
    assert ccs_deviation(with_ccs, known, "D") is None
    assert ccs_deviation(query(), known, "A") is None
    assert np.isfinite(ppm_error(make_hit(), q))


def test_annotate_gives_each_hit_its_evidence_ranking_level_and_probability():
    """Three hits of one MS/MS query, built by hand: a confident library match, a weak one
    the model speaks against, and a hit the model alone found; every number of the output
    traced to its input (no database)."""
    from models.calibration import FEATURES, Calibration, HitEvidence, Logistic, with_context
    from molvis.workflows.evidence import annotate
    from molvis.workflows.library_match import LibraryEvidence, Matched
    from registry.library.flash_index import LibraryMatch, LibraryOptions
    from registry.library.references import Reference
    from registry.records import MsmsRecord, StructureRef
    from registry.search.molvis_search import SearchResult

    keys = [
        "AAAAAAAAAAAAAA-UHFFFAOYSA-N",
        "BBBBBBBBBBBBBB-UHFFFAOYSA-N",
        "CCCCCCCCCCCCCC-UHFFFAOYSA-N",
    ]
    hits = [
        Hit(1, keys[0], "C", "a", 194.0804, 0.3, {"msms": 0.3}, "C8H10N4O2", 0.9, 8),
        Hit(2, keys[1], "C", "b", 194.0800, -0.2, {"msms": -0.2}, "C8H10N4O2", 0.55, 3),
        Hit(3, keys[2], "C", None, 194.0810, 0.5, {"msms": 0.5}, "C9H14N4O", None, None),
    ]
    result = SearchResult("q", 7, hits, {"msms": 1.0})

    def ref(n, key, adduct):
        return Reference(n, f"R{n}", key, f"name{n}", adduct, "20 eV", "lab", 195.0877)

    library = LibraryEvidence(
        identity=[
            Matched(LibraryMatch(11, 0.9, 8, 195.0877, "identity"), ref(11, keys[0], "[M+H]+")),
            Matched(LibraryMatch(12, 0.4, 2, 195.0877, "identity"), ref(12, keys[0], "[M+H]+")),
            Matched(LibraryMatch(21, 0.55, 3, 195.0877, "identity"), ref(21, keys[1], "[M+Na]+")),
        ],
        analogues=[
            Matched(LibraryMatch(31, 0.77, None, 300.1, "analogue"), ref(31, keys[2], None))
        ],
        query_peaks=10,
        compared={keys[0][:14]: 3, keys[1][:14]: 1},
    )
    spectrum = MsmsRecord(
        structure=StructureRef(""),
        record_id="q",
        precursor_mz=195.0877,
        adduct="[M+H]+",
        ion_mode="positive",
        instrument_type=None,
        collision_energy=None,
        mz=np.array([50.0, 100.0]),
        intensity=np.array([1.0, 2.0]),
    )
    q = Query("q", msms=spectrum, precursor_mz=195.0877, adduct="[M+H]+")
    n = len(FEATURES)
    calibration = Calibration(
        Logistic([0.3 * ((i % 3) - 1) for i in range(n)], -0.5), Logistic([0.2] * n, -1.0)
    )
    options = LibraryOptions()
    out, numbers = annotate(result, q, library, KnownCcs(), options, "C8H10N4O2", calibration)
    first, second, third = out
    assert first["evidence"]["library"] == {
        "search": "msms",
        "score": 0.9,
        "matched_peaks": 8,
        "confident": True,
        "spectrum_id": 11,
        "record_id": "R11",
        "reference_inchikey": keys[0],
        "reference_name": "name11",
        "adduct": "[M+H]+",
        "collision_energy": "20 eV",
        "source": "lab",
        "precursor_mz": 195.0877,
    }
    assert second["evidence"]["library"]["adduct"] == "[M+Na]+"
    assert third["evidence"]["library"] is None
    assert first["evidence"]["references"] == {"compared": 3, "matching": 1}
    assert second["evidence"]["references"] == {"compared": 1, "matching": 1}
    assert third["evidence"]["references"] == {"compared": 0, "matching": 0}
    assert first["evidence"]["model"] == {"score": 0.3, "scores": {"msms": 0.3}}
    assert [o["evidence"]["formula"]["agrees"] for o in out] == [True, True, False]
    assert first["evidence"]["ppm_error"] == ppm_error(hits[0], q)
    # the order's value: confident first by their score, the rest by model + 0.25 x library
    assert (first["ranked_by"], first["ranking_value"]) == ("confident library match", 0.9)
    assert second["ranked_by"] == "model + 0.25 x library score"
    assert second["ranking_value"] == pytest.approx(-0.2 + 0.25 * 0.55)
    assert third["ranking_value"] == pytest.approx(0.5)
    assert [o["level"] for o in out] == ["2a", "3", "3"]
    assert first["summary"].startswith("level 2a: library match 0.90, 8 matched peaks (confident)")
    # the numbers the probability reads, and the probability
    assert numbers == with_context(
        [
            HitEvidence(
                0.9,
                8,
                True,
                0.3,
                0.5,
                1,
                7,
                best_analogue=0.77,
                query_peaks=10,
                library_spectra=1,
                references=3,
            ),
            HitEvidence(
                0.55,
                3,
                False,
                -0.2,
                0.5,
                2,
                7,
                best_analogue=0.77,
                query_peaks=10,
                library_spectra=1,
                references=1,
            ),
            HitEvidence(None, None, False, 0.5, 0.5, 3, 7, best_analogue=0.77, query_peaks=10),
        ]
    )
    expected = calibration.probabilities(numbers)
    assert [o["probability"] for o in out] == [round(p, 4) for p in expected]
    # without MS/MS (an IR or CCS query) or a calibration: no probability
    bare = Query("q", precursor_mz=195.0877, adduct="[M+H]+", ccs=140.0, ccs_adduct="[M+H]+")
    out, _ = annotate(result, bare, library, KnownCcs(), options, None, calibration)
    assert all(o["probability"] is None for o in out)
    out, _ = annotate(result, q, library, KnownCcs(), options, None, None)
    assert all(o["probability"] is None for o in out)


def test_summary_names_ir_ccs_and_an_agreeing_formula():
    hit = make_hit({"ir": 0.62, "ccs": -0.05})
    evidence = {
        "library": lib(0.93, None, True, "ir"),
        "ppm_error": None,
        "ccs": {"deviation_pct": -1.25, "basis": "measured"},
        "formula": {"formula": hit.formula, "agrees": True},
    }
    assert summary("2a", evidence, hit) == (
        "level 2a: IR library match 0.93 (confident); model IR cosine 0.62 (speaks for it); "
        "model CCS cosine -0.05 (speaks against it); no mass given; formula agrees; "
        "CCS -1.2 % from the measured value"
    )
    zero = summary("5", {**evidence, "library": None, "ccs": None}, make_hit({"msms": 0.0}))
    assert "model MS/MS cosine 0.00 (speaks against it)" in zero


def test_the_nearest_measured_ccs_the_rounded_prediction_and_ppm_to_three_decimals():
    from molvis.workflows.evidence import ranking
    from registry.library.flash_index import LibraryOptions

    with_ccs = query(ccs=140.0)
    known = KnownCcs({"A": [130.0, 141.0]}, {"C": (145.126, 5.0)}, "p1")
    assert ccs_deviation(with_ccs, known, "A")["measured"] == 141.0  # nearest, not smallest
    assert ccs_deviation(with_ccs, known, "C")["predicted"] == 145.13
    q = query()
    assert ppm_error(make_hit(mass=q.neutral_mass * (1 + 1.23456e-6)), q) == 1.235
    unembedded = make_hit()
    unembedded.score, unembedded.library_score = None, 0.8
    options = LibraryOptions(weight=0.25)
    assert ranking(unembedded, None, options) == {
        "ranked_by": "model + 0.25 x library score",
        "ranking_value": 0.2,
    }
    unembedded.score, unembedded.library_score = 0.1234567, None
    assert ranking(unembedded, None, options)["ranking_value"] == 0.123457
