"""Levels and evidence numbers of a hit."""

import numpy as np
import pytest

from molvis.workflows.evidence import KnownCcs, ccs_deviation, level, ppm_error
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


def test_levels_follow_the_evidence():
    confident = {"confident": True}
    weak = {"confident": False}
    assert level(confident, make_hit(), query(), None) == "2a"
    assert level(weak, make_hit(), query(), None) == "3"
    assert level(None, make_hit(), query(), None) == "3"  # the model's MS/MS score
    assert level(None, make_hit({"ir": 0.4}), query(), None) == "3"
    # CCS alone is not spectral evidence: mass only, or the formula when given
    assert level(None, make_hit({"ccs": 0.9}), query(), None) == "5"
    assert level(None, make_hit({"ccs": 0.9}), query(None, None), "C8H10N4O2") == "4"
    # no mass window and no formula: a model score alone is not a tentative candidate
    assert level(None, make_hit(), query(None, None), None) == "5"


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
