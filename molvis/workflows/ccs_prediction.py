"""CCS predictor workflows (`molvis ccs train|backfill`, the Dagster asset `ccs_predictions`):
train from the registry's measured CCS on the skeleton split and register; register the
shipped predictor on first use; fill predictions for every compound that lacks them."""

from __future__ import annotations

import math
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import Engine

from molvis.workflows.model_loading import model_file, stored_path
from registry.db.connection import session_scope
from registry.db.settings import load_settings
from registry.learned import ccs_predictions as predictions

PRETRAINED = Path(__file__).resolve().parents[2] / "models" / "pretrained" / "ccs"


def search_tolerance(p95_pct: float) -> float:
    """The window a predicted CCS gets in the search: its validation p95 relative error,
    rounded up to 0.1 %."""
    return math.ceil(p95_pct * 10) / 10


def _ions(rows: list[predictions.MeasuredCcs]):
    from models.ccs import Ion

    return [
        Ion(r.structure.fingerprint, r.structure.formula, r.structure.mass, r.adduct, r.method)
        for r in rows
    ]


def _grouped_errors(errors: np.ndarray, labels: list[str], minimum: int = 20) -> dict:
    from models.ccs_train import error_summary

    groups: dict[str, list[int]] = defaultdict(list)
    for n, label in enumerate(labels):
        groups[label].append(n)
    return {
        label: error_summary(errors[rows])
        for label, rows in sorted(groups.items(), key=lambda kv: -len(kv[1]))
        if len(rows) >= minimum
    }


def test_report(model, rows: list[predictions.MeasuredCcs]) -> dict[str, Any]:
    """Held-out errors of the predictor and of its own m/z power law, overall and by adduct,
    method and chemical class."""
    from models.ccs import featurize
    from models.ccs_classes import chemical_class
    from models.ccs_train import baseline_predictions, error_summary, relative_errors

    inputs = featurize(_ions(rows), model.config)
    measured = np.array([r.ccs for r in rows])
    errors = relative_errors(model.predict(inputs), measured)
    baseline = relative_errors(baseline_predictions(model, inputs), measured)
    return {
        "test": error_summary(errors),
        "test_mz_baseline": error_summary(baseline),
        "by_adduct": _grouped_errors(errors, [r.adduct for r in rows]),
        "by_adduct_mz_baseline": _grouped_errors(baseline, [r.adduct for r in rows]),
        "by_method": _grouped_errors(errors, [r.method for r in rows]),
        "by_class": _grouped_errors(errors, [chemical_class(r.structure.smiles) for r in rows]),
    }


def _split_measured(engine: Engine, adducts: list[str]) -> dict[str, list[predictions.MeasuredCcs]]:
    """The registry's measured CCS values of these adducts by structure split (train, val,
    test); too few to train on is an error that says what to ingest."""
    from models.data import SPLIT_SEED, split_of

    with session_scope(engine) as session:
        rows = predictions.measured_for_training(session, adducts)
    parts: dict[str, list[predictions.MeasuredCcs]] = {"train": [], "val": [], "test": []}
    for r in rows:
        parts[split_of(r.structure.inchikey, SPLIT_SEED)].append(r)
    if len(parts["train"]) < 10 or not parts["val"]:
        raise ValueError(
            f"too few measured CCS values to train on ({len(rows)} of the adducts "
            f"{', '.join(adducts)}): ingest a CCS table first (molvis ingest ccs FILE)"
        )
    return parts


def train_and_register(
    engine: Engine,
    name: str,
    config,
    output: Path | None = None,
    activate: bool = True,
    progress: Callable[[int, dict[str, float]], None] | None = None,
) -> dict[str, Any]:
    """Train a CCS predictor (models.ccs.CcsConfig) on the registry's measured values, report
    its held-out errors, save it and register it with its `search_tolerance`."""
    from models.ccs import featurize, save_predictor
    from models.ccs_train import relative_errors, train_predictor

    parts = _split_measured(engine, config.adducts)

    def data(part: str):
        return featurize(_ions(parts[part]), config), np.array([r.ccs for r in parts[part]])

    started = time.perf_counter()
    val = data("val")
    model, history = train_predictor(data("train"), val, config, progress)
    val_errors = relative_errors(model.predict(val[0]), val[1])
    p95 = float(np.percentile(val_errors, 95))
    metrics = {
        "train_rows": len(parts["train"]),
        "val_rows": len(parts["val"]),
        "val_median_pct": round(float(np.median(val_errors)), 3),
        "val_p95_pct": round(p95, 3),
        "train_seconds": round(time.perf_counter() - started, 1),
        "history": history,
        **(test_report(model, parts["test"]) if parts["test"] else {}),
    }
    path = output or load_settings().home / "models" / "ccs" / f"{name}.pt"
    version = save_predictor(model, metrics, path)
    with session_scope(engine) as session:
        info = predictions.register_predictor(
            session,
            name,
            version,
            str(path.resolve()),
            vars(config),
            metrics,
            search_tolerance(p95),
            activate,
        )
    return {
        "name": info.name,
        "version": version,
        "path": str(path),
        "tolerance_pct": info.tolerance_pct,
        "metrics": metrics,
    }


def ensure_shipped_predictor(session) -> None:
    """First use: register the CCS predictor shipped with molvis as the active one."""
    from models.ccs import load_predictor

    if predictions.list_predictors(session):
        return
    for path in sorted(PRETRAINED.glob("*.pt")):
        model, saved = load_predictor(path)
        metrics = saved.get("metrics", {})
        tolerance = search_tolerance(metrics.get("val_p95_pct", 5.0))
        predictions.register_predictor(
            session,
            path.stem,
            saved["version"],
            stored_path(path),
            saved["config"],
            metrics,
            tolerance,
            activate=not predictions.list_predictors(session),
        )


def load_active(engine: Engine, name: str | None = None):
    """(PredictorInfo, CcsPredictor) of the named or active predictor."""
    from models.ccs import load_predictor

    with session_scope(engine) as session:
        ensure_shipped_predictor(session)
        info = predictions.get_predictor(session, name)
    model, _ = load_predictor(model_file(info.path))
    return info, model


def backfill(
    engine: Engine,
    name: str | None = None,
    batch_size: int = 5000,
    shards: int | None = None,
    shard: int = 0,
    progress: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Predict every known adduct's CCS for each compound lacking predictions (optionally one
    id shard), batch by batch with a commit each: memory stays flat, a re-run adds nothing,
    an interrupted run resumes where it stopped."""
    from models.ccs import PREDICT_METHOD, Ion, featurize, predictable

    info, model = load_active(engine, name)
    adducts = model.config.adducts
    compounds = written = 0
    started = time.perf_counter()
    with session_scope(engine) as reader:
        for batch in predictions.structures_without_predictions(
            reader, info.id, batch_size, shards, shard
        ):
            pairs = [(s, a) for s in batch for a in adducts if predictable(s.mass, a)]
            ions = [Ion(s.fingerprint, s.formula, s.mass, a, PREDICT_METHOD) for s, a in pairs]
            values = model.predict(featurize(ions, model.config))
            with session_scope(engine) as writer:
                written += predictions.write_predictions(
                    writer,
                    info.id,
                    [s.compound_id for s, _ in pairs],
                    [a for _, a in pairs],
                    [float(v) for v in values],
                )
            compounds += len(batch)
            if progress:
                progress(len(batch))
    seconds = time.perf_counter() - started
    return {
        "predictor": info.name,
        "compounds": compounds,
        "predictions": written,
        "seconds": round(seconds, 2),
        "molecules_per_second": round(compounds / seconds, 1) if seconds and compounds else None,
    }
