"""MS/MS spectra as JSON (registry/ingest/parsers/json_spectra.py): the GNPS library's shape
(tests/data/gnps_pesticides_3.json, read beside matchms' load_from_json), MoNA's export shape,
and a clear reject or error for what cannot be read."""

import json

import numpy as np
import pytest
from matchms.importing import load_from_json

from registry.ingest.files import iter_members
from registry.ingest.parsers import ParseError
from registry.ingest.parsers.msms import parse_msms
from tests.builders import member
from tests.conftest import REPO

GNPS_JSON = REPO / "tests" / "data" / "gnps_pesticides_3.json"
CAFFEINE_INCHI = "InChI=1S/C8H10N4O2/c1-10-4-9-6-5(10)7(13)12(3)8(14)11(6)2/h4H,1-3H3"


def test_gnps_json_reads_as_matchms_reads_it():
    (text_member,) = iter_members(GNPS_JSON)
    records = [p.record for p in parse_msms(text_member)]
    theirs = load_from_json(str(GNPS_JSON))
    assert len(records) == len(theirs) == 3
    for mine, spectrum in zip(records, theirs, strict=True):
        assert np.allclose(mine.mz, spectrum.peaks.mz)
        assert np.allclose(mine.intensity, spectrum.peaks.intensities)
        assert mine.precursor_mz == pytest.approx(spectrum.get("precursor_mz"))
        assert mine.record_id == spectrum.get("spectrum_id")
        assert mine.ion_mode == "negative"
    # GNPS quotes its InChI; the SMILES is taken first either way
    assert records[0].structure.text == "C1=CC=C2C(=C1)NC(=N2)C3=CC=CO3"
    without_smiles = json.loads(GNPS_JSON.read_text())[:1]
    del without_smiles[0]["Smiles"]
    (parsed,) = parse_msms(member(json.dumps(without_smiles), "one.json"))
    assert parsed.record.structure.text.startswith("InChI=1S/C11H8N2O/")


def test_a_mona_export_reads_its_metadata_and_compound():
    mona = {
        "id": "MoNA0001",
        "spectrum": "138.066:100 110.071:20.5 83.06:5",
        "compound": [
            {
                "inchi": CAFFEINE_INCHI,
                "names": [{"name": "caffeine"}],
                "metaData": [{"name": "SMILES", "value": "CN1C=NC2=C1C(=O)N(C)C(=O)N2C"}],
            }
        ],
        "metaData": [
            {"name": "precursor m/z", "value": 195.0877},
            {"name": "precursor type", "value": "[M+H]+"},
            {"name": "ionization mode", "value": "positive"},
            {"name": "collision energy", "value": "20 eV"},
            {"name": "ms level", "value": "MS2"},
        ],
    }
    (parsed,) = parse_msms(member(json.dumps([mona]), "mona.json"))
    record = parsed.record
    assert record is not None, parsed.reason
    assert record.record_id == "MoNA0001" and record.precursor_mz == 195.0877
    assert record.adduct == "[M+H]+" and record.ion_mode == "positive"
    assert record.collision_energy == "20 eV"
    assert list(record.mz) == [83.06, 110.071, 138.066]
    assert record.structure.text == "CN1C=NC2=C1C(=O)N(C)C(=O)N2C"
    assert record.structure.names == ["caffeine"]
    ms1 = {**mona, "metaData": [{"name": "ms level", "value": "MS1"}]}
    (parsed,) = parse_msms(member(json.dumps(ms1), "ms1.json"))
    assert parsed.reason == "an MS1 scan, not MS/MS: skipped"


@pytest.mark.parametrize(
    "item, reason",
    [
        ("a string", "not a spectrum object"),
        ({"name": "x"}, "no peaks (neither 'peaks_json' nor MoNA's 'spectrum')"),
        ({"peaks_json": "[[1, 2], [3"}, "peaks_json is not a list of [m/z, intensity] pairs"),
        ({"peaks_json": [[1, "x"]]}, "peaks are not numbers"),
        ({"peaks_json": [1, 2, 3]}, "peaks are not [m/z, intensity] pairs"),
        ({"peaks_json": []}, "spectrum has no peaks"),
        ({"spectrum": "1:2 3"}, "'spectrum' is not a list of 'm/z:intensity' pairs"),
    ],
)
def test_an_object_it_cannot_read_is_one_reject_and_the_rest_load(item, reason):
    good = json.loads(GNPS_JSON.read_text())[0]
    parsed = list(parse_msms(member(json.dumps([good, item, good]), "lib.json")))
    assert [p.record is not None for p in parsed] == [True, False, True]
    assert parsed[1].reason == reason and parsed[1].location == "lib.json record 2"


def test_a_file_that_is_not_json_is_refused_with_its_line():
    with pytest.raises(ParseError, match=r"^lib.json line 3: not JSON: "):
        list(parse_msms(member('[\n{"peaks_json": [[1, 2]]},\n{oops}\n]', "lib.json")))
    (one,) = parse_msms(member(json.dumps(json.loads(GNPS_JSON.read_text())[0]), "x.txt"))
    assert one.record is not None  # one object, told by its first character
