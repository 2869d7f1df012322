"""Smoke test: every benchmark script runs at a tiny size and writes its JSON."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from sqlalchemy import text

from models.checkpoint import make_checkpoint, read_checkpoint, save_checkpoint
from models.config import load_config
from models.model import MultiModalModel
from registry.db.connection import session_scope
from registry.learned.versions import register_model
from tests.builders import write
from tests.conftest import REPO, first_mgf_blocks, ingest, shared


def run(module: str, *args: str) -> dict:
    result = subprocess.run(
        [sys.executable, "-m", f"bench.{module}", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result


@pytest.fixture
def tiny_checkpoint(tmp_path):
    torch.manual_seed(0)
    model = MultiModalModel(load_config(REPO / "models" / "configs" / "tiny.yaml"))
    return save_checkpoint(
        make_checkpoint(model, {"train": [], "val": [], "test": []}, {}), tmp_path / "tiny.pt"
    )


@pytest.mark.slow
@pytest.mark.parametrize(
    "module, args, key",
    [
        ("ingest", ["--n", "30"], "rows"),
        ("fingerprints", ["--n", "50"], "rdkit_bare_per_s"),
    ],
)
def test_benchmark_scripts_run_small(engine, tmp_path, module, args, key):
    out = tmp_path / f"{module}.json"
    run(module, *args, "--output", str(out))
    assert key in json.loads(out.read_text())


def test_query_benchmark_runs_small(engine, tmp_path):
    out = tmp_path / "results" / "query.json"
    args = ["--sizes", "300", "--queries", "5", "--probes", "1", "20"]
    run("query", *args, "--cache", str(tmp_path / "cache"), "--output", str(out))
    (row,) = json.loads(out.read_text())["rows"]
    assert row["compounds"] == 300 and [s["probes"] for s in row["open_query"]] == [1, 20]
    assert all(0 <= s["recall_at_20"] <= 1 for s in row["open_query"])
    assert row["tanimoto_hnsw"]["recall_probes"] == 5
    warm = row["mass_window_warm"]
    assert warm["baseline"]["function"] == "migrations/sql/molvis_search/0015.sql"
    assert warm["shipped"]["p95_ms"] > 0 and warm["p95_ratio"] > 0
    assert (tmp_path / "cache" / "library-model-molvis-base-300.npz").exists()
    from bench.report import render

    page = render("", tmp_path / "results")
    assert "| 300 | 1 |" in page and "| 300 | 20 |" in page


def test_index_sweep_runs_small(engine, tmp_path):
    out = tmp_path / "index_sweep.json"
    args = ["--size", "300", "--queries", "5", "--ef-search", "40", "--fetch", "20", "40"]
    args += ["--variants", "vector:m16:ef64", "halfvec:m8:ef32", "bit:m16:ef64", "ivf:lists4"]
    args += ["--probes", "1", "4"]
    run("index_sweep", *args, "--cache", str(tmp_path / "cache"), "--output", str(out))
    rows = {r["variant"]: r for r in json.loads(out.read_text())["rows"]}
    assert set(rows) == {"vector:m16:ef64", "halfvec:m8:ef32", "bit:m16:ef64", "ivf:lists4"}
    assert [s["fetch"] for s in rows["halfvec:m8:ef32"]["sweep"]] == [20, 40]
    ivf = rows["ivf:lists4"]["sweep"]
    assert [(s["probes"], s["fetch"]) for s in ivf] == [(1, 20), (1, 40), (4, 20), (4, 40)]
    assert ivf[-1]["recall_at_20"] == 1.0  # every list probed: an exact scan
    recalls = [s["recall_at_20"] for r in rows.values() for s in r["sweep"]]
    assert all(0 <= r <= 1 for r in recalls) and max(recalls) > 0.5
    assert rows["bit:m16:ef64"]["sweep"][0]["recall_probes"] == 5


@pytest.mark.slow
def test_library_load_runs_small(engine, tmp_path):
    out = tmp_path / "library_load.json"
    run("library_load", "--sizes", "300", "--output", str(out))
    result = json.loads(out.read_text())
    inline, command = result["rows"]
    assert (inline["workers"], inline["embed"], command["workers"]) == (0, False, "auto")
    assert inline["new"] == command["new"] == command["embedded"] == 300
    assert inline["fingerprinted"] == command["fingerprinted"] == 300
    assert result["moses_minutes"] > 0 and result["moses"].startswith("extrapolated: 1936962")
    from bench.scale_report import library_load_section

    assert "min (**extrapolated: 1936962 /" in "\n".join(library_load_section(result))


def test_fragments_benchmark_runs_small(tmp_path):
    out = tmp_path / "fragments.json"
    run(
        "fragments", "--queries", "30", "--spectra", "4000", "--library", "10000",
        "--depths", "1", "--output", str(out),
    )  # fmt: skip
    result = json.loads(out.read_text())
    window = next(r for r in result["rows"] if r["candidate_set"] == "window")
    assert window["n_queries"] == result["queries"] > 0
    assert 0 <= window["fragmenter d1 top1"] <= 1 and 0 < window["random_top1"] <= 1
    from bench.fragments import fragments_section

    assert "| window |" in "\n".join(fragments_section(result))


def test_window_search_benchmark_runs_small(tmp_path):
    out = tmp_path / "window_search.json"
    run(
        "window_search", "--queries", "2", "--window", "20", "--library", "8000",
        "--spectra", "6000", "--output", str(out),
    )  # fmt: skip
    result = json.loads(out.read_text())
    assert result["queries"] == 2 and result["candidates"]["min"] >= 20
    default = result["runs"]["default: learned ranker over fragment evidence"]
    assert default["ranked_by"] == ["learned ranker"] and default["ms"]["p95"] > 0
    from bench.window_search import window_search_section

    assert "| default: learned ranker over fragment evidence |" in "\n".join(
        window_search_section(result)
    )


def test_ranker_benchmark_runs_small(tmp_path):
    out = tmp_path / "ranker.json"
    args = ["--queries", "40", "--spectra", "4000", "--library", "10000", "--output", str(out)]
    run("ranker", *args)
    result = json.loads(out.read_text())
    assert result["fit_windows"] > 0 and result["test_windows"] > 0
    assert result["ranker"]["model_name"] == "molvis-base"
    assert (tmp_path / "ranker_reliability.png").exists()
    from bench.ranker import ranker_section

    page = "\n".join(ranker_section(result))
    assert "| learned |" in page and "| spectrum-blind (same ranker) |" in page


def test_forward_model_benchmark_runs_small(tmp_path):
    out = tmp_path / "forward_model.json"
    run(
        "forward_model", "--spectra", "600", "--max-spectra", "40", "--epochs", "1",
        "--max-test", "15", "--output", str(out),
    )  # fmt: skip
    result = json.loads(out.read_text())
    assert result["metrics"]["train_spectra"] <= 40 and len(result["metrics"]["history"]) == 1
    assert 0 <= result["metrics"]["test"]["all"]["median"] <= 1
    assert (tmp_path / "forward_model.pt").exists()
    from bench.forward_model import forward_model_section

    assert "| all |" in "\n".join(forward_model_section(result))


def test_library_scale_runs_small(tmp_path):
    out = tmp_path / "library_scale.json"
    run(
        "library_scale", "--limit", "400", "--sizes", "1000", "--queries", "5", "--output", str(out)
    )
    result = json.loads(out.read_text())
    assert [r["spectra"] for r in result["rows"]] == [400, 1000]
    assert all(r["search_ms"]["p95"] > 0 < r["ms_entropy_ms"]["p95"] for r in result["rows"])


def test_embed_benchmark_runs_small(engine, tmp_path, tiny_checkpoint):
    out = tmp_path / "embed.json"
    run(
        "embed",
        "--sizes",
        "100",
        "--batch-sizes",
        "64",
        "--workers",
        "0",
        "1",
        "--checkpoint",
        str(tiny_checkpoint),
        "--output",
        str(out),
    )
    rows = json.loads(out.read_text())["rows"]
    assert [r["workers"] for r in rows] == [0, 1]
    assert all(r["n"] == 100 and r["per_s"] > 0 and r["peak_rss_mb"] > 0 for r in rows)


def test_ccs_benchmark_runs_small(engine, tmp_path):
    out = tmp_path / "ccs.json"
    run("ccs", "--sizes", "60", "--batch-size", "16", "--output", str(out))
    (row,) = json.loads(out.read_text())["rows"]
    assert row["n"] == 60 and row["predictions"] == 60 * row["adducts"] == 60 * 7
    assert row["bare_per_s"] > 0 and row["backfill_per_s"] > 0
    run("ccs", "--sizes", "60", "--adducts", "all", "--output", str(out))
    (row,) = json.loads(out.read_text())["rows"]
    assert row["adducts"] > 7 and row["predictions"] <= 60 * row["adducts"]


def test_fingerprint_lever_runs_small(engine, seed_registry, tmp_path):
    seed_registry(massbank=200, model="random")
    with session_scope(engine) as session:
        keys = [k for (k,) in session.execute(text("SELECT inchikey FROM compound ORDER BY id"))]
        path = session.execute(text("SELECT path FROM model WHERE name = 'ui-model'")).scalar()
    checkpoint = read_checkpoint(path)
    half, three = len(keys) // 2, 3 * len(keys) // 4
    checkpoint["split"] = {"train": keys[:half], "val": keys[half:three], "test": keys[three:]}
    save_checkpoint(checkpoint, Path(path))
    out = tmp_path / "lever.json"
    run("fingerprint_lever", "--model", "ui-model", "--epochs", "1", "--output", str(out))
    result = json.loads(out.read_text())
    assert result["alpha"] in (0.0, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0)
    assert result["test_windows_10_plus"]["cosine"]["n_queries"] >= 0


def test_accuracy_benchmark_runs_small(engine, tmp_path, tiny_checkpoint):
    mgf = first_mgf_blocks(shared("massbank", "massbank_ms2.mgf.gz"), 300)
    ingest(engine, "msms", write(tmp_path, "mb.mgf", mgf), "massbank")
    with session_scope(engine) as session:
        keys = [
            k
            for (k,) in session.execute(
                text("SELECT inchikey FROM compound ORDER BY inchikey LIMIT 10")
            )
        ]
    checkpoint = read_checkpoint(tiny_checkpoint)
    checkpoint["split"]["test"] = keys
    save_checkpoint(checkpoint, tiny_checkpoint)
    with session_scope(engine) as session:
        register_model(
            session,
            "tiny",
            checkpoint["version"],
            str(tiny_checkpoint),
            checkpoint["config"],
            {},
            True,
        )
    out = tmp_path / "accuracy.json"
    run("accuracy", "--max-queries", "20", "--output", str(out))
    report = json.loads(out.read_text())
    assert report["model"] == "tiny" and report["results"][0]["query"] == "msms"


def test_library_benchmark_runs_small(engine, seed_registry, tmp_path):
    ingest(engine, "msms", REPO / "tests" / "data" / "gnps_pesticides_3.mgf", "gnps")
    seed_registry(model="random")
    out = tmp_path / "library.json"
    run("library", "--queries", "3", "--batch", "3", "--output", str(out))
    result = json.loads(out.read_text())
    assert result["search"]["queries"] == 3 and result["search"]["spectra_indexed"] == 3
    assert result["batch"]["queries"] == 3 and result["batch"]["seconds"] > 0


def test_device_benchmark_round_trips_the_registry_and_runs_small(engine, seed_registry, tmp_path):
    """The exported training set reads back as the registry reader gives it; `run` on the CPU."""
    from bench.device import read_training_set
    from registry.read.training_data import load_training_set

    seed_registry(massbank=300, ccs_rows=200)
    inputs = tmp_path / "inputs"
    run("device", "export", "--out", str(inputs), "--compounds", "80", "--smiles", "30")
    with session_scope(engine) as session:
        stored = load_training_set(session, limit_compounds=80)
    read = read_training_set(inputs / "training.npz")
    assert read.compounds == stored.compounds
    assert len(read.msms) == len(stored.msms) > 0 and len(read.ccs) == len(stored.ccs) > 0
    for mine, theirs in zip(read.msms, stored.msms, strict=True):
        assert (mine.compound, mine.adduct, mine.precursor_mz) == (
            theirs.compound,
            theirs.adduct,
            theirs.precursor_mz,
        )
        assert np.allclose(mine.mz, theirs.mz, rtol=1e-6) and np.allclose(
            mine.intensity, theirs.intensity, rtol=1e-6
        )
    assert [(c.compound, c.ccs, c.mz, c.adduct) for c in read.ccs] == [
        (c.compound, c.ccs, c.mz, c.adduct) for c in stored.ccs
    ]
    out = tmp_path / "device.json"
    tiny = str(REPO / "models" / "configs" / "tiny.yaml")
    args = ["--devices", "cpu", "--smiles", "30", "--passes", "2", "--epochs", "1"]
    run("device", "run", "--inputs", str(inputs), *args, "--configs", tiny, "--output", str(out))
    result = json.loads(out.read_text())
    (backfill,) = result["backfill"]
    assert backfill["molecules"] == 60 and backfill["per_s"] > 0
    (training,) = result["training"]
    assert training["config"] == "tiny.yaml" and len(training["epoch_seconds"]) == 1


@pytest.mark.parametrize(
    "module",
    [
        "device",
        "ingest",
        "fingerprints",
        "embed",
        "query",
        "accuracy",
        "profile",
        "library",
        "ccs",
        "fingerprint_lever",
        "index_sweep",
        "library_load",
        "library_scale",
        "fragments",
        "forward_model",
        "ranker",
    ],
)
def test_every_benchmark_has_help(module):
    assert "usage" in run(module, "--help").stdout


def test_recall_counts_ties_at_the_cut_as_found():
    from bench.query import recall_at

    scores = np.array([0.9, 0.8, 0.8, 0.1])
    assert recall_at(2, scores, {0, 2}) == 1.0  # 2 ties with 1 at the cut
    assert recall_at(2, scores, {0, 3}) == 0.5


@pytest.mark.parametrize("pipeline", ["ingest", "embed"])
def test_profile_prints_the_costliest_functions(engine, pipeline):
    out = run("profile", pipeline, "--n", "40", "--top", "5").stdout
    assert f"{pipeline}: " in out and "per second under the profiler" in out
    assert "ncalls" in out


def test_ranker_benchmark_measured_only_3_plus_set():
    """The ranker benchmark's `measured_only 3+` set: the measured rows of a window holding at
    least three of them (random top-1 at most a third), absent below three."""
    from bench.ranker import Scored, subsets
    from models.candidate_sets import MEASURED_SET

    def scored(measured):
        n = len(measured)
        return Scored(
            "K", ["K"] * n, np.zeros((n, 1)), 0, np.array(measured), ["X"] * n,
            np.zeros(n, bool), True, False, 0.0,
        )  # fmt: skip

    sets = subsets(scored([True, False, True, True]))
    assert sets[MEASURED_SET].tolist() == [0, 2, 3] == sets["measured_only"].tolist()
    assert MEASURED_SET not in subsets(scored([True, False, True, False]))


def test_ccs_graph_lever_runs_small(engine, seed_registry, tmp_path):
    seed_registry(ccs_rows=400)
    out = tmp_path / "ccs_graph.json"
    run("ccs_graph_lever", "--epochs", "1", "--output", str(out))
    result = json.loads(out.read_text())
    assert result["ions"]["train"] > 0 and len(result["history"]) == 1
    by_weight = result["val_median_by_weight"]  # validation chooses the graph's share
    assert by_weight[str(result["weight"])] == min(by_weight.values())
    test = result["test"]
    assert test["shipped"]["all"]["n"] == test["averaged"]["all"]["n"] == result["ions"]["test"]
    assert result["cost"]["with_graph_ms"] > result["cost"]["shipped_ms"] > 0


@pytest.mark.parametrize("structure_only", [False, True])
def test_ccs_trees_lever_runs_small(engine, seed_registry, tmp_path, structure_only):
    seed_registry(ccs_rows=400)
    out = tmp_path / "ccs_trees.json"
    flags = ["--structure-only"] if structure_only else []
    run("ccs_trees_lever", "--trees", "5", *flags, "--output", str(out))
    result = json.loads(out.read_text())
    assert result["ions"]["train"] > 0 and result["structure_only"] is structure_only
    by_weight = result["val_median_by_weight"]  # validation chooses the trees' share
    assert by_weight[str(result["weight"])] == min(by_weight.values())
    test = result["test"]
    assert test["shipped"]["all"]["n"] == test["trees"]["all"]["n"] == result["ions"]["test"]
    assert test["trees"]["all"] != test["shipped"]["all"]  # the trees' own predictions
    assert result["cost"]["trees_ms"] > 0 and result["cost"]["shipped_ms"] > 0


def test_ccs_trees_lever_columns_with_and_without_the_ion():
    """The trees read each ion's structure columns (as the shipped predictor reads them),
    then its ion columns unless structure-only; the shared report's data is the shipped
    predictor's."""
    from bench.ccs_trees_lever import columns
    from models.ccs import featurize
    from molvis.workflows.ccs_prediction import load_shipped, measured_ions
    from registry.learned.ccs_predictions import MeasuredCcs, StructureRow

    model = load_shipped()
    caffeine = StructureRow(
        1, "RYYVLZVUVIJVGH-UHFFFAOYSA-N", "Cn1c(=O)c2c(ncn2C)n(C)c1=O", "", "C8H10N4O2", 194.080376
    )
    rows = [
        MeasuredCcs(caffeine, a, "DT", c, ["x"]) for a, c in (("[M+H]+", 138.0), ("[M+Na]+", 148.0))
    ]
    with_ion, data = columns(model, rows, structure_only=False)
    alone, _ = columns(model, rows, structure_only=True)
    assert with_ion.shape[0] == alone.shape[0] == 2
    assert (alone[0] == alone[1]).all() and not (with_ion[0] == with_ion[1]).all()
    assert (with_ion[:, : alone.shape[1]] == alone).all() and with_ion.shape[1] > alone.shape[1]
    assert data["ccs"].tolist() == [138.0, 148.0] and data["dt_unknown"].all()
    inputs = featurize(measured_ions(rows), model.config)
    assert np.allclose(np.exp(data["shipped"]), model.predict(inputs))
    assert np.allclose(data["base"], model.baseline(inputs).detach().numpy())
    standardised = model.standardised(inputs.structure)[inputs.row].detach().numpy()
    assert np.allclose(alone, standardised)


def test_ccs_levers_average_in_log_space_and_validation_picks_the_share():
    """A lever averaged with the shipped predictor in log space (the geometric mean of the two
    CCS), reported over all ions and the drift-tube + unknown ones; the share with the lowest
    validation median is the one chosen."""
    from bench.ccs_levers import chosen_share, errors

    d = {
        "ccs": np.array([100.0, 200.0, 300.0]),
        "shipped": np.log([110.0, 180.0, 300.0]),
        "dt_unknown": np.array([True, False, True]),
    }
    lever = np.log([100.0 * 100 / 110, 200.0, 330.0])
    half = errors(d, lever, 0.5)  # sqrt(110 * 90.9) = 100; sqrt(180 * 200); sqrt(300 * 330)
    expected = [0.0, 100 * (1 - np.sqrt(180 * 200) / 200), 100 * (np.sqrt(300 * 330) / 300 - 1)]
    assert half["all"]["median_pct"] == round(float(np.median(expected)), 3)
    assert half["dt_unknown"]["n"] == 2 and half["all"]["n"] == 3
    assert errors(d, lever, 0.0)["all"]["median_pct"] == 10.0  # the shipped alone: 10, 10, 0 %
    by_weight, weight = chosen_share(d, np.log([100.0, 200.0, 300.0]))  # a perfect lever
    assert weight == 1.0 and by_weight[1.0] == 0.0 and by_weight[0.0] > 0
