"""Top-k retrieval evaluation: rank candidate structures for each query, compare with the truth,
and give the random-ranking expectation on the same candidate sets."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F

from models.config import TrainConfig
from models.data import msms_input
from models.embed import embed_inputs, embed_smiles
from models.model import MultiModalModel
from registry.chem.adducts import neutral_mass
from registry.read.training_data import TrainingSet

KS = (1, 5, 10, 20)


def rank_of_truth(scores: np.ndarray, truth: int) -> int:
    """1-based rank of the true candidate; ties count against it (pessimistic)."""
    return int(np.sum(scores >= scores[truth]))


def top_k_accuracy(scores: np.ndarray, truth: np.ndarray, ks=KS) -> list[float]:
    """Fraction of queries (rows of `scores`) whose true column is within the top k."""
    ranks = np.array([rank_of_truth(row, t) for row, t in zip(scores, truth, strict=True)])
    return [float(np.mean(ranks <= k)) for k in ks]


def random_top_k(n_candidates: np.ndarray, truth_present: np.ndarray, k: int) -> float:
    """Expected top-k accuracy of a random ranking: mean of min(k, n) / n over the queries
    whose truth is among their candidates (0 for the others)."""
    n = np.maximum(np.asarray(n_candidates, dtype=float), 1)
    present = np.asarray(truth_present, dtype=float)
    return float(np.mean(present * np.minimum(k, n) / n)) if n.size else 0.0


@dataclass
class Query:
    """One query: its modality, model input, true compound and the neutral mass it implies."""

    modality: str
    inputs: list[tuple[str, object]]  # (modality, model input); several for fused queries
    truth: str  # InChIKey
    neutral_mass: float | None
    spectrum: object | None = None  # the measured MS/MS row, for rankers that read its peaks


@dataclass
class Embedder:
    """How evaluation turns inputs into vectors: `queries(modality, inputs)` gives one unit
    vector per input, `structures(smiles)` an ok mask and the vectors of the parsable ones. The
    model's by default (`model_embedder`); tests hand over vectors whose answers they know."""

    queries: Callable[[str, list], np.ndarray]
    structures: Callable[[list[str]], tuple[np.ndarray, np.ndarray]]
    dim: int


def model_embedder(model: MultiModalModel, device: torch.device) -> Embedder:
    return Embedder(
        queries=lambda modality, items: embed_inputs(model, modality, items, device),
        structures=lambda smiles: embed_smiles(model, smiles, device),
        dim=model.config.embed_dim,
    )


def embed_structures(embedder: Embedder, smiles: list[str]) -> torch.Tensor:
    """Structure vectors; unparsable structures get a zero vector (never ranked first)."""
    ok, vectors = embedder.structures(smiles)
    out = torch.zeros((len(smiles), embedder.dim))
    if ok.any():
        out[torch.from_numpy(ok)] = torch.as_tensor(vectors, dtype=torch.float32)
    return out


def embed_queries(embedder: Embedder, queries: list[Query]) -> torch.Tensor:
    """Unit query vectors; a fused query is the normalised sum of its modalities' mean vectors."""
    flat = [(qi, m, x) for qi, q in enumerate(queries) for m, x in q.inputs]
    vectors = torch.zeros((len(flat), embedder.dim))
    for modality in {m for _, m, _ in flat}:
        idx = [n for n, (_, m, _) in enumerate(flat) if m == modality]
        vectors[idx] = torch.as_tensor(
            embedder.queries(modality, [flat[n][2] for n in idx]), dtype=torch.float32
        )
    rows_of: dict[tuple[int, str], list[int]] = {}
    for n, (qi, modality, _) in enumerate(flat):
        rows_of.setdefault((qi, modality), []).append(n)
    out = torch.zeros((len(queries), embedder.dim))
    for (qi, _), rows in rows_of.items():
        out[qi] += F.normalize(vectors[rows].mean(0), dim=0)
    return F.normalize(out, dim=1)


def _result(
    query: str, candidate_set: str, ranks: list[int | None], sizes: list[int]
) -> dict[str, Any]:
    """Top-k over at least one query; a rank of None (truth not among the candidates) misses."""
    found = np.array([np.inf if r is None else r for r in ranks], dtype=float)
    n = np.array(sizes, dtype=float)
    result: dict[str, Any] = {
        "query": query,
        "candidate_set": candidate_set,
        "n_queries": len(ranks),
        "mean_candidates": float(n.mean()),
        "truth_in_candidates": float(np.isfinite(found).mean()),
    }
    for k in KS:
        result[f"top{k}"] = float(np.mean(found <= k))
    for k in KS:
        result[f"random_top{k}"] = random_top_k(n, np.isfinite(found), k)
    return result


@torch.inference_mode()
def evaluate_queries(
    embedder: Embedder,
    queries: list[Query],
    test_smiles: dict[str, str],
    candidates_for: Callable[[float], list[tuple[str, str]]] | None,
    name: str,
    cache: dict[str, torch.Tensor] | None = None,
) -> list[dict[str, Any]]:
    """Rank test-split structures, and mass-window candidates when `candidates_for` is given
    (a query whose truth is outside its window is a miss). `cache` keeps candidate structure
    vectors between calls (InChIKey -> vector)."""
    if not queries:
        return []
    q = embed_queries(embedder, queries)
    keys = list(test_smiles)
    position = {k: n for n, k in enumerate(keys)}
    structures = embed_structures(embedder, [test_smiles[k] for k in keys])
    scores = (q @ structures.T).numpy()
    ranks = [rank_of_truth(scores[i], position[x.truth]) for i, x in enumerate(queries)]
    results = [_result(name, "test_split", ranks, [len(keys)] * len(queries))]
    if candidates_for is None:
        return results
    cache = {} if cache is None else cache
    windows = []
    for query in queries:
        cands = candidates_for(query.neutral_mass) if query.neutral_mass else []
        windows.append(cands)
        missing = [(k, s) for k, s in cands if k not in cache]
        if missing:
            vectors = embed_structures(embedder, [s for _, s in missing])
            for (k, _), v in zip(missing, vectors, strict=True):
                cache[k] = v
    mw_ranks: list[int | None] = []
    sizes = []
    for i, (query, cands) in enumerate(zip(queries, windows, strict=True)):
        sizes.append(len(cands))
        keys_i = [k for k, _ in cands]
        if query.truth not in keys_i:
            mw_ranks.append(None)
            continue
        s = (torch.stack([cache[k] for k in keys_i]) @ q[i]).numpy()
        mw_ranks.append(rank_of_truth(s, keys_i.index(query.truth)))
    results.append(_result(name, "mass_window", mw_ranks, sizes))
    return results


def build_queries(
    data: TrainingSet,
    test_keys: set[str],
    config: TrainConfig,
    max_queries: int | None,
    seed: int = 0,
    blind: bool = False,
) -> dict[str, list[Query]]:
    """Queries per modality ('msms', 'ir', 'ccs', 'fused') for the compounds of the test split.

    MS/MS and CCS queries carry the neutral mass their precursor and adduct imply; IR has no
    precursor, so its window uses the compound's mass (the user's known mass). With `blind`,
    MS/MS queries keep precursor and metadata but lose every peak (the spectrum-blind control).
    """
    keys = [c.inchikey for c in data.compounds]
    masses = [c.monoisotopic_mass for c in data.compounds]
    per_compound: dict[int, list[tuple[str, object, float | None]]] = {}
    queries: dict[str, list[Query]] = {"msms": [], "ir": [], "ccs": []}
    for row in data.msms:
        if keys[row.compound] not in test_keys:
            continue
        tensor = msms_input(row, config)
        if blind:
            tensor.peaks[:] = 0
            tensor.n_peaks = 0
        mass = neutral_mass(row.precursor_mz, row.adduct)
        spectrum = None if blind else row
        queries["msms"].append(
            Query("msms", [("msms", tensor)], keys[row.compound], mass, spectrum)
        )
        per_compound.setdefault(row.compound, []).append(("msms", tensor, mass))
    for row in data.ir:
        if keys[row.compound] in test_keys:
            item = torch.from_numpy(row.vector)
            queries["ir"].append(
                Query("ir", [("ir", item)], keys[row.compound], masses[row.compound])
            )
            per_compound.setdefault(row.compound, []).append(("ir", item, None))
    for row in data.ccs:
        if keys[row.compound] in test_keys:
            item = (row.ccs, row.mz, row.adduct)
            mass = neutral_mass(row.mz, row.adduct) or masses[row.compound]
            queries["ccs"].append(Query("ccs", [("ccs", item)], keys[row.compound], mass))
            per_compound.setdefault(row.compound, []).append(("ccs", item, mass))
    fused = []
    for compound, items in per_compound.items():
        if len({m for m, _, _ in items}) < 2:
            continue
        # items list MS/MS first: the first known mass is an MS/MS precursor's when one has it
        mass = next((m for _, _, m in items if m), masses[compound])
        fused.append(Query("fused", [(m, x) for m, x, _ in items], keys[compound], mass))
    queries["fused"] = fused
    rng = random.Random(seed)
    for name, items in queries.items():
        if max_queries and len(items) > max_queries:
            queries[name] = rng.sample(items, max_queries)
    return queries
