"""`molvis ccs train` on a small registry: the predictor is saved, registered with the
tolerance its validation errors imply, activated, and reports held-out errors; it knows the
adducts with enough training ions. `molvis ccs predict` on a fresh install needs no registry."""

import json
import os
import subprocess
import sys
import uuid
from collections import Counter

from sqlalchemy import make_url

from models.ccs import load_predictor
from models.ccs_adducts import adduct_key
from registry.db.connection import session_scope
from registry.learned.ccs_predictions import get_predictor, measured_for_training
from tests.builders import write
from tests.conftest import _maintenance, molvis


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
    # every adduct with 20 training ions is known, no other; the interval was calibrated
    from models.data import SPLIT_SEED, split_of

    with session_scope(engine) as session:
        rows = measured_for_training(session)
    train = Counter(
        adduct_key(r.adduct) for r in rows if split_of(r.structure.inchikey, SPLIT_SEED) == "train"
    )
    assert {adduct_key(a) for a in model.config.adducts} == {k for k, n in train.items() if n >= 20}
    assert metrics["adducts"] == len(model.config.adducts) and "interval_floor_pct" in metrics
    assert 0 <= metrics["test"]["interval_coverage"] <= 1 and "test_new_scaffold" in metrics


def test_ccs_train_without_measured_ccs_says_what_to_ingest(engine):
    done = molvis("ccs", "train", "--json")
    assert done.returncode == 2
    assert "ingest a CCS table first" in json.loads(done.stdout)["error"]


def test_ccs_predict_on_a_fresh_install_needs_no_registry(migrated_engine, tmp_path):
    """A database without molvis's schema: SMILES rows are predicted by the shipped predictor
    with their uncertainty; an InChIKey row says it needs the registry; --predictor NAME too."""
    url = make_url(migrated_engine.url.render_as_string(hide_password=False))
    fresh = url.set(database=f"molvis_fresh_{uuid.uuid4().hex[:8]}")
    with _maintenance(str(url.render_as_string(hide_password=False))) as conn:
        conn.execute(f'CREATE DATABASE "{fresh.database}"')
    table = write(
        tmp_path,
        "ions.csv",
        "smiles,inchikey,adduct\nCn1cnc2c1c(=O)n(C)c(=O)n2C,,[M+H]+\n,RYYVLZVUVIJVGH-UHFFFAOYSA-N,[M+H]+\n",
    )
    env = os.environ | {"MOLVIS_DATABASE_URL": fresh.render_as_string(hide_password=False)}

    def run(*args: str) -> subprocess.CompletedProcess:
        command = [sys.executable, "-m", "molvis", "ccs", "predict", str(table), "--json", *args]
        return subprocess.run(command, capture_output=True, text=True, timeout=300, env=env)

    try:
        done = run()
        assert done.returncode == 0, done.stderr
        smiles, key = json.loads(done.stdout)
        assert 130 < smiles["ccs"] < 155 and 0.5 < smiles["uncertainty_pct"] < 20
        assert key["ccs"] is None and "needs the registry" in key["reason"]
        assert key["reason"].startswith("ions.csv line 3: InChIKey")
        named = run("--predictor", "mine")
        assert named.returncode == 2 and "no registry yet" in json.loads(named.stdout)["error"]
    finally:
        with _maintenance(str(url.render_as_string(hide_password=False))) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{fresh.database}" WITH (FORCE)')
