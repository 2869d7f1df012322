"""The text exports labs meet (tests/data/exports/, written by tests/data/make_files.py from the
three GNPS pesticide spectra, CC0), read by molvis beside matchms 0.29's own loaders: the same
spectra, precursors and peaks where matchms reads the file right, and each difference asserted
with what it is."""

from pathlib import Path

import numpy as np
import pytest
from matchms.importing import load_from_mgf, load_from_msp

from registry.ingest.files import iter_members
from registry.ingest.normalize import normalize_unknown
from registry.ingest.parsers.msms import parse_msms
from tests.conftest import REPO

EXPORTS = REPO / "tests" / "data" / "exports"
PRECURSORS = [183.057, 208.146, 370.073]
SOURCE = REPO / "tests" / "data" / "gnps_pesticides_3.mgf"


def _molvis(name: str, structure: bool = True) -> list:
    return [
        p for m in iter_members(EXPORTS / name) for p in parse_msms(m, require_structure=structure)
    ]


def _matchms(name: str) -> list:
    loader = load_from_mgf if name.endswith(".mgf") else load_from_msp
    return list(loader(str(EXPORTS / name)))


def _source_peaks() -> list[np.ndarray]:
    return [p.record.mz for m in iter_members(Path(SOURCE)) for p in parse_msms(m)]


@pytest.mark.parametrize(
    "name", ["gnps_quoted_inchi.mgf", "mascot.mgf", "mona_comments.msp", "msdial_ccs.msp"]
)
def test_the_same_spectra_as_matchms_reads(name):
    mine = [p.record for p in _molvis(name, structure=False)]
    peer = _matchms(name)
    assert [r.precursor_mz for r in mine] == [s.get("precursor_mz") for s in peer] == PRECURSORS
    for record, spectrum, source in zip(mine, peer, _source_peaks(), strict=True):
        assert np.allclose(record.mz, spectrum.peaks.mz) and np.allclose(record.mz, source)
        assert np.allclose(record.intensity, spectrum.peaks.intensities)


def test_gnps_quoted_inchi_is_read_without_its_quotes():
    """matchms keeps GNPS's quotes in the InChI (no structure reader takes it so); molvis
    reads the InChI inside them, so the records load with their structure."""
    mine = [p.record.structure.text for p in _molvis("gnps_quoted_inchi.mgf")]
    peer = [s.get("inchi") for s in _matchms("gnps_quoted_inchi.mgf")]
    assert all(t.startswith("InChI=1S/") for t in mine)
    assert peer == [f'"{t}"' for t in mine]


def test_mascot_parameters_before_the_first_block_reach_every_block():
    """The charge set once in the header: both readers give each block -1."""
    mine = [p.record.metadata["charge"] for p in _molvis("mascot.mgf")]
    assert mine == [s.get("charge") for s in _matchms("mascot.mgf")] == [-1, -1, -1]


def test_mona_structures_are_read_from_its_comments():
    """MoNA puts SMILES and InChI only inside Comments: molvis takes the SMILES (and the ion
    mode 'N' as negative); matchms takes the InChI, its 'InChI=' prefix cut off."""
    mine = [p.record for p in _molvis("mona_comments.msp")]
    assert [r.structure.text[:4] for r in mine] == ["C1=C", "CCCC", "CC(C"]
    assert {normalize_unknown(r).ion_mode for r in mine} == {"negative"}
    peer = _matchms("mona_comments.msp")
    assert [s.get("smiles") for s in peer] == [None, None, None]
    assert all(s.get("inchi").startswith("1S/C") for s in peer)


def test_ms_dial_features_keep_their_ccs_and_retention_time_and_are_queries():
    """MS-DIAL's feature export carries a CCS and a retention time (minutes) per spectrum and no
    structure: searched as queries, each with its own CCS; as references they are rejected."""
    mine = [p.record for p in _molvis("msdial_ccs.msp", structure=False)]
    assert [r.metadata["ccs"] for r in mine] == [s.get("ccs") for s in _matchms("msdial_ccs.msp")]
    assert [float(r.metadata["ccs"]) for r in mine] == [139.4, 148.7, 179.2]
    assert [r.metadata["retention_time"] for r in mine] == [330.0, 390.0, 450.0]
    assert {p.reason for p in _molvis("msdial_ccs.msp")} == {
        "no structure (neither SMILES, InChI nor InChIKey given)"
    }


def test_riken_msp_is_read_where_matchms_reads_nothing():
    """RIKEN / MS-DIAL library style (PRECURSORMZ before NAME, five 'mz:int' pairs a line):
    matchms 0.29's load_from_msp returns no spectrum from it; molvis reads all three, with the
    source's peaks."""
    assert _matchms("riken.msp") == []
    mine = [p.record for p in _molvis("riken.msp")]
    assert [r.precursor_mz for r in mine] == PRECURSORS
    for record, source in zip(mine, _source_peaks(), strict=True):
        assert np.allclose(record.mz, source)
