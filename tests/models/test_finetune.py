"""Candidate-aware fine-tuning on a tiny slice: the loss falls, only the MS/MS encoder (and the
temperature) changes, decoys are drawn half from measured compounds."""

import random

import numpy as np
import torch

from models.checkpoint import load_checkpoint, make_checkpoint, save_checkpoint
from models.config import load_config
from models.featurize import collate_spectra, spectrum_tensor
from models.finetune import FinetuneConfig, WindowItem, _decoys, finetune, with_neutral_losses
from models.model import MultiModalModel
from tests.conftest import REPO


def test_finetune_lowers_the_loss_and_touches_only_the_msms_encoder():
    torch.manual_seed(0)
    config = load_config(REPO / "models" / "configs" / "tiny.yaml")
    model = MultiModalModel(config)
    rng = np.random.default_rng(0)
    vectors = torch.tensor(rng.normal(size=(24, config.embed_dim)), dtype=torch.float32)
    items = []
    for n in range(24):
        mz = np.sort(rng.uniform(50, 300, 8))
        spectrum = spectrum_tensor(
            mz,
            rng.uniform(1, 100, 8),
            310.0,
            "[M+H]+",
            "positive",
            None,
            None,
            config.msms.max_peaks,
            config.msms.remove_precursor_peaks,
        )
        others = [m for m in range(24) if m != n]
        items.append(WindowItem(spectrum, n, others[:6], others[6:]))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    history = finetune(
        model,
        items,
        vectors,
        FinetuneConfig(decoys=5, epochs=6, lr=1e-3, batch_size=8),
        show_progress=False,
    )
    assert history[-1]["loss"] < history[0]["loss"]
    after = model.state_dict()
    changed = {k for k in after if not torch.equal(after[k], before[k])}
    assert changed and all(k.startswith("encoders.msms.") or k == "log_scale" for k in changed)
    assert {k: p.requires_grad for k, p in model.named_parameters()} == {
        k: p.requires_grad for k, p in MultiModalModel(config).named_parameters()
    }


def test_decoys_are_half_measured_and_padded():
    item = WindowItem(None, 0, measured=[1, 2, 3, 4, 5, 6], library=[7, 8, 9, 10, 11, 12])
    chosen = _decoys(item, 6, 100, random.Random(0))
    assert len(chosen) == 6 and len(set(chosen)) == 6 and 0 not in chosen
    assert sum(c <= 6 for c in chosen) == 3  # three measured, three library
    few = WindowItem(None, 0, measured=[1], library=[])
    padded = _decoys(few, 4, 50, random.Random(0))
    assert len(padded) == 4 and 1 in padded and 0 not in padded


def test_neutral_loss_tokens_extend_the_base_and_round_trip(tmp_path):
    torch.manual_seed(0)
    config = load_config(REPO / "models" / "configs" / "tiny.yaml")
    base = MultiModalModel(config).eval()
    grown = with_neutral_losses(base).eval()
    assert grown.config.msms.neutral_losses and not base.config.msms.neutral_losses
    spectrum = spectrum_tensor(
        np.array([91.05, 119.05, 150.1]),
        np.array([100.0, 40.0, 5.0]),
        180.1,
        "[M+H]+",
        "positive",
        None,
        None,
        config.msms.max_peaks,
        config.msms.remove_precursor_peaks,
    )
    batch = collate_spectra([spectrum, spectrum])
    with torch.no_grad():
        before, after = base.embed("msms", batch), grown.embed("msms", batch)
    assert after.shape == before.shape and not torch.allclose(after, before)  # losses are read
    shared = {k for k in base.state_dict() if k != "encoders.msms.loss_flag"}
    assert all(torch.equal(base.state_dict()[k], grown.state_dict()[k]) for k in shared)
    path = save_checkpoint(
        make_checkpoint(grown, {"train": [], "val": [], "test": []}, {}), tmp_path / "nl.pt"
    )
    again, _ = load_checkpoint(path)
    assert again.config.msms.neutral_losses
    with torch.no_grad():
        assert torch.allclose(again.embed("msms", batch), after, atol=1e-6)
