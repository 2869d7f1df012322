import json

import pytest

from models.config import load_config
from models.train import train
from registry.db.connection import session_scope
from registry.read.training_data import load_training_set
from tests.conftest import REPO, molvis

RESULT_KEYS = {
    "query",
    "candidate_set",
    "n_queries",
    "mean_candidates",
    "top1",
    "top5",
    "top10",
    "top20",
    "random_top1",
    "random_top5",
    "random_top20",
}


@pytest.fixture
def training_registry(seed_registry):
    """1,500 MassBank spectra and 300 CCS rows to train on: the engine."""
    return seed_registry(massbank=1500, ccs_rows=300).engine


def test_two_epochs_lower_the_loss(training_registry):
    with session_scope(training_registry) as session:
        data = load_training_set(session)
    assert len(data.msms) > 1000 and len(data.ccs) > 200
    config = load_config(REPO / "models" / "configs" / "tiny.yaml")
    config.max_compounds = None
    result = train(data, config, show_progress=False)
    first, second = result.history
    assert second["train_loss"] < first["train_loss"]
    assert set(result.checkpoint["split"]) == {"train", "val", "test"}
    assert result.checkpoint["metrics"]["best_epoch"] in (1, 2)


@pytest.mark.slow
def test_train_evaluate_and_models_from_the_cli(training_registry, tmp_path):
    out = tmp_path / "tiny.pt"
    config = REPO / "models" / "configs" / "tiny.yaml"
    result = molvis("train", "--config", str(config), "--output", str(out), "--quiet")
    assert result.returncode == 0, result.stderr
    listed = molvis("models", "--json")
    names = {m["name"]: m for m in json.loads(listed.stdout)}
    assert "molvis-tiny" in names and not names["molvis-tiny"]["is_active"]
    assert molvis("models", "activate", "molvis-tiny").returncode == 0
    evaluated = molvis("evaluate", "--json", "--max-queries", "200", "--forward-spectra", "40")
    report = json.loads(evaluated.stdout)
    assert report["model"] == "molvis-tiny"
    # the shipped forward model on 40 test-split spectra, beside the average-spectrum baseline
    forward = report["forward_model"]
    assert forward["model"] == "molvis-fragments.pt" and forward["all"]["spectra"] == 40
    assert sum(r["spectra"] for r in forward["by_adduct"].values()) == 40
    assert sum(r["spectra"] for r in forward["by_energy"].values()) == 40
    assert 0 <= forward["all"]["median"] <= 1 and 0 <= forward["all"]["baseline_median"] <= 1
    combos = {(r["query"], r["candidate_set"]) for r in report["results"]}
    assert {("msms", "test_split"), ("msms", "mass_window")} <= combos
    for r in report["results"]:
        assert RESULT_KEYS <= set(r)
        assert all(0 <= r[k] <= 1 for k in RESULT_KEYS if k.startswith(("top", "random")))
    assert report["controls"][0]["control"] == "spectrum_blind"
    # the fragmenter ranks the same MS/MS queries' windows, beside the model's rows
    fragmenter = {r["candidate_set"]: r for r in report["candidate_sets"]
                  if r["query"] == "msms fragmenter"}  # fmt: skip
    model = {r["candidate_set"]: r for r in report["candidate_sets"] if r["query"] == "msms"}
    assert fragmenter["window"]["n_queries"] == model["window"]["n_queries"] > 0
    assert fragmenter["window"]["random_top1"] == model["window"]["random_top1"]
    assert 0 <= fragmenter["window"]["top1"] <= 1
    bad = molvis("models", "activate", "no-such-model")
    assert bad.returncode != 0 and "no model named" in bad.stderr
