"""CCS predictor workflows (`molvis ccs train`): train from the registry's measured CCS on the
skeleton split and register; register the shipped predictor on first use and load the active
one (the backfill that fills predictions is molvis/workflows/ccs_backfill.py)."""

from __future__ import annotations

import math
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import asdict, replace
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


def measured_ions(rows: list[predictions.MeasuredCcs]):
    """The predictor's ions (models.ccs_inputs.Ion) of measured CCS rows, in their order."""
    from models.ccs_inputs import Ion

    return [
        Ion(
            r.structure.fingerprint,
            r.structure.formula,
            r.structure.mass,
            r.adduct,
            r.method,
            r.structure.smiles,
        )
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


def test_report(
    model, rows: list[predictions.MeasuredCcs], train_scaffolds: set[str] | None = None
) -> dict[str, Any]:
    """Held-out errors of the predictor and of its own m/z power law, overall and by adduct,
    method and chemical class; the 95 % interval's coverage; and the same on the test ions
    whose ring scaffold no training ion has (the scaffold split beside the skeleton split)."""
    from models.ccs import featurize
    from models.ccs_classes import chemical_class, ring_scaffold
    from models.ccs_train import (
        baseline_predictions,
        error_summary,
        interval_coverage,
        relative_errors,
    )

    inputs = featurize(measured_ions(rows), model.config)
    measured = np.array([r.ccs for r in rows])
    errors = relative_errors(model.predict(inputs), measured)
    baseline = relative_errors(baseline_predictions(model, inputs), measured)
    report = {
        "test": error_summary(errors) | interval_coverage(model, inputs, measured),
        "test_mz_baseline": error_summary(baseline),
        "by_adduct": _grouped_errors(errors, [r.adduct for r in rows]),
        "by_adduct_mz_baseline": _grouped_errors(baseline, [r.adduct for r in rows]),
        "by_method": _grouped_errors(errors, [r.method for r in rows]),
        "by_class": _grouped_errors(errors, [chemical_class(r.structure.smiles) for r in rows]),
    }
    if train_scaffolds is not None:
        new = [ring_scaffold(r.structure.smiles) not in train_scaffolds for r in rows]
        report["test_new_scaffold"] = error_summary(errors[np.array(new, dtype=bool)])
    return report


def _split_measured(
    engine: Engine, minimum: int
) -> tuple[tuple[str, ...], dict[str, list[predictions.MeasuredCcs]], dict[str, int]]:
    """The adducts with at least `minimum` training ions, the registry's measured CCS of those
    adducts by structure split (train, val, test), and how many rows each split had in all;
    too few to train on is an error that says what to ingest."""
    from models.ccs_adducts import adduct_key, readable_key
    from models.ccs_train import known_adducts
    from models.data import SPLIT_SEED, split_of

    with session_scope(engine) as session:
        rows = predictions.measured_for_training(session)
    parts: dict[str, list[predictions.MeasuredCcs]] = {"train": [], "val": [], "test": []}
    for r in rows:
        parts[split_of(r.structure.inchikey, SPLIT_SEED)].append(r)
    adducts = known_adducts([r.adduct for r in parts["train"]], minimum)
    keys = {adduct_key(a) for a in adducts}
    totals = {part: len(part_rows) for part, part_rows in parts.items()}
    for part, part_rows in parts.items():
        parts[part] = [r for r in part_rows if readable_key(r.adduct) in keys]
    if len(parts["train"]) < 10 or not parts["val"]:
        raise ValueError(
            f"too few measured CCS values to train on ({len(rows)} in all; fewer than 10 "
            f"training ions of adducts with {minimum} or more): ingest a CCS table first "
            "(molvis ingest ccs FILE)"
        )
    return adducts, parts, totals


def training_split(
    engine: Engine, minimum: int
) -> tuple[tuple[str, ...], dict[str, list[predictions.MeasuredCcs]], dict[str, int]]:
    """`_split_measured`'s adducts, parts and totals, each part without the ions below the
    range (a water loss of a tiny molecule has no CCS): what a predictor trains and is tested
    on."""
    from models.ccs_inputs import predictable

    adducts, parts, totals = _split_measured(engine, minimum)
    for part in parts:
        parts[part] = [r for r in parts[part] if predictable(r.structure.mass, r.adduct)]
    return adducts, parts, totals


def train_and_register(
    engine: Engine,
    name: str,
    config,
    output: Path | None = None,
    activate: bool = True,
    progress: Callable[[int, dict[str, float]], None] | None = None,
) -> dict[str, Any]:
    """Train a CCS predictor (models.ccs.CcsConfig; it learns every adduct with
    `config.min_adduct_ions` training ions) on the registry's measured values, calibrate its
    95 % interval on the validation ions, report its held-out errors, save it and register it
    with its `search_tolerance`."""
    from models.ccs import featurize, save_predictor
    from models.ccs_classes import ring_scaffold
    from models.ccs_train import fit_interval, relative_errors, train_predictor

    adducts, parts, totals = training_split(engine, config.min_adduct_ions)
    config = replace(config, adducts=adducts)

    def data(part: str):
        return featurize(measured_ions(parts[part]), config), np.array([r.ccs for r in parts[part]])

    started = time.perf_counter()
    val = data("val")
    model, history = train_predictor(data("train"), val, config, progress)
    interval = fit_interval(model, *val)
    val_errors = relative_errors(model.predict(val[0]), val[1])
    p95 = float(np.percentile(val_errors, 95))
    scaffolds = {ring_scaffold(r.structure.smiles) for r in parts["train"]}
    metrics = {
        "train_rows": len(parts["train"]),
        "val_rows": len(parts["val"]),
        "test_rows_all_adducts": totals["test"],
        "adducts": len(adducts),
        "val_median_pct": round(float(np.median(val_errors)), 3),
        "val_p95_pct": round(p95, 3),
        **interval,
        "train_seconds": round(time.perf_counter() - started, 1),
        "history": history,
        **(test_report(model, parts["test"], scaffolds) if parts["test"] else {}),
    }
    path = output or load_settings().home / "models" / "ccs" / f"{name}.pt"
    version = save_predictor(model, metrics, path)
    with session_scope(engine) as session:
        info = predictions.register_predictor(
            session,
            name,
            version,
            str(path.resolve()),
            asdict(config),
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
    """First use: register the CCS predictor shipped with molvis as the active one. Later: a
    shipped predictor registered from a file that has changed since (a newer molvis) is
    registered again from it, which clears its stored predictions for the next backfill."""
    from models.ccs import load_predictor

    first_use = not predictions.list_predictors(session)
    for path in sorted(PRETRAINED.glob("*.pt")):
        registered = predictions.predictor_at(session, stored_path(path))
        if not first_use and registered is None:
            continue
        model, saved = load_predictor(path)
        if registered is not None and registered.version == saved["version"]:
            continue
        metrics = saved.get("metrics", {})
        predictions.register_predictor(
            session,
            registered.name if registered else path.stem,
            saved["version"],
            stored_path(path),
            saved["config"],
            metrics,
            search_tolerance(metrics.get("val_p95_pct", 5.0)),
            activate=registered.is_active
            if registered
            else not predictions.list_predictors(session),
        )


def load_shipped():
    """The CCS predictor shipped with molvis, read from its file (no registry needed)."""
    from models.ccs import load_predictor

    return load_predictor(PRETRAINED / "molvis-ccs.pt")[0]


def load_active(engine: Engine, name: str | None = None):
    """(PredictorInfo, CcsPredictor) of the named or active predictor."""
    from models.ccs import load_predictor

    with session_scope(engine) as session:
        ensure_shipped_predictor(session)
        info = predictions.get_predictor(session, name)
    model, _ = load_predictor(model_file(info.path))
    return info, model
