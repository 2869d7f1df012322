"""Run queries: embed each query's measurements with the loaded model and rank the registry's
structures with molvis_search() (the same path for `molvis search` and the query page)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from sqlalchemy.orm import Session

from molvis.workflows.model_loading import LoadedModel
from molvis.workflows.query import Query
from registry.search import SearchRequest, SearchResult, search

MODALITIES = ("msms", "ir", "ccs")


@dataclass
class SearchOptions:
    """Candidate filters and ranking settings, with the CLI's and the page's defaults."""

    ppm: float = 10.0
    formula: str | None = None
    sources: list[str] | None = None
    k: int = 20
    weights: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.ppm > 0:
            raise ValueError(f"mass window {self.ppm:g} ppm: give a positive number")
        if self.k < 1:
            raise ValueError(f"{self.k} hits asked for: give at least 1")


def parse_weights(items: list[str] | None) -> dict[str, float]:
    """Modality weights from 'msms=W' / 'ir=W' / 'ccs=W' items."""
    weights = {}
    for item in items or []:
        name, sep, value = item.partition("=")
        if not sep or name not in MODALITIES:
            raise ValueError(f"--weight {item!r} is not msms=W, ir=W or ccs=W")
        weights[name] = float(value)
    return weights


def query_vectors(loaded: LoadedModel, query: Query) -> dict[str, np.ndarray]:
    """The model's vector of each measurement the query holds."""
    from models.query import ccs_vector, ir_vector, msms_vector

    vectors: dict[str, np.ndarray] = {}
    if query.msms is not None:
        vectors["msms"] = msms_vector(loaded.model, query.msms, loaded.device)
    if query.ir is not None:
        vectors["ir"] = ir_vector(loaded.model, query.ir, loaded.device)
    if query.ccs is not None and query.ccs_adduct:
        ion_mz = query.precursor_mz if query.adduct == query.ccs_adduct else None
        vectors["ccs"] = ccs_vector(
            loaded.model, query.ccs, ion_mz, query.ccs_adduct, loaded.device
        )
    return vectors


def run_query(
    session: Session, loaded: LoadedModel, query: Query, options: SearchOptions
) -> SearchResult:
    """Ranked candidate structures for one query."""
    request = SearchRequest(
        vectors=query_vectors(loaded, query),
        weights=options.weights,
        neutral_mass=query.neutral_mass,
        ppm=options.ppm,
        formula=options.formula,
        ccs=query.ccs,
        ccs_adduct=query.ccs_adduct,
        sources=options.sources,
        k=options.k,
        model=loaded.info.name,
    )
    return search(session, request, query.title)


def result_dict(result: SearchResult, query: Query, loaded: LoadedModel) -> dict:
    """The JSON shape of `molvis search --json`: the result plus model, neutral mass, notes."""
    return {
        **result.as_dict(),
        "model": loaded.info.name,
        "neutral_mass": query.neutral_mass,
        "notes": query.notes,
    }
