"""Embed structures and measurements in batches under inference mode (used by evaluation,
backfills and search). Inputs are plain records; outputs are float32 unit vectors."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import dgl
import numpy as np
import torch

from models.data import collate
from models.featurize import mol_graph
from models.model import MultiModalModel


def _to(batch, device: torch.device):
    if isinstance(batch, dict):
        return {k: v.to(device) for k, v in batch.items()}
    return batch.to(device)


@torch.inference_mode()
def embed_smiles(
    model: MultiModalModel, smiles: list[str], device: torch.device, batch_size: int = 512
) -> tuple[np.ndarray, np.ndarray]:
    """(ok mask, vectors of the parsable structures), in input order."""
    graphs, ok = [], np.zeros(len(smiles), dtype=bool)
    for n, s in enumerate(smiles):
        try:
            graphs.append(mol_graph(s))
            ok[n] = True
        except ValueError:
            continue
    parts = [
        model.embed("structure", dgl.batch(graphs[i : i + batch_size]).to(device))
        .float()
        .cpu()
        .numpy()
        for i in range(0, len(graphs), batch_size)
    ]
    vectors = np.concatenate(parts) if parts else np.zeros((0, model.config.embed_dim), np.float32)
    return ok, vectors


@torch.inference_mode()
def embed_inputs(
    model: MultiModalModel,
    modality: str,
    items: list[object],
    device: torch.device,
    batch_size: int = 512,
) -> np.ndarray:
    """Vectors of model inputs of one measurement modality (spectrum tensors, IR grids, CCS)."""
    parts = [
        model.embed(modality, _to(collate(modality, items[i : i + batch_size]), device))
        .float()
        .cpu()
        .numpy()
        for i in range(0, len(items), batch_size)
    ]
    return np.concatenate(parts) if parts else np.zeros((0, model.config.embed_dim), np.float32)


@dataclass
class BackfillCounts:
    embedded: int = 0
    skipped: int = 0


def backfill(
    batches: Iterable[list[tuple[int, str]]],
    model: MultiModalModel,
    write: Callable[[list[int], np.ndarray], None],
    device: torch.device,
    progress: Callable[[int], None] | None = None,
) -> BackfillCounts:
    """Embed (id, smiles) batches as they stream in and hand each batch to `write`, so memory
    stays flat however many compounds there are. Unparsable structures are counted, not written."""
    counts = BackfillCounts()
    for batch in batches:
        ok, vectors = embed_smiles(model, [s for _, s in batch], device)
        ids = [cid for (cid, _), good in zip(batch, ok, strict=True) if good]
        if ids:
            write(ids, vectors)
        counts.embedded += len(ids)
        counts.skipped += len(batch) - len(ids)
        if progress:
            progress(len(batch))
    return counts
