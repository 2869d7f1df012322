import gzip
import itertools
import json

import pytest
from sqlalchemy import text

from tests.builders import mgf_block, write
from tests.conftest import molvis, shared

STATS_KEYS = (
    "compounds",
    "msms_spectra",
    "ir_spectra",
    "ccs_values",
    "sources",
    "rejected_records",
    "rejected_precursor_not_structure",
)


def test_ingest_json_and_stats_json(engine, tmp_path):
    bad = mgf_block("bad", "C1CC(", "47.0", ["100 1"])
    good = mgf_block("good", "CCO", "47.049", ["100 1"])
    path = write(tmp_path, "two.mgf", good + bad)
    # ethanol labelled [M+H]+ at a sodium adduct's m/z: refused, and counted apart
    offside = write(tmp_path, "off.mgf", mgf_block("off", "CCO", "69.031", ["100 1"]))
    result = molvis("ingest", "msms", str(path), "--source", "lab", "--json")
    assert result.returncode == 0, result.stderr
    (summary,) = json.loads(result.stdout)["files"]
    assert {k: summary[k] for k in ("read", "inserted", "duplicates", "rejected")} == {
        "read": 2,
        "inserted": 1,
        "duplicates": 0,
        "rejected": 1,
    }
    stats = json.loads(molvis("stats", "--json").stdout)
    assert all(isinstance(stats[k], int) for k in STATS_KEYS)
    assert (stats["compounds"], stats["msms_spectra"], stats["rejected_records"]) == (1, 1, 1)
    assert stats["rejected_precursor_not_structure"] == 0
    result = molvis("ingest", "msms", str(offside), "--source", "lab", "--json")
    assert json.loads(result.stdout)["files"][0]["rejected"] == 1
    stats = json.loads(molvis("stats", "--json").stdout)
    assert (stats["rejected_records"], stats["rejected_precursor_not_structure"]) == (2, 1)


@pytest.mark.parametrize(
    "content, expected",
    [
        (b"", "empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00binary", "binary content"),
        (b"##TITLE=x\n##JCAMP-DX=4.24\n1 2\n", "not an MGF file"),
    ],
)
def test_unreadable_file_is_one_line_and_non_zero(engine, tmp_path, content, expected):
    path = write(tmp_path, "x.mgf", content)
    result = molvis("ingest", "msms", str(path), "--source", "lab")
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    (line,) = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert str(path) in line and expected in line


def test_missing_path_and_db_url(engine):
    result = molvis("ingest", "ccs", "/no/such/file.tsv", "--source", "x")
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "no such file" in result.stderr
    url = molvis("db", "url").stdout.strip()
    assert url.startswith("postgresql://")


def test_ir_ingest_from_cli_with_index(engine):
    result = molvis(
        "ingest",
        "ir",
        str(shared("ir", "jcamp")),
        "--source",
        "nist",
        "--structure-index",
        str(shared("ir", "index.tsv")),
        "--json",
    )
    assert result.returncode == 0, result.stderr
    files = json.loads(result.stdout)["files"]
    assert len(files) == 64 and sum(f["rejected"] for f in files) == 0


def test_ingest_embed_makes_a_library_searchable_in_one_command(engine, tmp_path):
    with gzip.open(shared("library", "test.csv.gz"), "rt") as handle:
        library = "".join(itertools.islice(handle, 41))
    path = write(tmp_path, "lib.csv", library)
    result = molvis("ingest", "structures", str(path), "--source", "moses", "--embed", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["files"][0]["compounds_new"] == 40
    assert report["embedded"]["structure"] == 40
    with engine.connect() as conn:
        names = conn.execute(
            text("SELECT indexname FROM pg_indexes WHERE tablename = 'structure_embedding'")
        ).scalars()
        assert any(n.startswith("ix_structure_embedding_half_m") for n in names)


def test_ingest_chooses_its_workers_by_kind_size_and_cores(tmp_path, monkeypatch):
    """One per core for large structure files, one for large MS/MS and CCS files (RDKit beside
    the writer), none for small files, folders, IR, or on one core."""
    import os

    from molvis.workflows.ingest import AUTO_WORKERS_BYTES, auto_workers

    big, small = tmp_path / "big.txt", tmp_path / "small.txt"
    big.write_bytes(b"x" * AUTO_WORKERS_BYTES)
    small.write_bytes(b"x" * (AUTO_WORKERS_BYTES - 1))
    monkeypatch.setattr(os, "cpu_count", lambda: 4)
    kinds = ("structures", "msms", "ccs", "ir")
    assert [auto_workers(kind, big) for kind in kinds] == [4, 1, 1, 0]
    assert [auto_workers(kind, small) for kind in kinds] == [0, 0, 0, 0]
    assert auto_workers("msms", tmp_path) == 0
    monkeypatch.setattr(os, "cpu_count", lambda: 1)
    assert [auto_workers(kind, big) for kind in kinds] == [0, 0, 0, 0]


def _stdin(*args: str, data: str):
    import subprocess
    import sys

    return subprocess.run(
        [sys.executable, "-m", "molvis", *args],
        input=data,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.slow
def test_dash_ingests_standard_input_and_again_changes_nothing(engine):
    spectra = mgf_block("good", "CCO", "47.049", ["100 1"]) + mgf_block(
        "other", "CCCO", "61.0648", ["43 1"]
    )
    first = _stdin("ingest", "msms", "-", "--source", "pipe", "--json", data=spectra)
    assert first.returncode == 0, first.stderr
    (summary,) = json.loads(first.stdout)["files"]
    assert (summary["read"], summary["inserted"]) == (2, 2)
    again = _stdin("ingest", "msms", "-", "--source", "pipe", "--json", data=spectra)
    (summary,) = json.loads(again.stdout)["files"]
    assert summary["inserted"] == 0
    # a SMILES list and a CCS table are told by their content
    smiles = _stdin(
        "ingest", "structures", "-", "--source", "pipe", "--json", data="CCN ethylamine\n"
    )
    assert json.loads(smiles.stdout)["files"][0]["inserted"] == 1, smiles.stderr
    table = "smiles\tadduct\tccs\nCCN\t[M+H]+\t120.5\n"
    ccs = _stdin("ingest", "ccs", "-", "--source", "pipe", "--json", data=table)
    assert json.loads(ccs.stdout)["files"][0]["inserted"] == 1, ccs.stderr


@pytest.mark.parametrize(
    "kind, head, suffix",
    [
        ("msms", "BEGIN IONS", ""),
        ("ir", "##TITLE=x", ".jdx"),
        ("ccs", "smiles\tadduct\tccs", ".tsv"),
        ("ccs", "smiles,adduct,ccs", ".csv"),
        (
            "structures",
            "\n  RDKit\n\n  0  0  0  0  0  0  0  0  0  0999 V2000\nM  END\n$$$$",
            ".sdf",
        ),
        ("structures", "InChI=1S/CH4/h1H4", ".inchi"),
        ("structures", "name\tSMILES\nx\tC", ".tsv"),
        ("structures", "name,smiles\nx,C", ".csv"),
        ("structures", "CCO ethanol", ".smi"),
    ],
)
def test_standard_input_is_named_for_its_reader(kind, head, suffix):
    from molvis.cli.ingest import stdin_suffix

    assert stdin_suffix(kind, head.encode()) == suffix
