"""`molvis ccs train` on a small registry: the predictor is saved, registered with the
tolerance its validation errors imply, activated, and reports held-out errors."""

import json

from models.ccs import load_predictor
from registry.db.connection import session_scope
from registry.learned.ccs_predictions import get_predictor
from tests.conftest import molvis


def test_ccs_train_registers_an_active_predictor_with_its_errors(seed_registry, engine, tmp_path):
    seed_registry(ccs_rows=600)
    out = tmp_path / "small.pt"
    done = molvis(
        "ccs", "train", "--name", "small", "--epochs", "2", "--output", str(out), "--json"
    )
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    metrics = summary["metrics"]
    assert metrics["train_rows"] > metrics["val_rows"] > 0 and len(metrics["history"]) == 2
    assert metrics["test"]["n"] > 0 and metrics["test_mz_baseline"]["n"] == metrics["test"]["n"]
    with session_scope(engine) as session:
        info = get_predictor(session)
    assert (
        info.name == "small" and info.is_active and info.tolerance_pct == summary["tolerance_pct"]
    )
    # the window is the validation p95 error in percent, rounded up to 0.1 %
    assert metrics["val_p95_pct"] <= info.tolerance_pct <= metrics["val_p95_pct"] + 0.1
    assert metrics["val_p95_pct"] > 0.5  # a percentage: two epochs are not within 0.5 %
    model, saved = load_predictor(out)
    assert saved["version"] == summary["version"] == info.version


def test_ccs_train_without_measured_ccs_says_what_to_ingest(engine):
    done = molvis("ccs", "train", "--json")
    assert done.returncode == 2
    assert "ingest a CCS table first" in json.loads(done.stdout)["error"]
