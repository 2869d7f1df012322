"""The one query builder of `molvis search` and the query page: its adduct rule and checks."""

import numpy as np
import pytest

from molvis.workflows.query import QueryFields, build_queries, pasted_spectrum, read_upload
from registry.adducts import neutral_mass
from registry.records import MsmsRecord, StructureRef
from tests.conftest import REPO

FUBERIDAZOLE = 184.0637  # C11H8N2O, monoisotopic


def spectrum(precursor=None, adduct=None, ion_mode=None, title="q") -> MsmsRecord:
    return MsmsRecord(
        structure=StructureRef(""),
        record_id=title,
        precursor_mz=precursor,
        adduct=adduct,
        ion_mode=ion_mode,
        instrument_type=None,
        collision_energy=None,
        mz=np.array([50.0, 100.0]),
        intensity=np.array([1.0, 2.0]),
    )


def test_the_users_adduct_wins_over_the_spectrums():
    (q,) = build_queries([spectrum(185.0709, "[M+Na]+")], None, QueryFields(adduct="[M+H]+"))
    assert q.adduct == "[M+H]+" and q.notes == []
    assert q.neutral_mass == pytest.approx(FUBERIDAZOLE, abs=1e-3)


def test_the_spectrums_adduct_is_used_when_none_is_given():
    (q,) = build_queries([spectrum(183.0564, "[M-H]-")], None, QueryFields())
    assert q.adduct == "[M-H]-" and q.notes == []


@pytest.mark.parametrize(
    "ion_mode, ccs_adduct, expected",
    [
        ("negative", None, "[M-H]-"),
        ("positive", None, "[M+H]+"),
        (None, None, "[M+H]+"),
        (None, "[M-H]-", "[M-H]-"),  # the sign of the CCS ion gives the mode
        ("positive", "[M-H]-", "[M+H]+"),  # the spectrum's mode wins over the CCS ion
    ],
)
def test_missing_adduct_is_assumed_by_ion_mode_and_said(ion_mode, ccs_adduct, expected):
    fields = QueryFields(ccs=150.0 if ccs_adduct else None, ccs_adduct=ccs_adduct)
    (q,) = build_queries([spectrum(185.0709, None, ion_mode)], None, fields)
    assert q.adduct == expected and q.notes == [f"no adduct given: assumed {expected}"]


def test_the_ccs_adduct_never_stands_in_for_the_precursors():
    fields = QueryFields(ccs=150.0, ccs_adduct="[M+Na]+")
    (q,) = build_queries([spectrum(185.0709, None, "positive")], None, fields)
    assert q.adduct == "[M+H]+" and q.ccs_adduct == "[M+Na]+"


def test_an_unknown_adduct_in_the_file_gives_no_mass_window():
    (q,) = build_queries([spectrum(185.0709, "[M+Foo]+", "positive")], None, QueryFields())
    assert q.adduct is None and q.neutral_mass is None
    assert q.notes == ["adduct '[M+Foo]+' unknown: no mass window"]


@pytest.mark.parametrize(
    "fields, message",
    [
        (QueryFields(adduct="[M+Xx]+"), "unknown adduct"),
        (QueryFields(ccs=150.0), "needs its adduct"),
        (QueryFields(ccs=-1.0, ccs_adduct="[M+H]+"), "not a positive"),
        (QueryFields(precursor_mz=-5.0), "not positive"),
    ],
)
def test_bad_fields_are_refused(fields, message):
    with pytest.raises(ValueError, match=message):
        build_queries([spectrum(185.0709)], None, fields)


def test_nothing_to_search_with_is_refused():
    with pytest.raises(ValueError, match="give a measurement"):
        build_queries([], None, QueryFields(precursor_mz=185.07))


def test_one_query_per_spectrum_with_titles():
    queries = build_queries(
        [spectrum(185.07, title=None), spectrum(200.0, title="B")], None, QueryFields(), "run.mgf"
    )
    assert [q.title for q in queries] == ["run.mgf#1", "B"]


def test_upload_and_paste_read_as_the_file_would():
    data = (REPO / "tests" / "data" / "gnps_pesticides_3.mgf").read_bytes()
    spectra, ir = read_upload("run.mgf", data)
    assert len(spectra) == 3 and ir is None
    pasted = pasted_spectrum("183.06 100\n155.05 10.5", QueryFields(precursor_mz=183.0564))
    (q,) = build_queries([pasted], None, QueryFields(precursor_mz=183.0564, adduct="[M-H]-"))
    assert q.neutral_mass == pytest.approx(neutral_mass(183.0564, "[M-H]-"))
    assert list(pasted.mz) == [155.05, 183.06]
