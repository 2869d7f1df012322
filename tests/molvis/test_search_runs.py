"""An LC-MS run searched as it comes off the instrument (`molvis search --msms run.mzML`): one
query per MS2 scan (`--keep-scans`) or per precursor's repeated scans merged, with its retention
time, scan numbers and CCS, charge-aware masses, and each scan not searched listed with its
reason in `--json` and `--out`."""

import csv
import json

import pytest

from tests.conftest import REPO, molvis
from tests.molvis.test_identify import FUBERIDAZOLE, registry, search_json  # noqa: F401

RUN = REPO / "tests" / "data" / "run_negative.mzML"
ETHIRIMOL = "BBXXLROWFHWFQY-UHFFFAOYSA-N"


def test_a_run_is_searched_scan_by_scan_with_its_place_and_what_it_skipped(registry):  # noqa: F811
    results = search_json("--msms", str(RUN), "--top", "3", "--keep-scans")
    searched = [r for r in results if "skipped" not in r]
    assert [r["query"] for r in searched] == ["scan=2", "scan=4", "scan=5", "scan=6"]
    assert [r["scans"] for r in searched] == ["2", "4", "5", "6"]
    assert [r["rt"] for r in searched] == [5.01, 5.04, 6.2, 7.3]
    assert [r["feature_id"] for r in searched] == [None] * 4
    assert [r["adduct"] for r in searched] == ["[M-H]-", "[M-H]-", "[M-2H]2-", "[M-H]-"]
    # scan 5's precursor is doubly charged: ethirimol's mass, not half of it
    assert searched[2]["neutral_mass"] == pytest.approx(209.1528, abs=2e-3)
    assert ETHIRIMOL in [h["inchikey"] for h in searched[2]["hits"]]
    for r in searched[:2]:
        assert r["hits"][0]["inchikey"] == FUBERIDAZOLE and r["hits"][0]["level"] == "2a"
    # the scans' 1/K0 as their CCS (Mason-Schamp), scan 5 has none
    assert [r["ccs"] is not None for r in searched] == [True, True, False, True]
    assert searched[0]["ccs"] == pytest.approx(131.61, abs=0.01)
    assert "CCS 131.6 A^2 from 1/K0 0.612 (Mason-Schamp, N2, 305 K)" in searched[0]["notes"]
    skipped = [r for r in results if "skipped" in r]
    assert skipped == [
        {"query": f"{RUN} scan 1", "skipped": "an MS1 scan, not MS/MS: skipped", "hits": []},
        {"query": f"{RUN} scan 3", "skipped": "an MS1 scan, not MS/MS: skipped", "hits": []},
        {"query": f"{RUN} scan 7", "skipped": "spectrum has no peaks", "hits": []},
    ]


def test_repeated_scans_of_one_precursor_are_one_query(registry):  # noqa: F811
    merged = [r for r in search_json("--msms", str(RUN), "--top", "3") if "skipped" not in r]
    assert [r["query"] for r in merged] == ["scans=2,4", "scan=5", "scan=6"]
    assert [r["scans"] for r in merged] == ["2,4", "5", "6"]
    assert merged[0]["rt"] == pytest.approx(5.025)
    assert merged[0]["hits"][0]["inchikey"] == FUBERIDAZOLE
    assert merged[0]["hits"][0]["level"] == "2a"  # the consensus of two identical scans
    assert merged[0]["ccs"] == pytest.approx((131.61 + 131.83) / 2, abs=0.02)


def test_the_batch_table_keeps_each_query_s_place_and_the_skipped_scans(registry, tmp_path):  # noqa: F811
    out = tmp_path / "run.tsv"
    args = ("--msms", str(RUN), "--top", "1", "--keep-scans")
    done = molvis("search", *args, "--out", str(out), "--json")
    assert done.returncode == 0, done.stderr
    rows = list(csv.DictReader(out.open(), delimiter="\t"))
    hits = sum(bool(r["inchikey"]) for r in rows)
    assert json.loads(done.stdout) == {"out": str(out), "queries": 4, "hits": hits}
    assert [(r["query"], r["rt"], r["scans"]) for r in rows[:4]] == [
        ("scan=2", "5.01", "2"),
        ("scan=4", "5.04", "4"),
        ("scan=5", "6.2", "5"),
        ("scan=6", "7.3", "6"),
    ]
    assert rows[0]["ccs"].startswith("131.6") and rows[2]["ccs"] == ""
    assert [(r["query"], r["skipped"]) for r in rows[4:]] == [
        (f"{RUN} scan 1", "an MS1 scan, not MS/MS: skipped"),
        (f"{RUN} scan 3", "an MS1 scan, not MS/MS: skipped"),
        (f"{RUN} scan 7", "spectrum has no peaks"),
    ]
    assert all(r["skipped"] == "" for r in rows[:4])
    plain = molvis("search", *args, "--out", str(tmp_path / "r.json"))
    assert plain.stdout.startswith(f"4 queries, {hits} hits -> ")  # skipped scans not counted
    entries = json.loads((tmp_path / "r.json").read_text())
    assert [e.get("skipped") for e in entries][-3:] == [
        "an MS1 scan, not MS/MS: skipped",
        "an MS1 scan, not MS/MS: skipped",
        "spectrum has no peaks",
    ]
