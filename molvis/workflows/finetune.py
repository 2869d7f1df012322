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

from molvis.workflows.model_loading import load_model
from registry.chem.adducts import neutral_mass
from registry.db.connection import session_scope
from registry.db.settings import load_settings
from registry.learned.embeddings import structure_vectors
from registry.learned.versions import register_model
from registry.read.training_data import load_training_set, window_candidates


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
    from models.data import msms_input
    from models.finetune import WindowItem, finetune, with_neutral_losses

    loaded = load_model(engine, base)
    model, split = loaded.model.cpu(), loaded.checkpoint["split"]
    if config.neutral_losses and not model.config.msms.neutral_losses:
        model = with_neutral_losses(model)
    train_keys = set(split["train"])
    with session_scope(engine) as session:
        data = load_training_set(session)
        keys = [c.inchikey for c in data.compounds]
        rows = [r for r in data.msms if keys[r.compound] in train_keys]
        rows = [r for r in rows if neutral_mass(r.precursor_mz, r.adduct)]
        if config.max_spectra and len(rows) > config.max_spectra:
            rows = random.Random(config.seed).sample(rows, config.max_spectra)
        windows: dict[float, list] = {}
        for r in rows:
            mass = round(neutral_mass(r.precursor_mz, r.adduct), 4)
            if mass not in windows:
                cands = window_candidates(session, mass, ppm)
                windows[mass] = cands if config.library_decoys else [c for c in cands if c[2]]
        needed = {keys[r.compound] for r in rows} | {
            c[0] for cands in windows.values() for c in cands
        }
        stored = structure_vectors(session, loaded.info.id, sorted(needed))
    row_of = {k: n for n, k in enumerate(stored)}
    vectors = torch.tensor(list(stored.values()), dtype=torch.float32)
    items = []
    for r in rows:
        truth = keys[r.compound]
        if truth not in row_of:
            continue
        cands = windows[round(neutral_mass(r.precursor_mz, r.adduct), 4)]
        others = [c for c in cands if c[0][:14] != truth[:14] and c[0] in row_of]
        items.append(
            WindowItem(
                msms_input(r, model.config),
                row_of[truth],
                [row_of[c[0]] for c in others if c[2]],
                [row_of[c[0]] for c in others if not c[2]],
            )
        )
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
