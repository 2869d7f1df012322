"""Candidate-aware fine-tuning (issue 13, lever 1): the MS/MS encoder learns to pick its own
structure among the structures of its mass window.

The structure vectors stay frozen (the base model's), so each step is a softmax over the truth
and K decoys from the spectrum's own window. Half the decoys come from measured compounds when
the window has them, so decoys are not separable by their source alone (JESTR adds same-mass
candidates as negatives; MSAlign trains on candidates only)."""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, replace

import torch
from torch.nn import functional as F
from tqdm import tqdm

from models.featurize import SpectrumTensor, collate_spectra
from models.model import MultiModalModel


@dataclass(frozen=True)
class FinetuneConfig:
    """Settings of one fine-tuning run."""

    decoys: int = 15
    epochs: int = 2
    lr: float = 5e-5
    batch_size: int = 32
    seed: int = 0
    max_spectra: int | None = None
    # False: decoys from measured compounds only, so a candidate library used to evaluate
    # (MOSES) is never seen in training and its source cannot be learned as a shortcut.
    library_decoys: bool = True
    # lever 3: the MS/MS encoder also reads each peak's neutral loss (a new input token type)
    neutral_losses: bool = False


def with_neutral_losses(model: MultiModalModel) -> MultiModalModel:
    """The same model with neutral-loss tokens switched on: every weight carried over, the new
    loss-token flag starting at zero."""
    config = replace(model.config, msms=replace(model.config.msms, neutral_losses=True))
    grown = MultiModalModel(config)
    missing, unexpected = grown.load_state_dict(model.state_dict(), strict=False)
    if missing != ["encoders.msms.loss_flag"] or unexpected:
        raise RuntimeError(f"neutral-loss model does not extend the base: {missing} {unexpected}")
    return grown


@dataclass
class WindowItem:
    """One training spectrum: its input, the row of its truth among the frozen structure
    vectors, and the rows of the measured and the library compounds of its window."""

    spectrum: SpectrumTensor
    truth: int
    measured: list[int]
    library: list[int]


def _decoys(item: WindowItem, k: int, total: int, rng: random.Random) -> list[int]:
    """K decoys: half measured where the window has them, the rest from the library, padded
    with random structures when the window is small."""
    measured = rng.sample(item.measured, min(len(item.measured), k // 2))
    library = rng.sample(item.library, min(len(item.library), k - len(measured)))
    if len(measured) + len(library) < k:
        extra = [n for n in item.measured if n not in measured]
        measured += rng.sample(extra, min(len(extra), k - len(measured) - len(library)))
    chosen = measured + library
    while len(chosen) < k:
        n = rng.randrange(total)
        if n != item.truth:
            chosen.append(n)
    return chosen


def finetune(
    model: MultiModalModel,
    items: list[WindowItem],
    vectors: torch.Tensor,
    config: FinetuneConfig,
    show_progress: bool = True,
) -> list[dict[str, float]]:
    """Train the MS/MS encoder (and the temperature) on softmax over truth + decoys; the other
    encoders are not touched. Returns the loss and in-window top-1 per epoch."""
    rng = random.Random(config.seed)
    torch.manual_seed(config.seed)
    trainable = {name: p.requires_grad for name, p in model.named_parameters()}
    for name, p in model.named_parameters():
        p.requires_grad = trainable[name] and (
            name.startswith("encoders.msms.") or name == "log_scale"
        )
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=config.lr)
    vectors = F.normalize(vectors.float(), dim=1)
    history = []
    for epoch in range(config.epochs):
        started = time.perf_counter()
        order = list(items)
        rng.shuffle(order)
        model.train()
        total, right, seen = 0.0, 0, 0
        batches = range(0, len(order), config.batch_size)
        for start in tqdm(batches, desc=f"fine-tune {epoch + 1}", disable=not show_progress):
            chunk = order[start : start + config.batch_size]
            q = model.embed("msms", collate_spectra([it.spectrum for it in chunk]))
            rows = torch.tensor(
                [[it.truth, *_decoys(it, config.decoys, len(vectors), rng)] for it in chunk]
            )
            logits = model.logit_scale * torch.einsum("bd,bkd->bk", q, vectors[rows])
            loss = F.cross_entropy(logits, torch.zeros(len(chunk), dtype=torch.long))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += loss.item() * len(chunk)
            right += int((logits.argmax(1) == 0).sum())
            seen += len(chunk)
        history.append(
            {
                "epoch": epoch + 1,
                "loss": total / max(seen, 1),
                "train_top1_among_decoys": right / max(seen, 1),
                "seconds": time.perf_counter() - started,
            }
        )
    for name, p in model.named_parameters():
        p.requires_grad = trainable[name]
    model.eval()
    return history
