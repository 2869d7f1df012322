"""Training and error report of the CCS predictor (models/ccs.py): power-law baseline fitted
by least squares first, then the MLP residual by L1 on log CCS (a relative error), best epoch
by validation median error."""

from __future__ import annotations

import copy
import time
from collections import Counter
from collections.abc import Callable, Iterable

import numpy as np
import torch

from models.ccs import CcsInputs, CcsPredictor
from models.ccs_adducts import readable_key
from models.ccs_inputs import CcsConfig


def known_adducts(adducts: Iterable[str], minimum: int) -> tuple[str, ...]:
    """The adducts a predictor will know: those with at least `minimum` training ions, each
    spelling of one adduct counted together and named by its commonest spelling, commonest
    adduct first; unreadable adducts are left out."""
    counts: Counter = Counter()
    spellings: dict[tuple, Counter] = {}
    for adduct in adducts:
        key = readable_key(adduct)
        if key is None:
            continue
        counts[key] += 1
        spellings.setdefault(key, Counter())[adduct] += 1
    return tuple(
        spellings[key].most_common(1)[0][0] for key, n in counts.most_common() if n >= minimum
    )


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
    model.fit_standardisation(inputs)
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


def fit_interval(model: CcsPredictor, inputs: CcsInputs, measured: np.ndarray) -> dict[str, float]:
    """Calibrate the 95 % interval on validation ions: for each multiple of the predicted
    deviation (0 to 6 in steps of 0.25), the floor that makes 95 % of the ions' errors fall
    within floor + multiple x deviation; the pair with the narrowest mean interval is kept."""
    values, deviation = model.predict_with_deviation(inputs)
    errors = relative_errors(values, measured)
    best = (float("inf"), 0.0, 0.0)
    for scale in np.arange(0.0, 6.01, 0.25):
        floor = max(float(np.percentile(errors - scale * deviation, 95)), 0.0)
        best = min(best, (floor + scale * float(deviation.mean()), floor, float(scale)))
    _, floor, scale = best
    with torch.no_grad():
        model.interval.copy_(torch.tensor([floor, scale]))
    return {"interval_floor_pct": round(floor, 3), "interval_scale": scale}


def interval_coverage(model: CcsPredictor, inputs: CcsInputs, measured: np.ndarray) -> dict:
    """How often the 95 % interval holds the measured value, and its median half-width."""
    values, half_width = model.predict_with_uncertainty(inputs)
    kept = relative_errors(values, measured) <= half_width
    return {
        "interval_coverage": round(float(kept.mean()), 4) if len(kept) else None,
        "interval_median_pct": round(float(np.median(half_width)), 3) if len(kept) else None,
    }


@torch.no_grad()
def baseline_predictions(model: CcsPredictor, inputs: CcsInputs) -> np.ndarray:
    """The per-adduct m/z power law alone: the baseline every row is compared with."""
    return torch.exp(model.baseline(inputs)).numpy()
