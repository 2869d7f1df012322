import math

import numpy as np
import pytest
import torch

from models.checkpoint import load_checkpoint, make_checkpoint, save_checkpoint
from models.config import TrainConfig, config_from_dict, load_config
from models.data import split_of
from models.encoders.msms import sinusoidal_mz
from models.evaluate import random_top_k, rank_of_truth, top_k_accuracy
from models.featurize import (
    collate_ccs,
    collate_spectra,
    collision_energy_value,
    spectrum_tensor,
)
from models.model import MultiModalModel
from models.molgraph import batch, featurize
from tests.conftest import REPO

TINY = load_config(REPO / "models" / "configs" / "tiny.yaml")


def spectra(n: int):
    rng = np.random.default_rng(0)
    return collate_spectra(
        [
            spectrum_tensor(
                np.sort(rng.uniform(50, 300, 10 + i)),
                rng.uniform(1, 100, 10 + i),
                310.0,
                "[M+H]+",
                "positive",
                "LC-ESI-QTOF",
                "35 eV",
                64,
                False,
            )
            for i in range(n)
        ]
    )


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return MultiModalModel(TINY).eval()


def test_every_encoder_gives_unit_vectors_of_the_shared_size(model):
    d = TINY.embed_dim
    graphs = batch([featurize(s) for s in ("CCO", "c1ccccc1O", "[Na+].[Cl-]")])
    outputs = {
        "structure": model.embed("structure", graphs),
        "msms": model.embed("msms", spectra(3)),
        "ir": model.embed("ir", torch.rand(3, 825)),
        "ccs": model.embed(
            "ccs",
            collate_ccs([(150.0, 200.0, "[M+H]+"), (180.0, None, "x"), (130.0, 90.0, "[M-H]-")]),
        ),
    }
    for name, out in outputs.items():
        assert out.shape == (3, d), name
        assert torch.allclose(out.norm(dim=1), torch.ones(3), atol=1e-5), name


def test_sinusoidal_embedding_by_hand():
    out = sinusoidal_mz(torch.tensor([100.0]), dim=4, lambda_min=0.1, lambda_max=1000.0)
    # i=0: wavelength 0.1; i=1: 0.1 * (1e4)^(2/2) = 1000
    expected = [
        math.sin(2 * math.pi * 1000),
        math.cos(2 * math.pi * 1000),
        math.sin(2 * math.pi * 0.1),
        math.cos(2 * math.pi * 0.1),
    ]
    assert out[0].tolist() == pytest.approx(expected, abs=1e-5)


def test_spectrum_tensor_keeps_the_most_intense_peaks():
    mz = np.array([50.0, 60.0, 70.0, 80.0, 200.0])
    intensity = np.array([1.0, 100.0, 5.0, 50.0, 80.0])
    t = spectrum_tensor(mz, intensity, 190.0, None, None, None, "10(NCE)", 3, False)
    assert t.n_peaks == 3 and t.peaks[:3, 0].tolist() == [60.0, 80.0, 200.0]
    assert t.peaks[0, 1] == pytest.approx(1.0) and t.collision_energy == 10.0
    cut = spectrum_tensor(mz, intensity, 190.0, "[M+H]+", None, None, None, 3, True)
    assert cut.peaks[:3, 0].tolist() == [60.0, 70.0, 80.0] and cut.ion_mode == 0
    assert math.isnan(collision_energy_value(None))


def test_padding_does_not_change_embeddings(model):
    batch = spectra(2)
    alone = model.embed("msms", {k: v[:1] for k, v in batch.items()})
    assert torch.allclose(model.embed("msms", batch)[:1], alone, atol=1e-5)


def test_split_is_deterministic_by_skeleton():
    keys = [
        f"{i:014d}".replace("0", "A").replace("1", "B")[:14] + "-UHFFFAOYSA-N" for i in range(2000)
    ]
    splits = [split_of(k, 0) for k in keys]
    assert splits == [split_of(k, 0) for k in keys]
    assert split_of("RYYVLZVUVIJVGH-UHFFFAOYSA-N", 0) == split_of("RYYVLZVUVIJVGH-XXXXXXXXXX-N", 0)
    share = {s: splits.count(s) / len(splits) for s in ("train", "val", "test")}
    assert share["train"] == pytest.approx(0.70, abs=0.04)
    assert share["test"] == pytest.approx(0.15, abs=0.03)
    assert [split_of(k, 1) for k in keys] != splits


def test_ranking_on_a_constructed_case():
    scores = np.array([[0.9, 0.1, 0.5], [0.2, 0.3, 0.8], [0.5, 0.5, 0.1]])
    truth = np.array([0, 0, 1])
    assert [rank_of_truth(s, t) for s, t in zip(scores, truth, strict=True)] == [1, 3, 2]
    assert top_k_accuracy(scores, truth, ks=(1, 2, 3)) == pytest.approx([1 / 3, 2 / 3, 1.0])
    assert random_top_k(np.array([4, 10]), np.array([True, True]), 1) == pytest.approx(0.175)
    assert random_top_k(np.array([4, 10]), np.array([True, False]), 5) == pytest.approx(0.5)


def test_checkpoint_round_trip(tmp_path, model):
    checkpoint = make_checkpoint(model, {"train": ["A"], "val": [], "test": ["B"]}, {"x": 1})
    path = save_checkpoint(checkpoint, tmp_path / "m.pt")
    loaded, meta = load_checkpoint(path)
    assert meta["version"] == checkpoint["version"] and meta["split"]["test"] == ["B"]
    graphs = batch([featurize("CCO"), featurize("CCN")])
    assert torch.allclose(loaded.embed("structure", graphs), model.embed("structure", graphs))
    assert torch.allclose(loaded.embed("msms", spectra(2)), model.embed("msms", spectra(2)))


def test_config_refuses_unknown_keys():
    with pytest.raises(ValueError, match="unknown TrainConfig keys: epoch"):
        config_from_dict({"epoch": 3})
    with pytest.raises(ValueError, match="loss 'mse'"):
        config_from_dict({"loss": "mse"})
    assert config_from_dict({"msms": {"d_model": 32}}).msms.d_model == 32
    assert isinstance(config_from_dict({}), TrainConfig)


class _Payload:
    """Unpickling this runs a shell command: the checkpoint reader must never do it."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        import os

        return (os.system, (f"touch {self.marker}",))


def test_a_checkpoint_that_would_run_code_is_refused(tmp_path):
    from models.checkpoint import CheckpointError, read_checkpoint

    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pt"
    torch.save({"config": {}, "state_dict": {}, "x": _Payload(marker)}, path)
    with pytest.raises(CheckpointError, match="not a molvis checkpoint of plain weights"):
        read_checkpoint(path)
    assert not marker.exists()
    torch.save({"weights": torch.zeros(2)}, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="no config and state_dict"):
        read_checkpoint(tmp_path / "other.pt")


def test_evaluation_embeds_with_the_models_own_encoders(model):
    from models.embed import embed_inputs, embed_smiles
    from models.evaluate import model_embedder

    device = torch.device("cpu")
    embedder = model_embedder(model, device)
    assert embedder.dim == TINY.embed_dim
    items = [(138.2, 195.08, "[M+H]+"), (150.0, None, "[M+Na]+")]
    expected = embed_inputs(model, "ccs", items, device)
    np.testing.assert_allclose(embedder.queries("ccs", items), expected, atol=1e-6)
    assert not np.allclose(embedder.queries("ccs", items[:1]), embedder.queries("ccs", items[1:]))
    ok, vectors = embedder.structures(["CCO", "not a smiles", "c1ccccc1"])
    ok_ref, ref = embed_smiles(model, ["CCO", "not a smiles", "c1ccccc1"], device)
    assert list(ok) == list(ok_ref) == [True, False, True]
    np.testing.assert_allclose(vectors, ref, atol=1e-6)
    assert vectors.shape == (2, TINY.embed_dim)


def test_random_expectation_edge_cases():
    assert random_top_k(np.array([1, 1]), np.array([True, True]), 1) == 1.0  # one candidate
    assert random_top_k(np.array([0, 4]), np.array([False, True]), 1) == pytest.approx(0.125)
    assert random_top_k(np.array([]), np.array([]), 5) == 0.0
