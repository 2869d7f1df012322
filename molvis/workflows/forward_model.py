"""Train the MS/MS forward model (models/fragment_model.py) on measured spectra of
training-split skeletons and measure it on test-split ones: the entropy similarity of each
predicted spectrum to the measured one, beside a baseline that predicts the average training
spectrum of the nearest precursor masses (a prediction that never reads the structure)."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import Engine

from models.data import SPLIT_SEED, split_of
from models.fragment_features import collision_energy
from models.fragment_model import (
    FragmentConfig,
    examples,
    load_model,
    predicted_peaks,
    save_model,
    train_model,
)
from registry.library.flash_index import entropy_similarity

BASELINE_NEIGHBOURS = 10  # training spectra averaged for the baseline
ENERGY_BANDS = ((0, 20), (20, 40), (40, None))


@dataclass(frozen=True)
class Spectrum:
    """One measured spectrum with the structure it belongs to."""

    inchikey: str
    smiles: str
    adduct: str
    collision_energy: str | None
    precursor_mz: float
    mz: np.ndarray
    intensity: np.ndarray


def split_spectra(spectra: list[Spectrum]) -> dict[str, list[Spectrum]]:
    parts: dict[str, list[Spectrum]] = {"train": [], "val": [], "test": []}
    for s in spectra:
        parts[split_of(s.inchikey, SPLIT_SEED)].append(s)
    return parts


def training_set(spectra: list[Spectrum], config: FragmentConfig, progress=None):
    """The SpectrumExamples of (a sample of `config.max_spectra`) training spectra; spectra
    whose peaks no fragment explains teach nothing and are left out."""
    rng = random.Random(config.seed)
    chosen = (
        spectra
        if not config.max_spectra or len(spectra) <= config.max_spectra
        else (rng.sample(spectra, config.max_spectra))
    )
    data = []
    for n, s in enumerate(chosen, 1):
        try:
            example = examples(
                s.smiles,
                s.adduct,
                s.collision_energy,
                s.mz,
                s.intensity,
                s.precursor_mz,
                config.depth,
            )
        except ValueError:
            continue  # a structure RDKit cannot read, or an element without a mass
        if example is not None:
            data.append(example)
        if progress:
            progress(n, len(chosen))
    return data


class AverageSpectrum:
    """The baseline: the mean of the `BASELINE_NEIGHBOURS` training spectra of the same adduct
    nearest in precursor m/z, peaks binned to 0.01."""

    def __init__(self, train: list[Spectrum]):
        self.by_adduct: dict[str, list[Spectrum]] = {}
        for s in sorted(train, key=lambda s: s.precursor_mz):
            self.by_adduct.setdefault(s.adduct, []).append(s)

    def predict(self, adduct: str, precursor_mz: float) -> tuple[np.ndarray, np.ndarray]:
        pool = self.by_adduct.get(adduct, [])
        if not pool:
            return np.zeros(0), np.zeros(0)
        masses = np.array([s.precursor_mz for s in pool])
        nearest = np.argsort(np.abs(masses - precursor_mz), kind="stable")[:BASELINE_NEIGHBOURS]
        bins: dict[float, float] = {}
        for i in nearest:
            s = pool[i]
            for m, v in zip(np.round(s.mz, 2), s.intensity / s.intensity.max(), strict=True):
                bins[float(m)] = bins.get(float(m), 0.0) + float(v)
        mz = np.array(sorted(bins))
        return mz, np.array([bins[m] for m in mz])


def _band(energy: float | None) -> str:
    if energy is None:
        return "unknown"
    for lo, hi in ENERGY_BANDS:
        if energy >= lo and (hi is None or energy < hi):
            return f"{lo}-{hi}" if hi else f"{lo}+"
    return "unknown"


def measure(model, test: list[Spectrum], baseline: AverageSpectrum) -> dict[str, Any]:
    """Median and mean entropy similarity of predicted vs measured spectra, overall, by adduct
    and by collision-energy band, beside the baseline's."""
    rows = []
    for s in test:
        try:
            mz, intensity, _ = predicted_peaks(model, s.smiles, s.adduct, s.collision_energy)
        except ValueError:
            continue
        measured = (s.mz, s.intensity)
        rows.append(
            (
                s.adduct,
                _band(collision_energy(s.collision_energy)),
                entropy_similarity((mz, intensity), s.precursor_mz, measured, s.precursor_mz),
                entropy_similarity(
                    baseline.predict(s.adduct, s.precursor_mz),
                    s.precursor_mz,
                    measured,
                    s.precursor_mz,
                ),
            )
        )

    def summary(picked: list) -> dict[str, Any]:
        model_sim = np.array([r[2] for r in picked])
        base_sim = np.array([r[3] for r in picked])
        return {
            "spectra": len(picked),
            "median": float(np.median(model_sim)) if len(picked) else None,
            "mean": float(np.mean(model_sim)) if len(picked) else None,
            "baseline_median": float(np.median(base_sim)) if len(picked) else None,
            "baseline_mean": float(np.mean(base_sim)) if len(picked) else None,
        }

    return {
        "all": summary(rows),
        "by_adduct": {
            a: summary([r for r in rows if r[0] == a]) for a in sorted({r[0] for r in rows})
        },
        "by_energy": {
            b: summary([r for r in rows if r[1] == b]) for b in sorted({r[1] for r in rows})
        },
    }


def train_and_measure(
    spectra: list[Spectrum],
    config: FragmentConfig,
    output: Path,
    max_test: int | None = 1000,
    progress: Callable[[str, int, int], None] | None = None,
) -> dict[str, Any]:
    """Train on the training split, save to `output`, measure on (a sample of) the test split."""
    parts = split_spectra(spectra)
    started = time.perf_counter()
    data = training_set(
        parts["train"],
        config,
        (lambda n, total: progress("spectra", n, total)) if progress else None,
    )
    model, history = train_model(
        data,
        config,
        (lambda epoch, loss: progress("epochs", epoch, config.epochs)) if progress else None,
    )
    test = _sample(parts["test"], max_test, config.seed)
    metrics = {
        "train_spectra": len(data),
        "train_ions": sum(len(e.fragment) for e in data),
        "history": history,
        "train_seconds": round(time.perf_counter() - started, 1),
        "test": measure(model, test, AverageSpectrum(parts["train"])),
    }
    version = save_model(model, metrics, output)
    return {"path": str(output), "version": version, "metrics": metrics}


def _sample(spectra: list[Spectrum], most: int | None, seed: int) -> list[Spectrum]:
    return random.Random(seed).sample(spectra, most) if most and len(spectra) > most else spectra


def evaluate_forward_model(engine: Engine, path: Path, max_test: int | None = 1000) -> dict:
    """`molvis evaluate`'s forward-model rows: the model at `path` on (a sample of) the
    registry's test-split spectra (skeletons it never trained on), overall, by adduct and by
    collision-energy band, beside the training split's average spectrum nearest in mass."""
    parts = split_spectra(registry_spectra(engine))
    model, saved = load_model(path)
    test = _sample(parts["test"], max_test, 0)
    return {
        "model": path.name,
        "version": saved.get("version"),
        "train_spectra": len(parts["train"]),
        **measure(model, test, AverageSpectrum(parts["train"])),
    }


def registry_spectra(engine: Engine) -> list[Spectrum]:
    """The registry's stored MS/MS with a precursor, an adduct and a structure."""
    from registry.db.connection import session_scope
    from registry.read.training_data import load_training_set

    with session_scope(engine) as session:
        data = load_training_set(session)
    out = []
    for row in data.msms:
        compound = data.compounds[row.compound]
        if row.precursor_mz and row.adduct:
            out.append(
                Spectrum(
                    compound.inchikey,
                    compound.smiles,
                    row.adduct,
                    row.collision_energy,
                    row.precursor_mz,
                    np.asarray(row.mz),
                    np.asarray(row.intensity),
                )
            )
    return out
