import io
import tarfile

import numpy as np
import pytest

from registry.ingest.files import iter_members
from registry.ingest.normalize import normalize_unknown
from registry.ingest.parsers import ParseError
from registry.ingest.parsers.mgf import parse_mgf
from registry.ingest.parsers.msms import parse_msms
from registry.ingest.parsers.msp import parse_msp
from tests.builders import member, mgf_block, msp_record, write
from tests.conftest import first_mgf_blocks, shared

GOOD_PEAKS = ["100.0 10", "150.5 100", "200.1 40"]


def records(parsed):
    return [p.record for p in parsed if p.record is not None]


def test_gnps_mgf_reads_every_spectrum():
    (text_member,) = iter_members(shared("gnps", "pesticides.mgf"))
    parsed = list(parse_msms(text_member))
    assert len(parsed) == 76 and all(p.record is not None for p in parsed)
    first = parsed[0].record
    assert first.precursor_mz == pytest.approx(183.057)
    assert first.ion_mode == "negative"
    assert first.structure.text.startswith("C1=CC=C2")
    assert first.mz.size == first.intensity.size > 0
    assert np.all(np.diff(first.mz) >= 0)


def test_massbank_mgf_slice_reads_with_metadata(tmp_path):
    path = write(
        tmp_path, "mb.mgf", first_mgf_blocks(shared("massbank", "massbank_ms2.mgf.gz"), 200)
    )
    (text_member,) = iter_members(path)
    recs = records(parse_msms(text_member))
    assert len(recs) >= 190
    mellein = recs[0]
    assert mellein.record_id == "MSBNK-AAFC-AC000001"
    assert mellein.adduct == "[M+H]+"
    assert mellein.instrument_type == "LC-ESI-ITFT"
    assert mellein.collision_energy == "10(NCE)"
    assert mellein.structure.given_inchikey == "KWILGNNWGSNMPA-UHFFFAOYSA-N"
    assert mellein.metadata["license"] == "CC BY-SA"


def test_massbank_record_files_from_the_archive(tmp_path):
    archive = shared("massbank", "massbank_records.tar.xz")
    texts = []
    with tarfile.open(archive, "r:xz") as tar:
        for info in tar:
            if info.isfile() and info.name.endswith(".txt"):
                texts.append((info.name, tar.extractfile(info).read()))
            if len(texts) == 30:
                break
    bundle = tmp_path / "slice.tar.gz"
    with tarfile.open(bundle, "w:gz") as tar:
        for name, data in texts:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    parsed = [p for m in iter_members(bundle) for p in parse_msms(m)]
    assert len(parsed) == 30
    first = parsed[0].record
    assert first.record_id == "MSBNK-AAFC-AC000001"
    assert first.precursor_mz == pytest.approx(179.0697)
    assert first.structure.external_ids == {"cas": "17397-85-2", "pubchem_cid": "28516"}
    assert first.structure.names == ["Mellein"]
    assert list(first.mz) == [133.0648, 151.0754, 155.9743, 161.0597, 179.0703]


@pytest.mark.parametrize("flavour", ["nist", "mona", "msdial"])
def test_msp_flavours_round_trip_real_spectra(flavour):
    (gnps,) = iter_members(shared("gnps", "pesticides.mgf"))
    originals = records(parse_msms(gnps))[:5]
    text = "".join(msp_record(r, flavour) for r in originals)
    parsed = records(parse_msp(member(text, "lib.msp")))
    assert len(parsed) == 5
    for got, want in zip(parsed, originals, strict=True):
        assert got.precursor_mz == pytest.approx(want.precursor_mz)
        assert normalize_unknown(got).adduct == normalize_unknown(want).adduct
        assert normalize_unknown(got).ion_mode == "negative"
        assert np.allclose(got.mz, want.mz, atol=1e-4)
        assert np.allclose(got.intensity, want.intensity, rtol=1e-3)


@pytest.mark.parametrize(
    "peaks, reason",
    [
        ([], "no peaks"),
        (["100.0 nan", "120.0 5"], "NaN"),
        (["100.0 -5", "120.0 5"], "negative intensity"),
        (["100.0 1e300", "120.0 5"], "too large"),
        (["1e9 10"], "m/z outside"),
        (["100.0 abc"], "cannot read peak"),
        (["100.0 0", "120.0 0"], "zero intensity"),
    ],
)
def test_damaged_peaks_reject_only_that_record(peaks, reason):
    text = (
        mgf_block("good", "CCO", "47.049", GOOD_PEAKS)
        + mgf_block("bad", "CCO", "47.049", peaks)
        + mgf_block("good2", "CCCO", "61.065", GOOD_PEAKS)
    )
    parsed = list(parse_mgf(member(text)))
    assert [p.record is not None for p in parsed] == [True, False, True]
    assert reason in parsed[1].reason
    assert parsed[1].line_no == 11 and "TITLE=bad" in parsed[1].raw_text


@pytest.mark.parametrize(
    "pepmass, reason", [("abc", "not a number"), ("-3", "out of range"), ("1e12", "out of range")]
)
def test_bad_precursor_is_rejected(pepmass, reason):
    parsed = list(parse_mgf(member(mgf_block("x", "CCO", pepmass, GOOD_PEAKS))))
    assert reason in parsed[0].reason


def test_missing_structure_is_rejected():
    text = mgf_block("x", "", "47.0", GOOD_PEAKS)
    assert "no structure" in next(parse_mgf(member(text))).reason


def test_truncated_mgf_keeps_the_complete_records():
    text = mgf_block("a", "CCO", "47.049", GOOD_PEAKS) + "BEGIN IONS\nTITLE=b\nPEPMASS=50\n100 1\n"
    parsed = list(parse_mgf(member(text)))
    assert parsed[0].record is not None
    assert parsed[1].reason.startswith("truncated")


def test_truncated_msp_peak_list_is_rejected():
    text = "Name: x\nSMILES: CCO\nPrecursorMZ: 47.05\nNum Peaks: 3\n100 1\n120 2\n"
    assert "Num Peaks says 3 but 2" in next(parse_msp(member(text, "x.msp"))).reason


@pytest.mark.parametrize(
    "name, text, line, message",
    [
        ("a.mgf", "", 1, "not an MGF file: no spectra (no BEGIN IONS block)"),
        (
            "a.mgf",
            "##TITLE=IR\n##JCAMP-DX=4.24\n1 2\n",
            3,  # the first line that is not a comment
            "not an MGF file (expected BEGIN IONS)",
        ),
        ("a.msp", "", 1, "empty file"),
        ("a.msp", "BEGIN IONS\nPEPMASS=1\n", 1, "not an MSP file (expected 'Key: value' lines)"),
        (
            "a.txt",
            "hello world\n",
            1,
            "not an MS/MS file (MGF, MSP, MassBank record, JSON, mzML or mzXML expected)",
        ),
        ("a.txt", "<?xml version='1.0'?>\n<html/>\n", 1, "an XML file, but neither mzML nor mzXML"),
        (
            "lib.mzlib.txt",
            "<mzSpecLib>\nMS:1003186|library format version=1.0\n",
            1,
            "mzSpecLib is not read yet: convert it to MSP or MGF first (e.g. with the "
            "mzspeclib Python package)",
        ),
    ],
)
def test_wrong_format_names_file_and_line(name, text, line, message):
    with pytest.raises(ParseError) as info:
        list(parse_msms(member(text, name)))
    assert str(info.value) == f"{name} line {line}: {message}"


def test_a_truncated_record_is_one_reject_not_a_file_error():
    (parsed,) = parse_msms(member("ACCESSION: X\nCH$NAME: y\n", "a.txt"))
    assert parsed.record is None and parsed.reason == "truncated: no closing '//'"
    assert parsed.location == "a.txt record 1 (line 1)"


def test_binary_garbage_is_refused(tmp_path):
    path = write(tmp_path, "garbage.mgf", bytes(range(256)) * 40)
    with pytest.raises(ParseError, match="garbage.mgf line 1: binary content"):
        list(iter_members(path))


@pytest.mark.parametrize(
    "metadata",
    [
        {"pepmass": "301.1 1200", "ionmode": "Positive", "precursortype": "[M+H]+"},
        {"precursor_mz": "150.2", "precursormz": "150.9", "charge": "1+", "smiles": "CCO"},
        {"precursormz": "150.9", "precursor_mz": "150.2", "inchi": "NA", "rtinseconds": "61"},
        {"name": "caffeine", "compound_name": "Caffeine", "collision_energy": "35 eV"},
    ],
)
def test_memoised_harmonisation_equals_matchms_spectrum(metadata):
    from matchms import Spectrum

    from registry.ingest.parsers.spectrum import _harmonised

    mz, intensity = np.array([50.0, 80.0]), np.array([1.0, 2.0])
    assert _harmonised(metadata) == dict(Spectrum(mz, intensity, dict(metadata)).metadata)


def test_mascot_parameters_before_the_first_block_apply_to_every_block():
    """Mascot-style MGF: CHARGE and ION mode set once at the top; a block's own value wins."""
    text = (
        "COM=search of run 7\nCHARGE=2+\nITOL=0.02\n\n"
        "BEGIN IONS\nTITLE=a\nPEPMASS=122.0\n50.0 10\n60.0 20\nEND IONS\n"
        "BEGIN IONS\nTITLE=b\nCHARGE=1+\nPEPMASS=245.0\n50.0 10\nEND IONS\n"
    )
    for name in ("mascot.mgf", "mascot.txt"):  # by name, and by its content
        a, b = (p.record for p in parse_msms(member(text, name), require_structure=False))
        assert (a.record_id, a.metadata["charge"]) == ("a", 2)
        assert (b.record_id, b.metadata["charge"]) == ("b", 1)
    with pytest.raises(ParseError, match="line 2: not an MGF file"):
        list(parse_msms(member("COM=x\nhello\nBEGIN IONS\n", "a.mgf")))
    # a long header (Mascot writes its search parameters there) is still told by content
    header = "".join(
        f"USER{n:02d}=search parameter {n} of a long Mascot header\n" for n in range(40)
    )
    (a, _) = (
        p.record for p in parse_msms(member(header + text, "long.txt"), require_structure=False)
    )
    assert a.record_id == "a" and len(header) > 2000


def test_msp_in_any_key_order_and_with_colon_pairs():
    """matchms' own save_as_msp and RIKEN put other keys before NAME; AMDIS writes several
    'mz:int' pairs on a line; Golm several 'mz int' pairs separated by ';'."""
    riken = (
        "PRECURSORMZ: 195.0877\nNAME: caffeine\nSMILES: Cn1cnc2c1c(=O)n(C)c(=O)n2C\n"
        "Num Peaks: 6\n138.066:100 110.071:20 83.060:5\n42.034:3 56.050:2\n69.045:1\n"
    )
    golm = riken.replace(
        "138.066:100 110.071:20 83.060:5\n42.034:3 56.050:2\n69.045:1",
        ("138.066 100; 110.071 20; 83.060 5;\n42.034 3; 56.050 2; 69.045 1;"),
    )
    for name, text in (("riken.msp", riken), ("golm.txt", golm)):
        (parsed,) = parse_msms(member(text, name))
        assert parsed.record is not None, parsed.reason
        assert list(parsed.record.mz) == [42.034, 56.05, 69.045, 83.06, 110.071, 138.066]
        assert parsed.record.precursor_mz == 195.0877
    (short,) = parse_msms(member(riken.replace("Num Peaks: 6", "Num Peaks: 7"), "a.msp"))
    assert short.reason == "Num Peaks says 7 but 6 peaks follow (truncated?)"


def test_structures_where_gnps_and_mona_put_them():
    """GNPS quotes its InChI (INCHI="InChI=1S/..."); MoNA's MSP puts SMILES and InChI inside
    Comments; a record's own SMILES field wins over its comments."""
    inchi = "InChI=1S/C8H10N4O2/c1-10-4-9-6-5(10)7(13)12(3)8(14)11(6)2/h4H,1-3H3"
    gnps = f'BEGIN IONS\nPEPMASS=195.0877\nINCHI="{inchi}"\n138.066 100\nEND IONS\n'
    (parsed,) = parse_msms(member(gnps, "gnps.mgf"))
    assert parsed.record.structure.text == inchi
    mona = (
        "Name: caffeine\nPrecursorMZ: 195.0877\n"
        f'Comments: "cas=58-08-2" "computed SMILES=CN1C=NC2=C1C(=O)N(C)C(=O)N2C" "InChI={inchi}"\n'
        "Num Peaks: 1\n138.066 100\n"
    )
    (parsed,) = parse_msms(member(mona, "mona.msp"))
    assert parsed.record.structure.text == "CN1C=NC2=C1C(=O)N(C)C(=O)N2C"
    inchi_only = mona.replace('"computed SMILES=CN1C=NC2=C1C(=O)N(C)C(=O)N2C" ', "")
    (parsed,) = parse_msms(member(inchi_only, "mona.msp"))
    assert parsed.record.structure.text == inchi
    own = mona.replace("Comments:", "SMILES: CCO\nComments:")
    (parsed,) = parse_msms(member(own, "mona.msp"))
    assert parsed.record.structure.text == "CCO"
    bare = mona.replace("Comments:", "Notes:")
    (parsed,) = parse_msms(member(bare, "mona.msp"))
    assert parsed.reason == "no structure (neither SMILES, InChI nor InChIKey given)"


@pytest.mark.parametrize(
    "line, seconds",
    [
        ("RTINSECONDS=301.2", 301.2),
        ("RTINMINUTES=5.02", 301.2),
        ("RETENTIONTIME=5.02", 301.2),  # MS-DIAL: minutes
        ("RT=5.02 min", 301.2),
        ("RETENTION_TIME=301.2 sec", 301.2),
        ("RT=301.2 s", 301.2),
        ("RT=soon", None),
    ],
)
def test_retention_time_in_seconds_whatever_the_file_s_unit(line, seconds):
    text = f"BEGIN IONS\nPEPMASS=195.0877\n{line}\n138.066 100\nEND IONS\n"
    (parsed,) = parse_msms(member(text, "a.mgf"), require_structure=False)
    found = parsed.record.metadata.get("retention_time")
    assert found == (None if seconds is None else pytest.approx(seconds))


def test_feature_exports_keep_their_feature_id_and_ion_mobility():
    """MZmine's MGF (FEATURE_ID, ION_MOBILITY with its unit) and MS-DIAL's MSP (CCS)."""
    mzmine = (
        "BEGIN IONS\nFEATURE_ID=17\nPEPMASS=195.0877\nSCANS=17\nRTINSECONDS=301.2\n"
        "ION_MOBILITY={value}\nION_MOBILITY_UNIT={unit}\n138.066 100\nEND IONS\n"
    )
    for value, unit, key in [
        ("0.75", "vs/cm2", "inverse_ion_mobility"),
        ("21.3", "ms", "drift_time_ms"),
        ("0.75", "", "inverse_ion_mobility"),  # no unit: a 1/K0 by its size
        ("21.3", "", "drift_time_ms"),
    ]:
        text = mzmine.format(value=value, unit=unit)
        (parsed,) = parse_msms(member(text, "mzmine.mgf"), require_structure=False)
        metadata = parsed.record.metadata
        assert metadata["feature_id"] == "17" and metadata[key] == value
        other = ({"inverse_ion_mobility", "drift_time_ms"} - {key}).pop()
        assert other not in metadata
    msdial = (
        "NAME: Unknown\nPRECURSORMZ: 195.0877\nPRECURSORTYPE: [M+H]+\nRETENTIONTIME: 5.02\n"
        "CCS: 141.2\nNum Peaks: 1\n138.066\t100\n"
    )
    (parsed,) = parse_msms(member(msdial, "msdial.msp"), require_structure=False)
    assert parsed.record.metadata["ccs"] == "141.2"
    assert parsed.record.metadata["retention_time"] == pytest.approx(301.2)
