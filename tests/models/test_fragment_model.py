"""The MS/MS forward model: its targets, that training lowers its loss, its predicted spectrum's
shape, and its checkpoint (hyperparameters + weights, read weights-only)."""

import numpy as np
import pytest
import torch

from models.fragment_model import (
    FEATURES,
    FragmentConfig,
    collision_energy,
    examples,
    load_model,
    predict_spectrum,
    save_model,
    train_model,
)
from registry.chem.explain import candidate_ions
from registry.chem.fragmenter import FragmentIons

CAFFEINE = "CN1C=NC2=C1C(=O)N(C(=O)N2C)C"
PRECURSOR = 195.087652
PEAKS = (np.array([110.0713, 138.0662, PRECURSOR]), np.array([25.0, 100.0, 40.0]))


def test_collision_energy_reads_the_first_number():
    assert collision_energy("35 eV") == 35.0
    assert collision_energy("10(NCE)") == 10.0
    assert collision_energy("30% (nominal)") == 30.0
    assert collision_energy(20) == 20.0
    assert collision_energy(None) is None and collision_energy("ramp") is None
    assert collision_energy(float("nan")) is None


def test_an_ion_s_target_is_the_root_of_its_peak_s_relative_intensity():
    features, targets = examples(CAFFEINE, "[M+H]+", "35 eV", *PEAKS, PRECURSOR, 1)
    _, _, ions = candidate_ions(CAFFEINE, "[M+H]+", 1)
    assert features.shape == (len(ions.mz), len(FEATURES)) and len(targets) == len(ions.mz)
    at_138 = np.abs(ions.mz - 138.0662) < 0.005
    at_110 = np.abs(ions.mz - 110.0713) < 0.005
    assert (targets[at_138] == 1.0).all() and at_138.any()
    if at_110.any():  # 110 needs two steps: depth 1 may not make it
        assert targets[at_110] == pytest.approx(np.sqrt(25 / 100))
    assert (targets[~(at_138 | at_110)] == 0).all()


def _tiny_model(epochs: int = 300):
    features, targets = examples(CAFFEINE, "[M+H]+", "35 eV", *PEAKS, PRECURSOR, 2)
    config = FragmentConfig(hidden=16, epochs=epochs, batch_size=256, top_peaks=5)
    return train_model(features, targets, config)


def test_training_lowers_the_loss_and_the_prediction_finds_the_peak_it_learned():
    model, history = _tiny_model()
    assert history[-1] < history[0] / 2
    mz, intensity, formulas = predict_spectrum(model, CAFFEINE, "[M+H]+", "35 eV")
    assert 0 < len(mz) <= 5 and len(formulas) == len(mz) and np.all(np.diff(mz) > 0)
    assert intensity.max() == pytest.approx(1.0)
    learned = np.flatnonzero(np.abs(mz - 138.0662) < 0.005)
    assert len(learned) == 1 and formulas[learned[0]] == "C6H8N3O+"


def test_the_checkpoint_round_trips_weights_only_and_refuses_a_pickle(tmp_path):
    model, _ = _tiny_model(3)
    path = tmp_path / "forward.pt"
    version = save_model(model, {"note": "tiny"}, path)
    loaded, saved = load_model(path)
    assert saved["version"] == version and saved["metrics"] == {"note": "tiny"}
    assert loaded.config == model.config
    before = predict_spectrum(model, CAFFEINE, "[M+H]+")
    after = predict_spectrum(loaded, CAFFEINE, "[M+H]+")
    assert np.array_equal(before[0], after[0]) and np.allclose(before[1], after[1])
    evil = tmp_path / "evil.pt"
    torch.save({"kind": "fragment-model", "payload": FragmentIons}, evil)  # a class: code
    with pytest.raises(ValueError, match="not a molvis forward model"):
        load_model(evil)
    torch.save({"kind": "ccs-predictor", "config": {}, "state_dict": {}}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not a molvis forward model"):
        load_model(tmp_path / "other.pt")
