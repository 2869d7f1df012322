"""The library row of `molvis evaluate --library`: held-out spectra searched as unknowns with
the library, and the hit-probability calibration fitted on the validation split.

For each sampled test-split spectrum, four searches: with the whole library (`self`: its own
spectrum is there), without itself (`others`: the compound's other spectra remain), without
any spectrum of its compound (`none`: the model must carry it) and by the model alone.

The open-world calibration is fitted on validation-split spectra in two worlds: searched
without themselves (the compound is in the registry: weight `coverage`) and without any
spectrum of their compound and with its structure removed from the candidates (the compound is
new: weight 1 - coverage). Its expected calibration error, the top hit's probability beside
its hit rate in each world, and the false discovery rate of the hits it calls confident are
measured on the test split's spectra in the same two worlds."""

from __future__ import annotations

import random
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from models.calibration import (
    DEFAULT_COVERAGE,
    Calibration,
    HitEvidence,
    fit,
    with_context,
    with_order,
)
from models.calibration_check import HeldOutCheck
from molvis.workflows.library_match import Library
from molvis.workflows.model_loading import LoadedModel, load_model
from molvis.workflows.query import Query
from molvis.workflows.search import Identification, SearchOptions, query_vectors, run_query
from registry.db.connection import session_scope
from registry.db.settings import load_settings
from registry.learned.versions import set_calibration
from registry.library.flash_index import LibraryOptions
from registry.read.measurements import MsmsRow, read_measurements

KS = (1, 5, 20)
THRESHOLDS = (0.5, 0.8, 0.9, 0.95)  # top-hit probabilities whose false discovery rate is shown


def truth_removed(found: Identification, truth: str) -> list[HitEvidence]:
    """The query's hit numbers as if its compound were not in the registry: every stereo
    variant of the truth dropped from the hits and the window, the rest ranked up."""
    kept = [
        n
        for h, n in zip(found.result.hits, found.numbers, strict=True)
        if h.inchikey[:14] != truth[:14]
    ]
    models = [n.model_score for n in kept if n.model_score is not None]
    candidates = max(found.result.candidates - 1, len(kept))
    return with_context(
        [
            replace(n, best_model_score=max(models, default=None), rank=rank, candidates=candidates)
            for rank, n in enumerate(kept, 1)
        ]
    )


def split_spectra(session: Session, keys: list[str]) -> list[tuple[str, MsmsRow]]:
    """(InChIKey, spectrum) of every current stored spectrum of these compounds."""
    ids = dict(
        session.execute(
            text("SELECT id, inchikey FROM compound WHERE inchikey = ANY(:keys)"), {"keys": keys}
        ).all()
    )
    rows = read_measurements(session, "msms", "t.compound_id = ANY(:ids)", {"ids": list(ids)})
    return [(ids[r.compound], r) for r in rows]


def _query(row: MsmsRow) -> Query:
    return Query(
        f"spectrum {row.measurement_id}", msms=row, precursor_mz=row.precursor_mz, adduct=row.adduct
    )


def _rank(found: Identification, truth: str) -> int | None:
    return next((h.rank for h in found.result.hits if h.inchikey[:14] == truth[:14]), None)


def _right(found: Identification, truth: str) -> list[bool]:
    """Which of the hits is the truth (any stereo variant of it)."""
    return [h.inchikey[:14] == truth[:14] for h in found.result.hits]


def _row(name: str, ranks: list[int | None], candidates: list[int]) -> dict[str, Any]:
    r = np.array([x if x is not None else 10**9 for x in ranks])
    n = np.maximum(np.array(candidates, dtype=float), 1)
    out: dict[str, Any] = {"set": name, "n": len(ranks)}
    for k in KS:
        out[f"top{k}"] = float(np.mean(r <= k)) if len(r) else None
    out["random_top1"] = float(np.mean(1 / n)) if len(n) else None
    out["mean_candidates"] = float(n.mean()) if len(n) else None
    return out


def _own_first(found: Identification, spectrum_id: int) -> bool:
    """The query's own spectrum is the best library match (ties with it count as first)."""
    identity = found.library.identity
    return bool(identity) and any(
        m.match.spectrum_id == spectrum_id
        for m in identity
        if m.match.score >= identity[0].match.score - 1e-6
    )


def _sample(items: list, n: int | None, seed: int) -> list:
    return random.Random(seed).sample(items, n) if n and len(items) > n else items


@dataclass
class _Bench:
    """What every evaluated query is searched with: the model, the search options, the library
    and, per skeleton (first InChIKey block), the ids of its validation and test spectra."""

    session: Session
    loaded: LoadedModel
    options: SearchOptions
    library: Library
    per_skeleton: dict[str, set[int]]

    def search(
        self, query: Query, vectors: dict[str, np.ndarray], exclude: frozenset[int] = frozenset()
    ) -> Identification:
        return run_query(
            self.session, self.loaded, query, self.options, self.library, exclude, vectors
        )

    def two_worlds(
        self, key: str, row: MsmsRow, query: Query, vectors: dict[str, np.ndarray]
    ) -> tuple[Identification, Identification]:
        """The query searched without itself (its compound present) and without every
        spectrum of its skeleton (its compound absent once `truth_removed` drops it)."""
        own = frozenset({row.measurement_id})
        skeleton = frozenset(self.per_skeleton[key[:14]])
        return self.search(query, vectors, own), self.search(query, vectors, skeleton)


def _fit_calibration(
    bench: _Bench,
    val: list[tuple[str, MsmsRow]],
    max_queries: int | None,
    seed: int,
    coverage: float,
    ppm: float,
) -> Calibration:
    """The open-world calibration from validation spectra only, in both worlds."""
    hits: list[HitEvidence] = []
    correct: list[bool] = []
    weights: list[float] = []
    for key, row in _sample(val, max_queries, seed):
        query = _query(row)
        present, absent = bench.two_worlds(key, row, query, query_vectors(bench.loaded, query))
        gone = truth_removed(absent, key)
        hits += present.numbers + gone
        correct += _right(present, key) + [False] * len(gone)
        weights += [coverage] * len(present.numbers) + [1 - coverage] * len(gone)
    about = {
        "split": "val",
        "queries": min(len(val), max_queries or len(val)),
        "ppm": ppm,
        "worlds": "truth present (own spectrum left out) and truth removed",
    }
    return fit(hits, correct, weights, coverage, about)


@dataclass
class _TestRuns:
    """The test split's searches: the truth's rank and the candidates of each set of searches,
    whether the query's own spectrum came first, whether it is in the index at all."""

    ranks: dict[str, list[int | None]] = field(
        default_factory=lambda: {s: [] for s in ("self", "others", "none", "model")}
    )
    candidates: dict[str, list[int]] = field(
        default_factory=lambda: {s: [] for s in ("self", "others", "none", "model")}
    )
    self_first: list[bool] = field(default_factory=list)
    indexed: list[bool] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        first, indexed = self.self_first, self.indexed
        return {
            "queries": len(first),
            "self_spectrum_rank1": float(np.mean(first)) if first else None,
            # spectra with no peak left after cleaning (all near the precursor or noise) are
            # not in the index: the figure over the indexed ones
            "indexed": float(np.mean(indexed)) if indexed else None,
            "self_spectrum_rank1_indexed": (
                float(np.mean([f for f, i in zip(first, indexed, strict=True) if i]))
                if any(indexed)
                else None
            ),
            "rows": [_row(name, self.ranks[name], self.candidates[name]) for name in self.ranks],
        }


def _search_test_split(
    bench: _Bench,
    test: list[tuple[str, MsmsRow]],
    max_queries: int | None,
    seed: int,
    checks: HeldOutCheck,
) -> _TestRuns:
    """Each sampled test spectrum searched four ways; the calibration judged in both worlds."""
    runs = _TestRuns()
    indexed_ids = set(bench.library.index.ids.tolist())
    for key, row in _sample(test, max_queries, seed):
        query = _query(row)
        vectors = query_vectors(bench.loaded, query)
        others, none = bench.two_worlds(key, row, query, vectors)
        found = {
            "self": bench.search(query, vectors),
            "none": none,
            "model": run_query(
                bench.session, bench.loaded, query, bench.options, None, vectors=vectors
            ),
        }
        if len(bench.per_skeleton[key[:14]]) > 1:
            found["others"] = others
        checks.add("present", others.numbers, _right(others, key))
        gone = truth_removed(none, key)
        checks.add("absent", gone, [False] * len(gone))
        runs.self_first.append(_own_first(found["self"], row.measurement_id))
        runs.indexed.append(row.measurement_id in indexed_ids)
        for name, result in found.items():
            runs.ranks[name].append(_rank(result, key))
            runs.candidates[name].append(result.result.candidates)
    return runs


def evaluate_library(
    engine: Engine,
    model_name: str | None,
    ppm: float,
    max_queries: int | None,
    plot: Path | None = None,
    seed: int = 0,
    library_options: LibraryOptions | None = None,
    coverage: float = DEFAULT_COVERAGE,
    ranker: str = "hand",
) -> dict[str, Any]:
    """The library report; the fitted calibration is stored with the model as the fit of the
    order searched (the other order's fit kept). `coverage`: the
    prior share of queries whose compound is in the registry (module docstring). `ranker`:
    the order searched ("hand", as the shipped calibration was fitted; "learned", the search's
    default, with fragment evidence for every hit: several times slower)."""
    loaded: LoadedModel = load_model(engine, model_name)
    split = loaded.checkpoint["split"]
    options = SearchOptions(
        ppm=ppm,
        k=20,
        library=library_options or LibraryOptions(),
        fragments=ranker == "learned",
        ranker=ranker,
    )
    with session_scope(engine) as session:
        by_split = {
            part: [
                (k, r)
                for k, r in split_spectra(session, list(split[part]))
                if _query(r).neutral_mass
            ]
            for part in ("val", "test")
        }
        per_skeleton: dict[str, set[int]] = {}
        for key, row in by_split["val"] + by_split["test"]:
            per_skeleton.setdefault(key[:14], set()).add(row.measurement_id)
        library = Library(session, load_settings().home, options.library)
        bench = _Bench(session, loaded, options, library, per_skeleton)
        calibration = _fit_calibration(bench, by_split["val"], max_queries, seed, coverage, ppm)
        checks = HeldOutCheck(calibration, THRESHOLDS)
        runs = _search_test_split(bench, by_split["test"], max_queries, seed, checks)
    checked = checks.report()
    calibration.ece, calibration.ece_top1 = checked["ece_all_hits"], checked["ece_top1"]
    with session_scope(engine) as session:
        stored = with_order(loaded.info.calibration, ranker, calibration.to_dict())
        set_calibration(session, loaded.info.name, stored)
    report = {"model": loaded.info.name, "ppm": ppm, "ranker": ranker}
    report |= runs.summary() | {"calibration": checked}
    if plot is not None:
        from models.calibration_plot import reliability_plot

        cal = report["calibration"]
        reliability_plot(cal["bins"], cal["top1_bins"], cal["ece_all_hits"], cal["ece_top1"], plot)
    return report
