"""The one query builder of `molvis search` and the query page: its adduct rule and checks."""

from pathlib import Path

import numpy as np
import pytest

from molvis.workflows.query import QueryFields, build_queries, pasted_spectrum, read_upload
from molvis.workflows.search import SearchOptions
from registry.chem.adducts import neutral_mass
from registry.chem.ion_mobility import ccs_from_inverse_mobility
from registry.ingest.parsers import ParseError
from registry.records import MsmsRecord, StructureRef
from tests.conftest import REPO

FUBERIDAZOLE = 184.0637  # C11H8N2O, monoisotopic


def spectrum(precursor=None, adduct=None, ion_mode=None, title="q", **metadata) -> MsmsRecord:
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
        metadata=metadata,
    )


def test_the_users_adduct_wins_over_the_spectrums():
    (q,) = build_queries([spectrum(185.0709, "[M+Na]+")], None, QueryFields(adduct="[M+H]+"))
    assert q.adduct == "[M+H]+"
    assert q.notes == ["adduct [M+H]+ given replaces the spectrum's [M+Na]+"]
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


@pytest.mark.parametrize(
    "ion_mode, charge, expected",
    [
        ("positive", 2, "[M+2H]2+"),
        ("negative", -2, "[M-2H]2-"),
        (None, -3, "[M-3H]3-"),  # a negative charge gives the mode
        (None, 2, "[M+2H]2+"),
        ("negative", 1, "[M-H]-"),  # an unsigned charge of 1 in a negative scan
        (None, -1, "[M-H]-"),
        ("positive", None, "[M+H]+"),
    ],
)
def test_the_precursor_s_charge_sets_the_assumed_adduct(ion_mode, charge, expected):
    (q,) = build_queries([spectrum(122.0, None, ion_mode, charge=charge)], None, QueryFields())
    assert q.adduct == expected and q.notes == [f"no adduct given: assumed {expected}"]
    z = abs(charge or 1)
    proton = 1.00727646688
    assert q.neutral_mass == pytest.approx(z * 122.0 + (-z if "+" in expected else z) * proton)


def test_a_spectrum_s_own_ccs_is_its_query_s_unless_one_is_typed():
    given = spectrum(195.0877, "[M+H]+", ccs="141.5")
    (q,) = build_queries([given], None, QueryFields())
    assert (q.ccs, q.ccs_adduct) == (141.5, "[M+H]+")
    assert q.notes == ["CCS 141.5 A^2 from the file"]
    mobile = spectrum(195.0877, "[M+H]+", inverse_ion_mobility="0.75")
    (q,) = build_queries([mobile], None, QueryFields())
    expected = ccs_from_inverse_mobility(0.75, 195.0877, 1)
    assert q.ccs == pytest.approx(expected) and q.ccs_adduct == "[M+H]+"
    assert q.notes == [f"CCS {expected:.1f} A^2 from 1/K0 0.75 (Mason-Schamp, N2, 305 K)"]
    both = spectrum(195.0877, "[M+H]+", ccs="141.5", inverse_ion_mobility="0.75")
    (q,) = build_queries([both], None, QueryFields())
    assert q.ccs == 141.5  # the file's CCS before a conversion
    (q,) = build_queries(
        [spectrum(195.0877, "[M+H]+", inverse_ion_mobility="0")], None, QueryFields()
    )
    assert q.ccs is None and q.notes[-1] == (
        "the file's ion mobility not used: 1/K0, m/z, charge and temperature must be positive"
    )
    typed = QueryFields(ccs=150.0, ccs_adduct="[M+Na]+")
    (q,) = build_queries([given], None, typed)
    assert (q.ccs, q.ccs_adduct, q.notes) == (150.0, "[M+Na]+", [])
    (q,) = build_queries([spectrum(None, None, ccs="141.5")], None, QueryFields())
    assert q.ccs is None and q.ccs_adduct is None  # no precursor ion to give it to
    for bad in ("-3", "lots"):
        (q,) = build_queries([spectrum(195.0877, "[M+H]+", ccs=bad)], None, QueryFields())
        assert q.ccs is None and q.ccs_adduct is None
    assert q.notes == ["the file's ion mobility not used: CCS 'lots' is not a number"]


def test_a_spectrum_s_place_in_its_run():
    placed = spectrum(195.0, "[M+H]+", retention_time=301.2, scans="17", feature_id="F9")
    (q,) = build_queries([placed], None, QueryFields())
    assert q.run_position == {"feature_id": "F9", "rt": 5.02, "scans": "17"}
    (q,) = build_queries([spectrum(195.0, "[M+H]+")], None, QueryFields())
    assert q.run_position == {"feature_id": None, "rt": None, "scans": None}


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
        (QueryFields(precursor_mz=-5.0), r"give a value in \(0, 100000\]"),
        (QueryFields(precursor_mz=1e12), r"give a value in \(0, 100000\]"),
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
    spectra, ir, skipped = read_upload("run.mgf", data)
    assert len(spectra) == 3 and ir is None and skipped == []
    pasted = pasted_spectrum("183.06 100\n155.05 10.5", QueryFields(precursor_mz=183.0564))
    (q,) = build_queries([pasted], None, QueryFields(precursor_mz=183.0564, adduct="[M-H]-"))
    assert q.neutral_mass == pytest.approx(neutral_mass(183.0564, "[M-H]-"))
    assert list(pasted.mz) == [155.05, 183.06]


def test_typed_values_that_replace_the_spectrums_say_so():
    own = spectrum(185.0709, "[M+H]+", "positive")
    (q,) = build_queries([own], None, QueryFields(precursor_mz=200.0, adduct="[M+Na]+"))
    assert q.precursor_mz == 200.0 and q.adduct == "[M+Na]+"
    assert q.notes == [
        "precursor m/z 200 given replaces the spectrum's 185.071",
        "adduct [M+Na]+ given replaces the spectrum's [M+H]+",
    ]
    # the same values typed again, or a spectrum without its own: nothing replaced
    (same,) = build_queries(
        [spectrum(185.0709, "[M+H]+", "positive")],
        None,
        QueryFields(precursor_mz=185.0709, adduct="[M+H]+"),
    )
    assert same.notes == []
    (bare,) = build_queries([spectrum(None, None, "positive")], None, QueryFields(200.0))
    assert not any("replaces" in n for n in bare.notes)


def test_an_upload_lists_the_records_it_skipped():
    good = (REPO / "tests" / "data" / "gnps_pesticides_3.mgf").read_text()
    bad = "BEGIN IONS\nTITLE=broken\nPEPMASS=abc\n100.0 zz\nEND IONS\n"
    spectra, _, skipped = read_upload("run.mgf", (good + bad).encode())
    assert len(spectra) == 3 and len(skipped) == 1
    assert skipped[0].startswith("run.mgf") and "line" in skipped[0]
    with pytest.raises(ParseError, match="no readable spectrum"):
        read_upload("bad.mgf", bad.encode())


@pytest.mark.parametrize(
    "options, message",
    [
        ({"ppm": 0}, "mass window 0 ppm"),
        ({"ppm": 1e9}, r"give a number in \(0, 1000\]"),
        ({"formula": "C6H6Xx!"}, "element symbols and counts"),
        ({"formula": "c6h6"}, "element symbols and counts"),
        ({"formula": "C6Xx6"}, "'Xx' is not an element"),
    ],
)
def test_search_options_refuse_what_cannot_be_searched(options, message):
    with pytest.raises(ValueError, match=message):
        SearchOptions(**options)


def test_a_formula_is_put_in_hill_order():
    assert SearchOptions(formula="H6C6").formula == "C6H6"
    assert SearchOptions(formula=" C8H10N4O2 ").formula == "C8H10N4O2"
    assert SearchOptions(formula="ClNa").formula == "ClNa"
    assert SearchOptions(formula="OH2").formula == "H2O"
    assert SearchOptions(ppm=1000).ppm == 1000


def test_range_edges_of_precursor_and_ccs():
    for ok in (0.5, 100_000.0):
        (q,) = build_queries([spectrum(None)], None, QueryFields(precursor_mz=ok, adduct="[M+H]+"))
        assert q.precursor_mz == ok
    with pytest.raises(ValueError, match="precursor m/z 100000"):
        build_queries([spectrum(None)], None, QueryFields(precursor_mz=100_000.01))
    (q,) = build_queries([], None, QueryFields(ccs=0.5, ccs_adduct="[M+H]+"))
    assert q.ccs == 0.5 and q.msms is None
    with pytest.raises(ValueError, match="not a positive"):
        build_queries([], None, QueryFields(ccs=0.0, ccs_adduct="[M+H]+"))


def test_a_query_without_spectra_carries_ir_and_ccs_and_is_named_for_its_source():
    ir = object()
    (q,) = build_queries([], ir, QueryFields(ccs=150.0, ccs_adduct="[M-H]-"), "benzene.jdx")
    assert (q.title, q.ir, q.ccs, q.ccs_adduct, q.msms) == (
        "benzene.jdx",
        ir,
        150.0,
        "[M-H]-",
        None,
    )
    # with a mass and no adduct: the CCS ion's sign says negative, the precursor's adduct is
    # assumed from it, never copied from the CCS ion
    (m,) = build_queries([], None, QueryFields(precursor_mz=179.0, ccs=150.0, ccs_adduct="[M+Na]+"))
    assert m.adduct == "[M+H]+" and m.notes == ["no adduct given: assumed [M+H]+"]
    (n,) = build_queries([], None, QueryFields(precursor_mz=179.0, ccs=150.0, ccs_adduct="[M-H]-"))
    assert n.adduct == "[M-H]-"
    (d,) = build_queries([], None, QueryFields(ccs=150.0, ccs_adduct="[M+H]+"))
    assert d.title == "query"


def test_a_spectrum_without_precursor_takes_the_typed_one_or_says_it_has_none():
    bare = spectrum(None, "[M+H]+", "positive")
    (q,) = build_queries([bare], None, QueryFields(precursor_mz=195.0877))
    assert bare.precursor_mz == 195.0877 and q.notes == []
    (none,) = build_queries([spectrum(None, None, "positive")], None, QueryFields())
    assert none.notes == [
        "no precursor m/z: no mass window, every structure is a candidate and no library "
        "identity match (give the precursor m/z)"
    ]
    # a typed value within 1 ppm of the spectrum's own is the same value: nothing replaced
    (near,) = build_queries(
        [spectrum(200.0, "[M+H]+", "positive")], None, QueryFields(precursor_mz=200.0001)
    )
    assert near.notes == []
    (far,) = build_queries(
        [spectrum(200.0, "[M+H]+", "positive")], None, QueryFields(precursor_mz=200.0003)
    )
    assert far.notes == ["precursor m/z 200 given replaces the spectrum's 200"]


def test_pasted_peaks_with_commas_extra_columns_and_the_typed_precursor():
    record = pasted_spectrum("100.5,20\n150.25 80 extra\n", QueryFields(precursor_mz=180.5))
    assert list(record.mz) == [100.5, 150.25] and list(record.intensity) == [20.0, 80.0]
    assert record.precursor_mz == 180.5
    assert pasted_spectrum("100 1", QueryFields()).precursor_mz is None
    with pytest.raises(Exception, match="pasted peaks: each line needs 'm/z intensity'"):
        pasted_spectrum("100\n200", QueryFields())


def test_an_ir_upload_is_told_by_its_name_in_any_case():
    from tests.conftest import shared

    data = shared("ir", "jcamp", "benzene.jdx").read_bytes()
    for name in ("benzene.jdx", "BENZENE.JDX"):
        spectra, ir, skipped = read_upload(name, data)
        assert spectra == [] and ir is not None and skipped == []
    bad = b"BEGIN IONS\nTITLE=broken\nPEPMASS=abc\n100.0 zz\nEND IONS\n"
    with pytest.raises(
        ParseError, match=r"expected\): bad.mgf record 1 \(line 1\): cannot read peak"
    ):
        read_upload("bad.mgf", bad)


class _Stdin:
    """Standard input holding these bytes (what `-` reads)."""

    def __init__(self, data: bytes):
        import io

        self.buffer = io.BytesIO(data)


def test_query_files_and_standard_input(tmp_path, monkeypatch):
    from molvis.workflows.query import read_ir_file, read_msms_file
    from tests.conftest import shared

    gnps = (REPO / "tests" / "data" / "gnps_pesticides_3.mgf").read_bytes()
    bad = b"BEGIN IONS\nTITLE=broken\nPEPMASS=abc\n100.0 zz\nEND IONS\n"
    path = tmp_path / "run.mgf"
    path.write_bytes(gnps + bad)
    records, problems = read_msms_file(path)
    assert [r.record_id for r in records][:1] == ["CCMSLIB00001058235"] and len(records) == 3
    assert problems == [f"{path} record 4 (line 206): cannot read peak line '100.0 zz'"]
    monkeypatch.setattr("sys.stdin", _Stdin(gnps))
    from_stdin, none = read_msms_file(Path("-"))
    assert [r.record_id for r in from_stdin] == [r.record_id for r in records] and none == []
    with pytest.raises(FileNotFoundError, match="missing.mgf: no such file"):
        read_msms_file(tmp_path / "missing.mgf")
    benzene = shared("ir", "jcamp", "benzene.jdx")
    ir = read_ir_file(benzene)
    assert ir.processed.shape == (825,)
    monkeypatch.setattr("sys.stdin", _Stdin(benzene.read_bytes()))
    assert read_ir_file(Path("-")).processed.tolist() == ir.processed.tolist()
    with pytest.raises(FileNotFoundError, match="gone.jdx: no such file"):
        read_ir_file(tmp_path / "gone.jdx")
    broken = tmp_path / "broken.jdx"
    broken.write_text("##TITLE=x\n##JCAMP-DX=4.24\n##XUNITS=1/CM\n##YUNITS=ABSORBANCE\n##END=\n")
    with pytest.raises(ParseError, match="broken.jdx"):
        read_ir_file(broken)


def test_each_refusal_says_what_to_give():
    def refused(fields, spectra=(185.0709,)):
        with pytest.raises(ValueError) as caught:
            build_queries([spectrum(p) for p in spectra], None, fields)
        return str(caught.value)

    assert refused(QueryFields(ccs=150.0)) == (
        "a CCS value needs its adduct (the ion whose CCS was measured)"
    )
    assert refused(QueryFields(ccs=150.0, ccs_adduct="[M+Xx]+")) == (
        "unknown CCS adduct '[M+Xx]+' (e.g. [M+H]+, [M-H]-, [M+Na]+)"
    )
    assert refused(QueryFields(precursor_mz=0.0)) == (
        "precursor m/z 0: give a value in (0, 100000]"
    )
    assert refused(QueryFields(), spectra=()) == (
        "give a measurement to search with: an MS/MS or IR spectrum, or a CCS"
    )


def test_pasted_peaks_say_what_a_line_needs_and_take_no_precursor_unless_typed():
    from registry.ingest.parsers import RecordError

    with pytest.raises(RecordError) as caught:
        pasted_spectrum("183.06 abc", QueryFields())
    assert str(caught.value).startswith("pasted peaks: each line needs 'm/z intensity' (")
    with pytest.raises(RecordError) as caught:
        pasted_spectrum("183.06\n155.05", QueryFields())
    assert str(caught.value) == "pasted peaks: each line needs 'm/z intensity'"
    assert pasted_spectrum("183.06 100", QueryFields()).precursor_mz is None


def test_files_without_a_spectrum_are_named_and_spectra_need_no_structure(tmp_path):
    import zipfile

    from molvis.workflows.query import read_ir_file, read_msms_file

    with pytest.raises(ParseError) as caught:
        read_upload("notes.mgf", b"BEGIN IONS\nEND IONS\n")
    assert str(caught.value) == (
        "notes.mgf: no readable spectrum (MGF, MSP, MassBank, JSON, mzML or mzXML expected): "
        "notes.mgf record 1 (line 1): spectrum has no peaks"
    )
    with pytest.raises(ParseError) as caught:
        read_upload("empty.jdx", b"##TITLE=empty\n##JCAMP-DX=4.24\n##END=\n")
    assert str(caught.value).startswith("empty.jdx")
    empty = tmp_path / "empty.zip"
    zipfile.ZipFile(empty, "w").close()
    with pytest.raises(ParseError) as caught:
        read_ir_file(empty)
    assert str(caught.value) == f"{empty}: no IR spectrum"
    bare = "BEGIN IONS\nTITLE=first\nPEPMASS=185.07\n50.0 10\n100.0 20\nEND IONS\n"
    both = tmp_path / "two.zip"
    with zipfile.ZipFile(both, "w") as archive:
        archive.writestr("a.mgf", bare)
        archive.writestr("b.mgf", bare.replace("first", "second") + "BEGIN IONS\nEND IONS\n")
    records, problems = read_msms_file(both)
    assert [r.record_id for r in records] == ["first", "second"]  # no structure: still read
    assert len(problems) == 1 and "b.mgf" in problems[0]
