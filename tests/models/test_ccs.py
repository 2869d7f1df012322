"""The CCS predictor on a tiny slice: the power-law baseline is fitted, training lowers the
error below it, the model round-trips through its file, bad inputs name themselves."""

import numpy as np
import pytest
import torch

from models.ccs import (
    ADDUCTS,
    CcsConfig,
    CcsInputError,
    Ion,
    featurize,
    load_predictor,
    save_predictor,
)
from models.ccs_train import baseline_predictions, relative_errors, train_predictor
from registry.chem import fingerprint_bits, identify

SMILES = [
    "CCCCCCCCCCCCCCCC(=O)O",
    "CCCCCCCCC=CCCCCCCCC(=O)O",
    "c1ccc2ccccc2c1",
    "c1ccc2cc3ccccc3cc2c1",
    "OC1C(O)C(O)C(O)C(O)C1O",
    "Cn1cnc2c1c(=O)n(C)c(=O)n2C",
    "CC(C)Cc1ccc(C(C)C(=O)O)cc1",
    "OC(=O)C(F)(F)C(F)(F)C(F)(F)C(F)(F)C(F)(F)C(F)(F)C(F)(F)F",
    "NC(Cc1ccccc1)C(=O)O",
    "NC(Cc1c[nH]c2ccccc12)C(=O)O",
    "CC12CCC3c4ccc(O)cc4CCC3C1CCC2O",
    "CCN(CC)CC",
]


def ions(adduct="[M+H]+", method="DT"):
    out = []
    for smi in SMILES:
        identity = identify(smi)
        out.append(
            Ion(
                fingerprint_bits(identity.smiles),
                identity.formula,
                identity.monoisotopic_mass,
                adduct,
                method,
            )
        )
    return out


def synthetic_ccs(items):
    """A CCS that depends on m/z and on structure (fluorine makes ions denser)."""
    feats = featurize(items, CcsConfig())
    mz = np.exp(feats.log_mz.numpy())
    fluorine = np.array([it.formula.count("F") for it in items], dtype=float)
    return 40 * mz**0.33 * (1 - 0.015 * (fluorine > 0))


def test_training_beats_the_mz_baseline_and_the_file_round_trips(tmp_path):
    items = ions() + ions("[M+Na]+")
    ccs = synthetic_ccs(items) * np.r_[np.ones(len(SMILES)), 1.05 * np.ones(len(SMILES))]
    rng = np.random.default_rng(0)
    ccs = ccs * (1 + 0.03 * rng.standard_normal(len(ccs)))  # what m/z alone cannot explain
    config = CcsConfig(
        hidden=64, layers=1, epochs=150, lr=3e-3, batch_size=8, dropout=0.0, members=2
    )
    inputs = featurize(items, config)
    model, history = train_predictor((inputs, ccs), (inputs, ccs), config)
    assert history[-1]["train_l1_log"] < history[0]["train_l1_log"]
    trained = np.median(relative_errors(model.predict(inputs), ccs))
    baseline = np.median(relative_errors(baseline_predictions(model, inputs), ccs))
    assert trained < baseline / 2
    path = tmp_path / "ccs.pt"
    version = save_predictor(model, {"note": "test"}, path)
    again, saved = load_predictor(path)
    assert saved["version"] == version and saved["metrics"] == {"note": "test"}
    assert len(inputs.structure) == len(SMILES)  # one structure row for both adducts
    assert np.allclose(again.predict(inputs), model.predict(inputs))


def test_the_method_is_an_input():
    dt, tw = (
        featurize(ions(method="DT")[:1], CcsConfig()),
        featurize(ions(method="TW")[:1], CcsConfig()),
    )
    assert not torch.equal(dt.ion, tw.ion) and torch.equal(dt.structure, tw.structure)
    odd = featurize(ions(method="something else")[:1], CcsConfig())
    assert odd.ion[0, -1] == 1.0  # "unknown" is the last method column


def test_unknown_adducts_and_missing_fingerprints_are_named():
    item = ions()[0]
    with pytest.raises(CcsInputError, match=r"adduct \[M\+Li\]\+ is not one"):
        featurize([Ion(item.fingerprint, item.formula, item.mass, "[M+Li]+")], CcsConfig())
    with pytest.raises(CcsInputError, match="fingerprint"):
        featurize([Ion("01", item.formula, item.mass, "[M+H]+")], CcsConfig())
    with pytest.raises(CcsInputError, match="below the predictor's range"):
        featurize([Ion(item.fingerprint, "CH4O", 32.03, "[M+H-H2O]+")], CcsConfig())
    assert set(ADDUCTS) >= {"[M+H]+", "[M+Na]+", "[M-H]-", "[M+FA-H]-"}


def test_a_file_that_is_not_a_predictor_or_would_run_code_is_refused(tmp_path):
    from tests.models.test_models import _Payload

    path = tmp_path / "other.pt"
    torch.save({"kind": "something"}, path)
    with pytest.raises(CcsInputError, match="not a molvis CCS predictor"):
        load_predictor(path)
    marker = tmp_path / "pwned"
    torch.save({"kind": "ccs-predictor", "config": {}, "x": _Payload(marker)}, path)
    with pytest.raises(CcsInputError, match="not a molvis CCS predictor"):
        load_predictor(path)
    assert not marker.exists()


def test_errors_are_percent_and_the_search_window_rounds_them_up():
    from models.ccs_train import error_summary
    from molvis.workflows.ccs_prediction import search_tolerance

    errors = relative_errors(np.array([105.0, 98.0, 100.0]), np.array([100.0, 100.0, 100.0]))
    assert errors.tolist() == pytest.approx([5.0, 2.0, 0.0])  # percent, not fractions
    summary = error_summary(np.array([1.0, 2.0, 3.0, 4.0]))
    assert summary["median_pct"] == 2.5 and summary["p95_pct"] == pytest.approx(3.85)
    assert summary["within_3pct"] == 0.75  # 3 % itself counts as within
    # the predicted-CCS window: the p95 error in %, rounded up to 0.1 %, never down
    assert search_tolerance(2.31) == 2.4 and search_tolerance(2.3) == 2.3
    assert search_tolerance(0.04) == 0.1 and search_tolerance(3.0) == 3.0
