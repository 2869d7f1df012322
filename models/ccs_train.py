"""Training and error report of the CCS predictor (models/ccs.py): power-law baseline fitted
by least squares first, then the MLP residual by L1 on log CCS (a relative error), best epoch
by validation median error."""

from __future__ import annotations

import copy
import time
from collections.abc import Callable

import numpy as np
import torch

from models.ccs import CcsConfig, CcsInputs, CcsPredictor


def relative_errors(predicted: np.ndarray, measured: np.ndarray) -> np.ndarray:
    """|predicted - measured| / measured, in percent."""
    return 100.0 * np.abs(predicted - measured) / measured


def error_summary(errors: np.ndarray) -> dict[str, float | int]:
    """Median, mean and 95th percentile of relative errors (%), and how many."""
    if len(errors) == 0:
        return {"n": 0}
    return {
        "n": int(len(errors)),
        "median_pct": round(float(np.median(errors)), 3),
        "mean_pct": round(float(np.mean(errors)), 3),
        "p95_pct": round(float(np.percentile(errors, 95)), 3),
        "within_3pct": round(float(np.mean(errors <= 3.0)), 4),
    }


def train_predictor(
    train: tuple[CcsInputs, np.ndarray],
    val: tuple[CcsInputs, np.ndarray],
    config: CcsConfig,
    progress: Callable[[int, dict[str, float]], None] | None = None,
) -> tuple[CcsPredictor, list[dict[str, float]]]:
    """Fit a predictor on (inputs, measured CCS) pairs; returns the best model by validation
    median relative error and the per-epoch history."""
    torch.manual_seed(config.seed)
    model = CcsPredictor(config)
    inputs, ccs = train
    target = torch.log(torch.as_tensor(ccs, dtype=torch.float32))
    model.fit_baseline(inputs, target)
    params = [p for n, p in model.named_parameters() if n.startswith("mlps.")]
    optimizer = torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, max(config.epochs, 1))
    generator = torch.Generator().manual_seed(config.seed)
    best, best_state, history = float("inf"), copy.deepcopy(model.state_dict()), []
    for epoch in range(config.epochs):
        started = time.perf_counter()
        model.train()
        order = torch.randperm(len(inputs), generator=generator)
        total = 0.0
        for start in range(0, len(order), config.batch_size):
            rows = order[start : start + config.batch_size]
            out = model.members_out(inputs.take(rows))  # each member learns on its own
            loss = (out - target[rows]).abs().mean(1).sum()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += loss.item() / len(model.mlps) * len(rows)
        scheduler.step()
        val_errors = relative_errors(model.predict(val[0]), val[1])
        row = {
            "epoch": epoch + 1,
            "train_l1_log": total / max(len(inputs), 1),
            "val_median_pct": float(np.median(val_errors)) if len(val_errors) else float("nan"),
            "seconds": time.perf_counter() - started,
        }
        history.append(row)
        if progress:
            progress(epoch + 1, row)
        if len(val_errors) and row["val_median_pct"] < best:
            best, best_state = row["val_median_pct"], copy.deepcopy(model.state_dict())
    model.load_state_dict(best_state)
    model.eval()
    return model, history


@torch.no_grad()
def baseline_predictions(model: CcsPredictor, inputs: CcsInputs) -> np.ndarray:
    """The per-adduct m/z power law alone: the baseline every row is compared with."""
    return torch.exp(model.baseline(inputs)).numpy()
