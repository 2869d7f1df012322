"""Identification end to end through the command line: library matches rank first and carry
their evidence, levels and probabilities; batch export; the index kept current by ingest."""

import csv
import json
import os
import subprocess
import sys

import pytest

from models.calibration import FEATURES, Calibration, HitEvidence, Logistic, with_context
from registry.db.connection import session_scope
from registry.learned.versions import set_calibration
from registry.library.saved_index import refresh_index
from tests.builders import mgf_block, write
from tests.conftest import REPO, ingest, molvis

GNPS3 = REPO / "tests" / "data" / "gnps_pesticides_3.mgf"
FUBERIDAZOLE = "UYJUZNLFJAWNEZ-UHFFFAOYSA-N"
COLUMNS = [
    "query_id",
    "query",
    "precursor_mz",
    "adduct",
    "feature_id",
    "rt",
    "scans",
    "ccs",
    "rank",
    "inchikey",
    "smiles",
    "formula",
    "name",
    "score",
    "level",
    "probability",
    "library_score",
    "matched_peaks",
    "library_record",
    "reference_adduct",
    "ppm_error",
    "ccs_deviation_pct",
    "ccs_basis",
    "explained_intensity",
    "predicted_similarity",
    "variants",
    "skipped",
]


@pytest.fixture
def registry(engine, seed_registry, molvis_home):
    ingest(engine, "msms", GNPS3, "gnps")
    seed_registry(model="random")
    with session_scope(engine) as session:  # as `molvis ingest` does after an MS/MS file
        refresh_index(session, molvis_home)
    return engine


def search_json(*args: str) -> list[dict]:
    result = molvis("search", *args, "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_self_query_is_a_level_2a_library_match_with_its_evidence(registry):
    first, second, third = search_json("--msms", str(GNPS3), "--top", "3")
    hit = first["hits"][0]
    assert hit["rank"] == 1 and hit["inchikey"] == FUBERIDAZOLE
    assert hit["level"] == "2a"
    library = hit["evidence"]["library"]
    assert library["record_id"] == "CCMSLIB00001058235"
    assert library["score"] == pytest.approx(1.0, abs=1e-4)
    assert library["matched_peaks"] >= 6 and library["confident"] is True
    assert library["adduct"] == "[M-H]-" and library["source"] == "gnps"
    assert hit["evidence"]["model"]["score"] == hit["score"]
    assert abs(hit["evidence"]["ppm_error"]) < 10
    assert hit["evidence"]["formula"] == {"formula": "C11H8N2O", "agrees": None}
    assert hit["evidence"]["ccs"] is None
    # the hit's own fragments explain its spectrum's peaks, each annotated with an anion
    fragments = hit["evidence"]["fragments"]
    assert 0 < fragments["explained_peaks"] <= fragments["peaks"]
    assert 0 < fragments["explained_intensity"] <= 1 and 0 < fragments["fragmenter_score"] <= 1
    assert 0 < fragments["predicted_similarity"] <= 1  # the shipped forward model's spectrum
    assert len(fragments["annotations"]) == fragments["explained_peaks"]
    assert all(a["formula"].endswith("-") for a in fragments["annotations"])
    assert all(
        abs(a["ppm_error"]) <= 10 or abs(a["mz"] - a["ion_mz"]) <= 0.005
        for a in fragments["annotations"]
    )
    # existing keys kept, new ones added
    assert {
        "rank",
        "inchikey",
        "smiles",
        "name",
        "score",
        "scores",
        "monoisotopic_mass",
        "evidence",
        "level",
        "probability",
        "variants",
    } <= set(hit)
    assert {
        "query",
        "candidates",
        "weights",
        "hits",
        "model",
        "neutral_mass",
        "notes",
        "analogues",
    } <= set(first)
    # no calibration for this model: no probability, and the notes say why
    assert hit["probability"] is None
    assert any("not calibrated" in n for n in first["notes"])
    for block in (second, third):
        assert block["hits"][0]["level"] == "2a"
        assert block["hits"][0]["evidence"]["library"]["record_id"] == block["query"]


@pytest.mark.slow
def test_probability_comes_from_the_models_calibration(registry):
    n = len(FEATURES)
    calibration = Calibration(
        Logistic([0.5 * (i % 5) - 1.0 for i in range(n)], -1.0), Logistic([1.0] * n, -2.0)
    )
    with session_scope(registry) as session:
        set_calibration(session, "ui-model", calibration.to_dict())
    (result,) = search_json("--msms", str(GNPS3), "--top", "3")[:1]
    hits = result["hits"]
    best = max(h["score"] for h in hits)
    analogue = max((a["score"] for a in result["analogues"]), default=None)
    numbers = []
    for hit in hits:
        lib = hit["evidence"]["library"]
        numbers.append(
            HitEvidence(
                lib["score"] if lib else None,
                lib["matched_peaks"] if lib else None,
                bool(lib and lib["confident"]),
                hit["score"],
                best,
                hit["rank"],
                result["candidates"],
                best_analogue=analogue,
                query_peaks=result["confidence"]["query_peaks"],
                library_spectra=hit["evidence"]["references"]["matching"],
                references=hit["evidence"]["references"]["compared"],
            )
        )
    assert result["confidence"]["query_peaks"] > 0
    assert any(h["evidence"]["references"]["matching"] for h in hits)
    expected = calibration.probabilities(with_context(numbers))
    assert [h["probability"] for h in hits] == pytest.approx(expected, abs=1e-4)
    assert result["confidence"]["top_hit_probability"] == hits[0]["probability"]
    assert not any("probability" in n for n in result["notes"])
    # an older, closed-world calibration gives no probability, and the notes say why
    with session_scope(registry) as session:
        set_calibration(session, "ui-model", {"coef": [1.0] * 7, "intercept": 0.0})
    (result,) = search_json("--msms", str(GNPS3), "--top", "3")[:1]
    assert all(h["probability"] is None for h in result["hits"])
    assert result["confidence"]["top_hit_probability"] is None
    assert any("older kind" in n for n in result["notes"])


@pytest.mark.slow
def test_batch_export_tsv_csv_json(registry, tmp_path):
    from molvis.workflows.embedding import embed_backfill

    # an isomer of each query's compound: two candidates in each mass window
    isomers = write(
        tmp_path,
        "isomers.smi",
        "c1ccc2[nH]c(-c3ccoc3)nc2c1 furyl-3\n"
        "CCC(C)c1c(C)[nH]c(NCC)nc1=O sec-butyl\n"
        "CC(C)(C)C(O)C(=Cc1cc(Cl)ccc1Cl)n1cncn1 dichloro-2,5\n",
    )
    ingest(registry, "structures", isomers, "isomers")
    embed_backfill(registry, "ui-model")
    out = tmp_path / "results.tsv"
    done = molvis("search", "--msms", str(GNPS3), "--top", "2", "--out", str(out), "--json")
    assert done.returncode == 0, done.stderr
    # the third spectrum is a formate adduct its file does not name: the assumed [M-H]- window
    # holds no isomer, and its own library match brings it in
    assert json.loads(done.stdout) == {"out": str(out), "queries": 3, "hits": 5}
    with open(out, newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    assert list(rows[0]) == COLUMNS
    assert [(r["query_id"], r["rank"]) for r in rows] == [
        ("1", "1"),
        ("1", "2"),
        ("2", "1"),
        ("2", "2"),
        ("3", "1"),
    ]
    top = rows[0]
    assert top["query"] == "CCMSLIB00001058235" and top["inchikey"] == FUBERIDAZOLE
    assert top["level"] == "2a" and top["library_record"] == "CCMSLIB00001058235"
    assert float(top["library_score"]) == pytest.approx(1.0, abs=1e-4)
    assert top["formula"] == "C11H8N2O" and "<svg" not in "".join(top.values())
    csv_out = tmp_path / "results.csv"
    assert (
        molvis("search", "--msms", str(GNPS3), "--top", "2", "--out", str(csv_out)).returncode == 0
    )
    with open(csv_out, newline="") as handle:
        assert list(csv.DictReader(handle))[0]["inchikey"] == FUBERIDAZOLE
    json_out = tmp_path / "results.json"
    assert molvis("search", "--msms", str(GNPS3), "--out", str(json_out)).returncode == 0
    blocks = json.loads(json_out.read_text())
    assert [b["query"] for b in blocks] == [r["query"] for r in rows if r["rank"] == "1"]
    bad = molvis("search", "--msms", str(GNPS3), "--out", str(tmp_path / "r.xlsx"), "--json")
    assert bad.returncode == 2 and "give a .tsv, .csv or .json" in json.loads(bad.stdout)["error"]


@pytest.mark.slow
def test_the_index_follows_ingests_and_says_when_stale(registry, tmp_path):
    (first,) = search_json("--msms", str(GNPS3), "--top", "1")[:1]
    assert not any("stale" in n for n in first["notes"])
    extra = write(
        tmp_path,
        "extra.mgf",
        mgf_block(
            "caffeine-x",
            "Cn1cnc2c1c(=O)n(C)c(=O)n2C",
            "195.0877",
            ["110.0713 60", "138.0662 100", "83.0604 40"],
        ),
    )
    ingest(registry, "msms", extra, "lab")  # the registry's ingest alone does not rebuild
    (stale,) = search_json("--msms", str(GNPS3), "--top", "1")[:1]
    assert any("library index is stale" in n for n in stale["notes"])
    assert stale["hits"][0]["inchikey"] == FUBERIDAZOLE  # the stale index still answers
    more = write(
        tmp_path,
        "more.mgf",
        mgf_block(
            "caffeine-y",
            "Cn1cnc2c1c(=O)n(C)c(=O)n2C",
            "195.0877",
            ["110.0713 50", "138.0662 100", "56.0495 40"],
        ),
    )
    done = molvis("ingest", "msms", str(more), "--source", "lab", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["library"]["spectra"] == 5
    (current,) = search_json("--msms", str(GNPS3), "--top", "1")[:1]
    assert not any("stale" in n for n in current["notes"])
    built = molvis("library", "build", "--json")
    assert json.loads(built.stdout)["rebuilt"] is False


def test_dash_reads_the_query_spectra_from_standard_input(registry):
    done = subprocess.run(
        [sys.executable, "-m", "molvis", "search", "--msms", "-", "--json"],
        input=GNPS3.read_text(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    blocks = json.loads(done.stdout)
    assert len(blocks) == 3 and all(b["hits"] for b in blocks)


def test_a_closed_pipe_ends_the_command_quietly(registry):
    """`molvis search ... --json | head`: the reader has gone; no traceback, exit 141."""
    read, write = os.pipe()
    os.close(read)
    done = subprocess.run(
        [sys.executable, "-m", "molvis", "search", "--msms", str(GNPS3), "--json"],
        stdout=write,
        stderr=subprocess.PIPE,
        text=True,
        timeout=300,
    )
    os.close(write)
    assert done.returncode == 141 and "Traceback" not in done.stderr
    assert "BrokenPipe" not in done.stderr
