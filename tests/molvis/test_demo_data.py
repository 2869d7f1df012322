"""The demo slice shipped in molvis/demo/ (what `make demo` loads without ../shared/data):
openly licensed records only, every MassBank record credited, and all of it loads."""

import csv
from pathlib import Path

from sqlalchemy import text

from tests.conftest import count, ingest

DEMO = Path(__file__).resolve().parents[2] / "molvis" / "demo"


def _mgf_keys(path: Path) -> list[dict[str, str]]:
    records, keys = [], {}
    for line in path.read_text().splitlines():
        if line == "END IONS":
            records.append(keys)
            keys = {}
        elif "=" in line:
            key, value = line.split("=", 1)
            keys[key] = value
    return records


def test_every_shipped_spectrum_is_openly_licensed_and_credited():
    records = _mgf_keys(DEMO / "massbank_open.mgf")
    assert len(records) == 400
    assert {r["LICENSE"] for r in records} <= {"CC0", "CC BY"}
    with open(DEMO / "massbank_open_attribution.tsv") as handle:
        credits = {r["accession"]: r for r in csv.DictReader(handle, delimiter="\t")}
    assert {r["SPECTRUMID"] for r in records} == set(credits)
    assert all(c["authors"] for c in credits.values())
    assert all(credits[r["SPECTRUMID"]]["licence"] == r["LICENSE"] for r in records)
    for licence in ("LICENSE_pnnl_metabolomicsccs.txt", "LICENSE_moses.txt"):
        assert (DEMO / licence).stat().st_size > 0


def test_the_demo_slice_loads_and_links_ccs_to_its_spectra(engine):
    spectra = ingest(engine, "msms", DEMO / "massbank_open.mgf", "massbank-open-demo")
    ccs = ingest(engine, "ccs", DEMO / "pnnl_metabolomics_ccs.tsv", "pnnl-metabolomics-ccs")
    structures = ingest(engine, "structures", DEMO / "moses_candidates.smi", "moses-demo")
    assert spectra.status == ccs.status == structures.status == "loaded"
    assert spectra.rejected == 0 and spectra.inserted + spectra.duplicates == 400
    assert structures.rejected == 0 and structures.compounds_new == 2000
    with engine.connect() as conn:
        both = conn.execute(
            text(
                "SELECT count(DISTINCT m.compound_id) FROM msms_spectrum m "
                "JOIN ccs_value v ON v.compound_id = m.compound_id"
            )
        ).scalar_one()
    # compounds with both a spectrum and a measured CCS: the demo can search with both
    assert both >= 100
    assert count(engine, "ccs_value") > 0
