import gzip
import io
import zipfile

import pytest
from sqlalchemy import text

from registry.db.connection import session_scope
from registry.ingest.fingerprints import fill_missing
from registry.ingest.formats import files_for
from registry.ingest.parsers.ir import StructureIndex
from registry.ingest.summary import IngestOptions
from tests.builders import mgf_block, write
from tests.conftest import count, first_mgf_blocks, ingest, shared, snapshot

PEAKS = ["100.0 10", "150.5 100", "200.1 40"]


def test_gnps_ingest_then_rerun_changes_nothing(engine):
    path = shared("gnps", "pesticides.mgf")
    summary = ingest(engine, "msms", path, "gnps")
    assert summary.status == "loaded"
    assert (summary.read, summary.inserted, summary.rejected) == (76, 76, 0)
    assert summary.compounds_new == count(engine, "compound") > 0
    before = snapshot(engine)
    again = ingest(engine, "msms", path, "gnps")
    assert again.status == "unchanged"
    assert (again.inserted, again.duplicates, again.compounds_new) == (0, 76, 0)
    assert snapshot(engine) == before
    with engine.connect() as conn:
        run = conn.execute(text("SELECT file_sha256, status, inserted FROM ingest_run")).one()
    assert len(run.file_sha256) == 64 and run.status == "loaded" and run.inserted == 76


def test_same_spectra_from_two_files_are_stored_once(engine, tmp_path):
    mgf = first_mgf_blocks(shared("massbank", "massbank_ms2.mgf.gz"), 50)
    first = ingest(engine, "msms", write(tmp_path, "a.mgf", mgf), "massbank")
    second = ingest(engine, "msms", write(tmp_path, "b.mgf", mgf + "\n"), "massbank-copy")
    assert first.inserted > 0 and second.inserted == 0
    assert second.duplicates == first.inserted + first.duplicates
    assert count(engine, "msms_spectrum") == first.inserted


def test_damaged_records_are_kept_with_reason_and_raw_text(engine, tmp_path):
    text_ = (
        mgf_block("good", "CCO", "47.049", PEAKS)
        + mgf_block("bad-smiles", "C1CC(", "47.049", PEAKS)
        + mgf_block("wrong-key", "CCO", "47.049", PEAKS, INCHIKEY="RYYVLZVUVIJVGH-UHFFFAOYSA-N")
        + mgf_block("nan", "CCCO", "61.06", ["100 nan"])
        + mgf_block("good2", "CCCO", "61.065", PEAKS)
    )
    summary = ingest(engine, "msms", write(tmp_path, "mixed.mgf", text_), "lab")
    assert (summary.read, summary.inserted, summary.rejected) == (5, 2, 3)
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT record_no, line_no, reason, raw_text FROM rejected_record "
                "ORDER BY record_no"
            )
        ).all()
    assert [r.record_no for r in rows] == [2, 3, 4]
    assert "cannot parse SMILES" in rows[0].reason and "TITLE=bad-smiles" in rows[0].raw_text
    assert "disagrees with the structure" in rows[1].reason
    assert "NaN" in rows[2].reason
    assert rows[0].line_no == 11


def test_error_mid_archive_rolls_the_whole_file_back(engine, tmp_path):
    ingest(engine, "msms", shared("gnps", "pesticides.mgf"), "gnps")
    before = snapshot(engine)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(
            "a_good.mgf", first_mgf_blocks(shared("massbank", "massbank_ms2.mgf.gz"), 20)
        )
        archive.writestr("b_broken.mgf", b"\x00\x01\x02" * 100)
    summary = ingest(engine, "msms", write(tmp_path, "batch.zip", buffer.getvalue()), "mb")
    assert summary.status == "failed"
    assert "b_broken.mgf line 1: binary content" in summary.error
    assert snapshot(engine) == before


def test_derived_precursor_is_flagged(engine, tmp_path):
    block = mgf_block("noprec", "CCO", "", PEAKS).replace("PEPMASS=\n", "")
    summary = ingest(engine, "msms", write(tmp_path, "p.mgf", block), "lab")
    assert summary.inserted == 1
    with engine.connect() as conn:
        mz, md = conn.execute(text("SELECT precursor_mz, metadata FROM msms_spectrum")).one()
    assert mz == pytest.approx(46.041865 + 1.007276, abs=1e-5)
    assert md["precursor_mz_derived"] is True


def test_ir_folder_with_structure_index(engine):
    index = StructureIndex.from_table(shared("ir", "index.tsv"))
    files, skipped = files_for("ir", [shared("ir", "jcamp")])
    assert len(files) == 64 and [p.name for p in skipped] == ["LICENSE_nzhagen_jcamp_repo.txt"]
    summaries = [
        ingest(engine, "ir", f, "nist-webbook", IngestOptions(structure_index=index)) for f in files
    ]
    assert all(s.status == "loaded" for s in summaries)
    assert count(engine, "ir_spectrum") == sum(s.inserted for s in summaries) >= 60
    assert count(engine, "compound") == 60
    with engine.connect() as conn:
        dims = conn.execute(text("SELECT DISTINCT vector_dims(processed) FROM ir_spectrum")).all()
    assert dims == [(825,)]


def test_ccs_inchikey_only_rows_attach_to_known_compounds(engine, tmp_path):
    ingest(engine, "structures", write(tmp_path, "s.smi", "OC[C@H](N)C(O)=O serine\n"), "lib")
    table = (
        "InChi\tNeutral Name\tmPlusH\tmPlusHCCS\tmPlusHRsd\n"
        "MTCFGRXMJLQNBG-REOHCLBHSA-N\tL-Serine\t106.049\t130.1\t0.2\n"
        "AAAAAAAAAAAAAA-UHFFFAOYSA-N\tunknown\t200.1\t150.0\tN/A\n"
        "QZIYBXSHAGNOE-XNSRJBNMSA-N\ttruncated key\t200.1\t150.0\tN/A\n"
    )
    summary = ingest(engine, "ccs", write(tmp_path, "wide.tsv", table), "pnnl")
    assert (summary.inserted, summary.rejected) == (1, 2)
    with engine.connect() as conn:
        reasons = (
            conn.execute(text("SELECT reason FROM rejected_record ORDER BY record_no"))
            .scalars()
            .all()
        )
    assert "no such compound in the registry" in reasons[0]
    assert "not a valid InChIKey" in reasons[1]


def test_msms_with_only_an_inchikey_attaches_to_a_known_compound(engine, tmp_path):
    """A spectrum that names its compound by InChIKey alone (no SMILES or InChI) is stored
    against that compound when the registry holds it; otherwise it is rejected, saying so."""
    ingest(engine, "structures", write(tmp_path, "s.smi", "OC[C@H](N)C(O)=O serine\n"), "lib")
    blocks = (
        "BEGIN IONS\nTITLE=serine\nINCHIKEY=MTCFGRXMJLQNBG-REOHCLBHSA-N\nPEPMASS=106.0499\n"
        "ADDUCT=[M+H]+\n60.044 100\n88.039 20\nEND IONS\n"
        "BEGIN IONS\nTITLE=stranger\nINCHIKEY=AAAAAAAAAAAAAA-UHFFFAOYSA-N\nPEPMASS=200.1\n"
        "60.044 100\nEND IONS\n"
    )
    summary = ingest(engine, "msms", write(tmp_path, "keys.mgf", blocks), "lab")
    assert (summary.inserted, summary.rejected) == (1, 1)
    with engine.connect() as conn:
        stored = conn.execute(
            text(
                "SELECT c.inchikey, s.record_id FROM msms_spectrum s "
                "JOIN compound c ON c.id = s.compound_id"
            )
        ).all()
        reason = conn.execute(text("SELECT reason FROM rejected_record")).scalar_one()
    assert stored == [("MTCFGRXMJLQNBG-REOHCLBHSA-N", "serine")]
    assert reason == (
        "InChIKey AAAAAAAAAAAAAA-UHFFFAOYSA-N only, no structure, and no such compound in the "
        "registry yet"
    )


def test_ccs_slice_and_structures_library(engine, tmp_path):
    with gzip.open(shared("ccs", "ccs_combined.tsv.gz"), "rt") as handle:
        head = "".join(next(handle) for _ in range(501))
    ccs = ingest(engine, "ccs", write(tmp_path, "ccs.tsv", head), "ccs")
    assert ccs.read == 500 and ccs.inserted + ccs.duplicates + ccs.rejected == 500
    assert count(engine, "ccs_value") == ccs.inserted > 400
    with gzip.open(shared("library", "test.csv.gz"), "rt") as handle:
        lib = "".join(next(handle) for _ in range(201))
    path = write(tmp_path, "moses.csv", lib)
    first = ingest(engine, "structures", path, "moses")
    assert first.inserted == first.compounds_new == 200
    assert ingest(engine, "structures", path, "moses").status == "unchanged"


def test_fingerprints_fill_and_jaccard_search(engine, tmp_path):
    smiles = "Cn1cnc2c1c(=O)n(C)c(=O)n2C caffeine\nCn1c(=O)c2[nH]cnc2n(C)c1=O theophylline\n"
    smiles += "c1ccccc1 benzene\nCCCCCCCCCC decane\n"
    summary = ingest(engine, "structures", write(tmp_path, "s.smi", smiles), "lib")
    assert summary.fingerprints == 4  # computed in the ingest's own transaction
    with session_scope(engine) as session:
        assert fill_missing(session) == 0
    with engine.connect() as conn:
        order = (
            conn.execute(
                text(
                    "SELECT names[1] FROM compound ORDER BY fingerprint <%> "
                    "(SELECT fingerprint FROM compound WHERE 'caffeine' = ANY(names)) LIMIT 2"
                )
            )
            .scalars()
            .all()
        )
    assert order == ["caffeine", "theophylline"]


def test_names_and_ids_merge_without_duplicates(engine, tmp_path):
    """A later file adds names and external ids to the compounds it shares with the registry
    (each of several compounds its own), keeping what was there first."""
    ingest(engine, "structures", write(tmp_path, "a.smi", "CCO ethanol\nCC(=O)O\n"), "lib")
    ingest(engine, "structures", write(tmp_path, "b.smi", "OCC alcohol\n"), "lib")
    spectra = mgf_block("ethanol", "CCO", "47.049", ["30 1"], NAME="ethyl alcohol", CASNO="64-17-5")
    spectra += mgf_block("s2", "CC(O)=O", "61.03", ["43 1"], NAME="acetic acid", CASNO="64-19-7")
    spectra += mgf_block("ethanol", "CCO", "47.049", ["31 1"], CASNO="99-99-9")
    ingest(engine, "msms", write(tmp_path, "c.mgf", spectra), "lab")
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT smiles, names, external_ids FROM compound ORDER BY id"))
        assert [tuple(r) for r in rows] == [
            ("CCO", ["ethanol", "alcohol", "ethyl alcohol"], {"cas": "64-17-5"}),
            ("CC(=O)O", ["acetic acid"], {"cas": "64-19-7"}),
        ]


def test_key_only_rows_resolve_against_structures_later_in_the_same_file(engine, tmp_path):
    """A row giving only an InChIKey before the row that brings the structure is kept: key-only
    rows are resolved once the file's own structures are in, so a first and a second load of
    the same file give the same registry."""
    table = (
        "smiles\tinchikey\tadduct\tccs\n"
        "\tMTCFGRXMJLQNBG-REOHCLBHSA-N\t[M+Na]+\t135.0\n"
        "N[C@@H](CO)C(O)=O\tMTCFGRXMJLQNBG-REOHCLBHSA-N\t[M+H]+\t130.1\n"
    )
    first = ingest(engine, "ccs", write(tmp_path, "serine.tsv", table), "ccs")
    assert (first.inserted, first.rejected) == (2, 0)
    with engine.connect() as conn:
        sources = conn.execute(text("SELECT count(*) FROM compound_source")).scalar_one()
    assert sources == 1
    before = snapshot(engine)
    assert ingest(engine, "ccs", write(tmp_path, "serine.tsv", table), "ccs").status == "unchanged"
    assert snapshot(engine) == before


def test_a_failed_file_leaves_the_callers_transaction_as_it_was(engine, tmp_path):
    """The caller owns the transaction: a good file and a file that is not MGF ingested in one
    transaction keep the good file's rows, and the bad file's run is not recorded."""
    from registry.ingest.pipeline import ingest_file

    good = write(tmp_path, "good.mgf", mgf_block("ethanol", "CCO", "47.049", ["30 1", "45 2"]))
    bad = write(tmp_path, "bad.mgf", "this is no MGF\n")
    with session_scope(engine) as session:
        loaded = ingest_file(session, "msms", good, "lab")
        failed = ingest_file(session, "msms", bad, "lab")
        unchanged = ingest_file(session, "msms", good, "lab")
    assert (loaded.status, failed.status, unchanged.status) == ("loaded", "failed", "unchanged")
    assert "bad.mgf" in failed.error and "not an MGF file" in failed.error
    assert count(engine, "msms_spectrum") == 1 and count(engine, "ingest_run") == 1
    assert loaded.fingerprints == 1 and count(engine, "compound") == 1
