"""LC-MS runs (registry/ingest/parsers/runs.py): an mzML and an mzXML of the same made-up
negative-mode run (tests/data/make_runs.py: the GNPS pesticide spectra as MS2 scans between MS1
scans) give every MS2 scan with its precursor, charge, polarity, retention time, collision
energy and ion mobility, skip the MS1 scans with their reason, reject an empty scan, and stop
with one reject where the XML breaks. Counts and peaks are checked against the peer loaders:
pyteomics for the runs, matchms for the MGF the spectra came from."""

import gzip
import io
import tarfile

import numpy as np
import pytest
from matchms.importing import load_from_mgf

from registry.ingest.files import iter_members
from registry.ingest.parsers import ParseError
from registry.ingest.parsers.msms import parse_msms
from registry.ingest.parsers.runs import _EncodedText
from tests.builders import member, write
from tests.conftest import REPO

DATA = REPO / "tests" / "data"
RUNS = [DATA / "run_negative.mzML", DATA / "run_negative.mzXML"]


def _parsed(path):
    (text_member,) = iter_members(path)
    return list(parse_msms(text_member, require_structure=False))


@pytest.mark.parametrize("path", RUNS, ids=["mzML", "mzXML"])
def test_a_run_gives_its_ms2_scans_and_skips_the_rest_with_reasons(path):
    parsed = _parsed(path)
    assert [p.location for p in parsed] == [f"{path} scan {n}" for n in range(1, 8)]
    assert [p.reason for p in parsed] == [
        "an MS1 scan, not MS/MS: skipped",
        None,
        "an MS1 scan, not MS/MS: skipped",
        None,
        None,
        None,
        "spectrum has no peaks",
    ]
    scans = [p.record for p in parsed if p.record is not None]
    assert [r.record_id for r in scans] == ["scan=2", "scan=4", "scan=5", "scan=6"]
    assert [r.precursor_mz for r in scans] == pytest.approx([183.057, 183.057, 103.569, 370.073])
    assert {r.ion_mode for r in scans} == {"negative"}
    assert [r.metadata.get("charge") for r in scans] == [-1, -1, -2, None]
    assert [r.collision_energy for r in scans] == ["35.0", "35.0", "30.0", "40.0"]
    seconds = [float(r.metadata["retention_time"]) for r in scans]
    assert seconds == pytest.approx([300.6, 302.4, 372.0, 438.0])  # minutes in the file
    assert [r.metadata["scans"] for r in scans] == ["2", "4", "5", "6"]
    if path.suffix == ".mzML":  # mzXML has no ion mobility
        mobility = [r.metadata.get("inverse_ion_mobility") for r in scans]
        assert mobility == ["0.612", "0.613", None, "0.795"]
    # the peaks are the GNPS spectra's (matchms reads the MGF they came from)
    gnps = list(load_from_mgf(str(DATA / "gnps_pesticides_3.mgf")))
    for record, source in zip(scans, [gnps[0], gnps[0], gnps[1], gnps[2]], strict=True):
        assert np.allclose(record.mz, source.peaks.mz)
        assert np.allclose(record.intensity, source.peaks.intensities)


@pytest.mark.parametrize("path", RUNS, ids=["mzML", "mzXML"])
def test_the_same_scans_as_pyteomics_reads(path):
    from pyteomics import mzml, mzxml

    if path.suffix == ".mzML":
        levels = [s["ms level"] for s in mzml.MzML(str(path))]
    else:
        levels = [s["msLevel"] for s in mzxml.MzXML(str(path))]
    parsed = _parsed(path)
    assert len(parsed) == len(levels) == 7
    ms2 = [p for p, level in zip(parsed, levels, strict=True) if level == 2]
    assert len(ms2) == 5 and sum(p.record is not None for p in ms2) == 4  # one is empty


def test_a_run_streamed_from_disk_compressed_or_in_an_archive_reads_alike(tmp_path):
    text = RUNS[0].read_text()
    plain = [(p.record_id, p.precursor_mz) for p in (x.record for x in _parsed(RUNS[0])) if p]
    packed = write(tmp_path, "run.mzML.gz", gzip.compress(text.encode()))
    assert [(p.record.record_id, p.record.precursor_mz) for p in _parsed(packed) if p.record] == (
        plain
    )
    archive = tmp_path / "runs.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        data = text.encode()
        info = tarfile.TarInfo("lab/run.mzML")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    (held,) = iter_members(archive)
    found = [p.record for p in parse_msms(held, require_structure=False) if p.record]
    assert [(r.record_id, r.precursor_mz) for r in found] == plain


def test_a_run_is_told_by_its_root_element_whatever_its_name():
    text = RUNS[1].read_text()
    parsed = list(parse_msms(member(text, "export.txt"), require_structure=False))
    assert sum(p.record is not None for p in parsed) == 4


def test_broken_xml_keeps_the_scans_before_it_and_says_where_it_stopped():
    text = RUNS[0].read_text()
    cut = text.index('<spectrum index="4"')
    parsed = list(
        parse_msms(member(text[:cut] + "<spectrum index=", "cut.mzML"), require_structure=False)
    )
    assert [p.record.record_id for p in parsed if p.record] == ["scan=2", "scan=4"]
    last = parsed[-1]
    assert last.record is None and last.location == "cut.mzML after scan 4"
    assert last.reason.startswith("the XML breaks after scan 4: ")
    assert last.reason.endswith("; the rest of the file is not read")


def test_an_ms1_block_of_an_mgf_is_skipped_as_a_run_s_is():
    text = "BEGIN IONS\nMSLEVEL=1\nPEPMASS=183.057\n100.0 10\nEND IONS\n"
    (parsed,) = parse_msms(member(text, "survey.mgf"), require_structure=False)
    assert parsed.record is None and parsed.reason == "an MS1 scan, not MS/MS: skipped"
    (ms2,) = parse_msms(
        member(text.replace("MSLEVEL=1", "MSLEVEL=2"), "a.mgf"), require_structure=False
    )
    assert ms2.record is not None


def test_the_text_goes_back_to_its_start_and_nowhere_else():
    source = _EncodedText(member(RUNS[1].read_text(), "a.mzXML"))
    first = source.read(100)
    assert source.tell() == 100
    assert source.seek(0) == 0 and source.read(100) == first
    assert source.seek(0, io.SEEK_CUR) == 100
    with pytest.raises(io.UnsupportedOperation, match="read from its start only"):
        source.seek(10)


def test_the_declared_encoding_is_the_one_lxml_reads():
    latin = (
        RUNS[1].read_text().replace('<msRun scanCount="7">', '<msRun scanCount="7"><!-- Zürich -->')
    )
    source = _EncodedText(member(latin, "a.mzXML"))
    assert "Zürich".encode("latin-1") in source.read()  # ISO-8859-1, as the file declares


def test_a_run_is_searched_never_ingested_as_reference_spectra(engine, tmp_path):
    from tests.conftest import molvis

    for path in RUNS:
        with pytest.raises(ParseError, match="an LC-MS run names no structures"):
            list(parse_msms(next(iter(iter_members(path)))))
        done = molvis("ingest", "msms", str(path), "--source", "lab")
        assert done.returncode != 0 and "Traceback" not in done.stderr
        assert "an LC-MS run names no structures" in done.stderr
