"""Candidate-aware fine-tuning of a registered model (`molvis finetune`, issue 13 lever 1):
read each training spectrum's mass window from the registry, the base model's stored
structure vectors of every candidate, fine-tune the MS/MS encoder against them, save and
register the result (its structure encoder is the base's, so `molvis embed` gives it the same
structure vectors)."""

from __future__ import annotations

import random
import sys
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from molvis.workflows.model_loading import load_model
from registry.chem.adducts import neutral_mass
from registry.db.connection import session_scope
from registry.db.settings import load_settings
from registry.learned.embeddings import structure_vectors
from registry.learned.versions import register_model
from registry.read.training_data import load_training_set, window_candidates


def _window_mass(row) -> float:
    return round(neutral_mass(row.precursor_mz, row.adduct), 4)


def _training_windows(session: Session, train_keys: set[str], config, ppm: float):
    """The training split's spectra with a neutral mass (sampled down to `config.max_spectra`),
    their InChIKeys, and each window's candidates (measured-type only unless the config takes
    the library's decoys too)."""
    data = load_training_set(session)
    keys = [c.inchikey for c in data.compounds]
    rows = [
        r
        for r in data.msms
        if keys[r.compound] in train_keys and neutral_mass(r.precursor_mz, r.adduct)
    ]
    if config.max_spectra and len(rows) > config.max_spectra:
        rows = random.Random(config.seed).sample(rows, config.max_spectra)
    windows: dict[float, list] = {}
    for r in rows:
        mass = _window_mass(r)
        if mass not in windows:
            cands = window_candidates(session, mass, ppm)
            windows[mass] = cands if config.library_decoys else [c for c in cands if c[2]]
    return rows, keys, windows


def _window_items(rows, keys: list[str], windows: dict[float, list], row_of: dict[str, int], model):
    """One WindowItem per spectrum whose structure has a stored vector: its truth's row and
    the other skeletons' rows in its window, measured-type and decoys apart."""
    from models.data import msms_input
    from models.finetune import WindowItem

    items = []
    for r in rows:
        truth = keys[r.compound]
        if truth not in row_of:
            continue
        others = [c for c in windows[_window_mass(r)] if c[0][:14] != truth[:14] and c[0] in row_of]
        items.append(
            WindowItem(
                msms_input(r, model.config),
                row_of[truth],
                [row_of[c[0]] for c in others if c[2]],
                [row_of[c[0]] for c in others if not c[2]],
            )
        )
    return items


def finetune_and_register(
    engine: Engine,
    base: str | None,
    name: str,
    config,
    ppm: float = 10.0,
    show_progress: bool = True,
) -> dict[str, Any]:
    """Fine-tune `base` (default: the active model) with `config` (models.finetune.
    FinetuneConfig) and register the result as `name` (not activated)."""
    import torch

    from models.checkpoint import make_checkpoint, save_checkpoint
    from models.finetune import finetune, with_neutral_losses

    loaded = load_model(engine, base)
    model, split = loaded.model.cpu(), loaded.checkpoint["split"]
    if config.neutral_losses and not model.config.msms.neutral_losses:
        model = with_neutral_losses(model)
    with session_scope(engine) as session:
        rows, keys, windows = _training_windows(session, set(split["train"]), config, ppm)
        needed = {keys[r.compound] for r in rows} | {c[0] for cs in windows.values() for c in cs}
        stored = structure_vectors(session, loaded.info.id, sorted(needed))
    row_of = {k: n for n, k in enumerate(stored)}
    vectors = torch.tensor(list(stored.values()), dtype=torch.float32)
    items = _window_items(rows, keys, windows, row_of, model)
    print(
        f"fine-tuning {name} from {loaded.info.name} on {len(items)} spectra, "
        f"{len(vectors)} candidate structures",
        file=sys.stderr,
    )
    history = finetune(model, items, vectors, config, show_progress)
    checkpoint = make_checkpoint(
        model,
        split,
        {"base": loaded.info.name, "finetune": vars(config) | {"ppm": ppm}, "history": history},
    )
    path = load_settings().home / "models" / f"{name}.pt"
    save_checkpoint(checkpoint, path)
    with session_scope(engine) as session:
        register_model(
            session,
            name,
            checkpoint["version"],
            str(path.resolve()),
            checkpoint["config"],
            checkpoint["metrics"],
            activate=False,
        )
    return {
        "name": name,
        "version": checkpoint["version"],
        "path": str(path),
        "spectra": len(items),
        "history": history,
    }
