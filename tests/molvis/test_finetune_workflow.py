"""`molvis finetune` end to end on a small registry: windows and frozen structure vectors read
from the registry, a new model registered whose structure encoder is the base's."""

import json

import pytest
import torch

from models.checkpoint import read_checkpoint
from molvis.workflows.model_loading import model_file
from registry.db.connection import session_scope
from registry.learned.versions import get_model
from tests.conftest import REPO, molvis


def test_finetune_registers_a_model_with_the_base_structure_encoder(seed_registry, engine):
    if not (REPO / "models" / "pretrained" / "molvis-base.pt").exists():
        pytest.skip("no shipped model")
    seed_registry(massbank=400, model="shipped")
    done = molvis(
        "finetune",
        "--base",
        "molvis-base",
        "--name",
        "tuned",
        "--epochs",
        "1",
        "--max-spectra",
        "64",
        "--decoys",
        "3",
        "--json",
    )
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["name"] == "tuned" and 0 < summary["spectra"] <= 64
    assert len(summary["history"]) == 1 and summary["history"][0]["loss"] > 0
    with session_scope(engine) as session:
        tuned, base = get_model(session, "tuned"), get_model(session, "molvis-base")
    assert not tuned.is_active and tuned.metrics["base"] == "molvis-base"
    new, old = read_checkpoint(model_file(tuned.path)), read_checkpoint(model_file(base.path))
    structure = [k for k in old["state_dict"] if k.startswith("encoders.structure.")]
    assert structure and all(
        torch.equal(new["state_dict"][k], old["state_dict"][k]) for k in structure
    )
    msms = [k for k in old["state_dict"] if k.startswith("encoders.msms.")]
    assert any(not torch.equal(new["state_dict"][k], old["state_dict"][k]) for k in msms)
