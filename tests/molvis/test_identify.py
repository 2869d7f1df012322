"""Identification end to end through the command line: library matches rank first and carry
their evidence, levels and probabilities; batch export; the index kept current by ingest."""

import csv
import json

import pytest

from models.calibration import Calibration, HitEvidence
from registry.db import session_scope
from registry.library_store import refresh_index
from registry.model_store import set_calibration
from tests.builders import mgf_block, write
from tests.conftest import REPO, ingest, molvis

GNPS3 = REPO / "tests" / "data" / "gnps_pesticides_3.mgf"
FUBERIDAZOLE = "UYJUZNLFJAWNEZ-UHFFFAOYSA-N"
COLUMNS = [
    "query_id",
    "query",
    "precursor_mz",
    "adduct",
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
    "variants",
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


def test_probability_comes_from_the_models_calibration(registry):
    calibration = Calibration([2.0, 1.0, 0.5, 1.0, 1.0, 1.0, -0.5], -3.0)
    with session_scope(registry) as session:
        set_calibration(session, "ui-model", calibration.to_dict())
    (result,) = search_json("--msms", str(GNPS3), "--top", "3")[:1]
    hits = result["hits"]
    best = max(h["score"] for h in hits)
    for hit in hits:
        lib = hit["evidence"]["library"]
        expected = calibration.probability(
            HitEvidence(
                lib["score"] if lib else None,
                lib["matched_peaks"] if lib else None,
                bool(lib and lib["confident"]),
                hit["score"],
                best,
                hit["rank"],
                result["candidates"],
            )
        )
        assert hit["probability"] == pytest.approx(expected, abs=1e-4)
    assert not any("not calibrated" in n for n in result["notes"])


def test_batch_export_tsv_csv_json(registry, tmp_path):
    out = tmp_path / "results.tsv"
    wide = ("--ppm", "500000")  # a 50 % window: two candidates for each query
    done = molvis("search", "--msms", str(GNPS3), *wide, "--top", "2", "--out", str(out), "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"out": str(out), "queries": 3, "hits": 6}
    with open(out, newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    assert list(rows[0]) == COLUMNS
    assert [(r["query_id"], r["rank"]) for r in rows] == [
        ("1", "1"),
        ("1", "2"),
        ("2", "1"),
        ("2", "2"),
        ("3", "1"),
        ("3", "2"),
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
    assert [b["query"] for b in blocks] == [r["query"] for r in rows[::2]]
    bad = molvis("search", "--msms", str(GNPS3), "--out", str(tmp_path / "r.xlsx"), "--json")
    assert bad.returncode == 2 and "give a .tsv, .csv or .json" in json.loads(bad.stdout)["error"]


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
