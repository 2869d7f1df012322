"""Contrastive training: alternate batches among modality pairs, Adam + ExponentialLR, keep the
best checkpoint by validation loss, stop early when it stops improving."""

from __future__ import annotations

import contextlib
import math
import random
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from models.checkpoint import make_checkpoint
from models.config import TrainConfig
from models.data import PairBatch, Prepared, collate, pair_batches, prepare
from models.evaluate import top_k_accuracy
from models.featurize import tanimoto_matrix
from models.losses import bce_tanimoto, clip_infonce, contrastive_margin, report_eq3
from models.model import MultiModalModel
from registry.read.training_data import TrainingSet

VALIDATION_QUERIES = 2000


@dataclass
class TrainResult:
    checkpoint: dict[str, Any]
    history: list[dict[str, float]]


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _to(batch, device: torch.device):
    if isinstance(batch, dict):
        return {k: v.to(device) for k, v in batch.items()}
    return batch.to(device)


def batch_loss(
    model: MultiModalModel, batch: PairBatch, prepared: Prepared, device: torch.device
) -> torch.Tensor:
    left, right = batch.pair
    q = model.embed(right, _to(batch.right, device))
    r = model.embed(left, _to(batch.left, device))
    config = model.config
    if config.loss == "clip":
        return clip_infonce(q, r, model.logit_scale)
    if config.loss == "margin":
        return contrastive_margin(q, r, config.margin_positive, config.margin_negative)
    fps = prepared.fingerprints[batch.compounds].to(device)
    tanimoto = tanimoto_matrix(fps, fps)
    if config.loss == "report_eq3":
        return report_eq3(q, r, tanimoto)
    return bce_tanimoto(q, r, tanimoto)


def _autocast(device: torch.device, enabled: bool):
    if enabled and device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


@torch.inference_mode()
def validation_top_k(
    model: MultiModalModel, prepared: Prepared, split: str, device: torch.device, ks=(1, 5, 10)
) -> dict[str, float]:
    """MS/MS -> structure retrieval among every structure of the split (a quick epoch signal)."""
    compounds = [
        i
        for i in range(len(prepared.inchikeys))
        if prepared.split[i] == split and prepared.graphs[i] is not None
    ]
    position = {c: n for n, c in enumerate(compounds)}
    queries = [(c, s) for c, s in prepared.measurements.get("msms", []) if c in position]
    if not queries or len(compounds) < 2:
        return {}
    queries = random.Random(0).sample(queries, min(len(queries), VALIDATION_QUERIES))
    structures = torch.cat(
        [
            model.embed(
                "structure", _to(collate("structure", [prepared.graphs[c] for c in chunk]), device)
            )
            for chunk in _chunks(compounds, 256)
        ]
    )
    spectra = torch.cat(
        [
            model.embed("msms", _to(collate("msms", [s for _, s in chunk]), device))
            for chunk in _chunks(queries, 256)
        ]
    )
    scores = (spectra @ structures.T).float().cpu().numpy()
    truth = np.array([position[c] for c, _ in queries])
    return {f"val_top{k}": v for k, v in zip(ks, top_k_accuracy(scores, truth, ks), strict=True)}


def _chunks(items: list, size: int):
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _optimizer(model: MultiModalModel, config: TrainConfig):
    """Adam over the trainable parameters, with the learning rate decayed every epoch."""
    optimizer = torch.optim.Adam(
        [p for p in model.parameters() if p.requires_grad],
        lr=config.lr,
        weight_decay=config.weight_decay,
    )
    return optimizer, torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=config.gamma)


def _epoch_batches(prepared, pairs: list[tuple], config: TrainConfig, rng: random.Random) -> list:
    """One epoch's training batches: every modality pair's (at most `max_batches_per_pair`),
    shuffled together."""
    batches = []
    for pair in pairs:
        found = pair_batches(
            prepared, pair, "train", config, rng, repeats=config.spectra_per_compound
        )
        if config.max_batches_per_pair and len(found) > config.max_batches_per_pair:
            found = rng.sample(found, config.max_batches_per_pair)
        batches += found
    rng.shuffle(batches)
    if not batches:
        raise ValueError("no training pairs: the registry holds too few measured compounds")
    return batches


def _train_epoch(model, optimizer, steps: tqdm, prepared, device, config: TrainConfig) -> float:
    """One pass over the batches (`steps`, a progress bar showing the last loss); the mean
    training loss."""
    model.train()
    total = 0.0
    for batch in steps:
        optimizer.zero_grad(set_to_none=True)
        with _autocast(device, config.amp):
            loss = batch_loss(model, batch, prepared, device)
        loss.backward()
        optimizer.step()
        total += loss.item()
        steps.set_postfix(loss=f"{loss.item():.3f}")
    return total / len(steps)


def train(data: TrainingSet, config: TrainConfig, show_progress: bool = True) -> TrainResult:
    """Train on the registry's measured compounds; returns the best checkpoint by val loss
    (stopping after `patience` epochs without a better one)."""
    seed_everything(config.seed)
    if config.num_threads:
        torch.set_num_threads(config.num_threads)
    device = pick_device(config.device)
    prepared = prepare(data, config)
    model = MultiModalModel(config).to(device)
    optimizer, scheduler = _optimizer(model, config)
    pairs = [tuple(p.split(":")) for p in config.pairs]
    rng = random.Random(config.seed)
    val_batches = [
        b
        for p in pairs
        for b in pair_batches(prepared, p, "val", config, random.Random(config.seed))
    ]
    history: list[dict[str, float]] = []
    best: dict[str, Any] | None = None
    best_loss, stale = math.inf, 0
    split = {
        s: [k for k, sp in zip(prepared.inchikeys, prepared.split, strict=True) if sp == s]
        for s in ("train", "val", "test")
    }
    epochs = tqdm(range(config.epochs), desc="epochs", disable=not show_progress)
    for epoch in epochs:
        started = time.perf_counter()
        batches = _epoch_batches(prepared, pairs, config, rng)
        steps = tqdm(batches, desc=f"epoch {epoch + 1}", leave=False, disable=not show_progress)
        train_loss = _train_epoch(model, optimizer, steps, prepared, device, config)
        scheduler.step()
        model.eval()
        with torch.inference_mode():
            val_losses = [batch_loss(model, b, prepared, device).item() for b in val_batches]
        record = {
            "epoch": epoch + 1,
            "train_loss": train_loss,
            "val_loss": float(np.mean(val_losses)) if val_losses else math.nan,
            "temperature": float(1 / model.logit_scale.item()),
            "seconds": time.perf_counter() - started,
            **validation_top_k(model, prepared, "val", device),
        }
        history.append(record)
        shown = ("train_loss", "val_loss", "val_top1", "val_top5")
        epochs.set_postfix({k: f"{v:.3f}" for k, v in record.items() if k in shown})
        score = record["val_loss"] if val_losses else record["train_loss"]
        if score < best_loss - 1e-4:
            best_loss, stale = score, 0
            best = make_checkpoint(
                model, split, {"history": list(history), "best_epoch": epoch + 1}
            )
        else:
            stale += 1
            if stale >= config.patience:
                break
    assert best is not None
    best["metrics"]["history"] = history
    return TrainResult(best, history)
