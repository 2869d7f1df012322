"""Harder and fairer candidate sets for the mass-window evaluation, each beside its random
expectation and a structure-prior control.

A model trained against library decoys can win by telling measured-looking structures from
library ones without reading the spectrum. So the same queries are ranked in:
- `window`: every registry compound within the ppm window (MOSES included when loaded), also
  split by window size (`window 2-9`, `window 10-99`, `window 100+` candidates);
- `measured_only`: the window restricted to compounds with any measurement, where the
  measured-vs-library shortcut cannot help; `measured_only 3+` the same where it holds at
  least MEASURED_MIN of them (a window of one or two measured candidates has random top-1 of
  1/2 or more, where no ranking can reach 2.5x random);
- `same_formula`: the window's compounds of the truth's formula (a protocol set, as in
  MassSpecGym's formula challenge: the formula is the set's definition, not a model input);
- `massspecgym_256`: MassSpecGym's protocol where it fits: at most 256 same-mass candidates
  (the truth and a seeded sample of the others).
Hits are counted on the first InChIKey block (stereo variants are one structure) in every set.
The control `structure_prior` is the analytic "measured first" ranking: measured candidates
above library ones, in random order among themselves (expected top-k = min(k, m) / m with m
measured candidates, the truth being measured)."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from models.evaluate import Embedder, Query, embed_queries, embed_structures, rank_of_truth

KS = (1, 5, 10, 20)
BUCKETS = ((2, 9), (10, 99), (100, None))
MASSSPECGYM_MAX = 256
MEASURED_MIN = 3
MEASURED_SET = f"measured_only {MEASURED_MIN}+"


@dataclass(frozen=True)
class Candidate:
    inchikey: str
    smiles: str
    measured: bool
    formula: str | None


def _row(name: str, cset: str, ranks: list, sizes: list, measured: list, control=None) -> dict:
    """Top-k, the random expectation and the structure-prior expectation of one set."""
    found = np.array([np.inf if r is None else r for r in ranks], dtype=float)
    n = np.maximum(np.array(sizes, dtype=float), 1)
    m = np.maximum(np.array(measured, dtype=float), 1)
    present = np.isfinite(found)
    row: dict[str, Any] = {
        "query": name,
        "candidate_set": cset,
        "n_queries": len(ranks),
        "mean_candidates": float(np.mean(sizes)) if len(n) else 0.0,
        "truth_in_candidates": float(present.mean()) if len(n) else 0.0,
    }
    for k in KS:
        row[f"top{k}"] = float(np.mean(found <= k)) if len(n) else 0.0
        row[f"random_top{k}"] = float(np.mean(present * np.minimum(k, n) / n)) if len(n) else 0.0
        row[f"prior_top{k}"] = float(np.mean(present * np.minimum(k, m) / m)) if len(n) else 0.0
    if control:
        row["control"] = control
    return row


def window_scores(
    embedder: Embedder, cands: list[Candidate], query: torch.Tensor, cache: dict[str, torch.Tensor]
) -> np.ndarray:
    """Cosine of a unit query vector to each candidate's structure vector; a structure is
    embedded once and kept in `cache` (InChIKey -> vector) for every later window."""
    missing = [c for c in cands if c.inchikey not in cache]
    if missing:
        vectors = embed_structures(embedder, [c.smiles for c in missing])
        cache.update({c.inchikey: v for c, v in zip(missing, vectors, strict=True)})
    if not cands:
        return np.zeros(0)
    return (torch.stack([cache[c.inchikey] for c in cands]) @ query).numpy()


def candidate_set_rows(
    embedder: Embedder,
    queries: list[Query],
    candidates_for: Callable[[float], list[Candidate]],
    name: str,
    cache: dict[str, torch.Tensor],
    seed: int = 0,
    control: str | None = None,
    scores_for: Callable[[Query, list[Candidate]], np.ndarray] | None = None,
) -> list[dict[str, Any]]:
    """The rows of every candidate set for these queries (a query whose truth is not in a set
    misses in it); `control` labels the rows (the spectrum-blind queries). `scores_for` ranks
    a window without the model (the fragmenter reading the query's peaks)."""
    if not queries:
        return []
    rng = random.Random(seed)
    q = embed_queries(embedder, queries) if scores_for is None else None
    sets: dict[str, tuple[list, list, list]] = {}

    def add(cset: str, cands: list[Candidate], scores: np.ndarray, truth: str) -> None:
        ranks, sizes, measured = sets.setdefault(cset, ([], [], []))
        keys = [c.inchikey[:14] for c in cands]
        sizes.append(len(cands))
        measured.append(sum(c.measured for c in cands))
        ranks.append(rank_of_truth(scores, keys.index(truth[:14])) if truth[:14] in keys else None)

    for i, query in enumerate(queries):
        cands = candidates_for(query.neutral_mass) if query.neutral_mass else []
        if scores_for is None:
            scores = window_scores(embedder, cands, q[i], cache)
        else:
            scores = scores_for(query, cands)
        add("window", cands, scores, query.truth)
        for lo, hi in BUCKETS:
            if len(cands) >= lo and (hi is None or len(cands) <= hi):
                add(f"window {lo}-{hi}" if hi else f"window {lo}+", cands, scores, query.truth)
        keep = [n for n, c in enumerate(cands) if c.measured]
        add("measured_only", [cands[n] for n in keep], scores[keep], query.truth)
        if len(keep) >= MEASURED_MIN:
            add(MEASURED_SET, [cands[n] for n in keep], scores[keep], query.truth)
        formula = next((c.formula for c in cands if c.inchikey[:14] == query.truth[:14]), None)
        same = [n for n, c in enumerate(cands) if formula and c.formula == formula]
        add("same_formula", [cands[n] for n in same], scores[same], query.truth)
        gym = list(range(len(cands)))
        if len(gym) > MASSSPECGYM_MAX:
            truth = [n for n in gym if cands[n].inchikey[:14] == query.truth[:14]]
            others = [n for n in gym if n not in truth]
            gym = truth + rng.sample(others, MASSSPECGYM_MAX - len(truth))
        add("massspecgym_256", [cands[n] for n in gym], scores[gym], query.truth)
    order = [
        "window",
        *(f"window {lo}-{hi}" if hi else f"window {lo}+" for lo, hi in BUCKETS),
        "measured_only",
        MEASURED_SET,
        "same_formula",
        "massspecgym_256",
    ]
    return [_row(name, c, *sets[c], control=control) for c in order if c in sets]
