"""Levels and evidence numbers of a hit."""

import numpy as np
import pytest

from molvis.workflows.evidence import KnownCcs, ccs_deviation, level, ppm_error, summary
from molvis.workflows.query import Query
from registry.search import Hit


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


def test_ppm_error_and_ccs_deviation():
    q = query()
    exact = q.neutral_mass
    assert ppm_error(make_hit(mass=exact), q) == 0.0
    assert ppm_error(make_hit(mass=exact * (1 + 5e-6)), q) == pytest.approx(5.0, abs=1e-3)
    assert ppm_error(make_hit(), query(None, None)) is None
    with_ccs = query(ccs=140.0)
    known = KnownCcs({"A": [150.0, 137.2], "B": [150.0]}, {"A": 141.0, "C": 145.0}, "p1")
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
        "basis": "predicted",
        "predictor": "p1",
        "adduct": "[M+H]+",
        "deviation_pct": round(-5 / 145 * 100, 3),
    }
    assert ccs_deviation(with_ccs, known, "D") is None
    assert ccs_deviation(query(), known, "A") is None
    assert np.isfinite(ppm_error(make_hit(), q))
