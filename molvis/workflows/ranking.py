"""The learned order of a search's candidates: which ranker a search gets (the model's, fitted
on validation windows, models/ranker.py; or the hand order, and why), each found candidate's
evidence as the ranker reads it, and the new order from molvis_rerank()."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from sqlalchemy.orm import Session

from models.ranker import EVIDENCE, Ranker
from molvis.workflows.evidence import KnownCcs, ccs_deviation, ppm_error
from molvis.workflows.fragment_evidence import ANNOTATED, shipped_forward_model
from molvis.workflows.model_loading import LoadedModel, shipped_ranker
from molvis.workflows.query import Query
from registry.search.molvis_search import SearchResult
from registry.search.rerank import Reranked, rerank

if TYPE_CHECKING:
    from molvis.workflows.search import SearchOptions

RERANK = 100  # the learned ranker re-orders the first RERANK candidates of the hand order


def shown(found: dict | None, n: int) -> dict | None:
    """A hit's fragment evidence as shown: peak annotations for the first ANNOTATED hits."""
    if found is None or n < ANNOTATED:
        return found
    return {k: v for k, v in found.items() if k != "annotations"}


def learned_ranker(
    loaded: LoadedModel, query: Query, options: SearchOptions
) -> tuple[Ranker | None, str | None]:
    """The model's learned ranker when this search can use it, else None and, where the user
    could change it, why the hand order ranks. A ranker fitted for another version of the
    model, or with another forward model, is refused (RankerError): its weights read other
    cosines or predicted similarities."""
    if options.ranker != "learned" or query.msms is None or not query.adduct:
        return None, None
    if not options.fragments:
        return None, "ranked by hand: the learned ranker reads the fragment evidence"
    data = loaded.info.ranker or shipped_ranker(loaded.info)
    if not data:
        return None, (
            f"ranked by hand: model {loaded.info.name} has no learned ranker "
            "(python -m bench.ranker fits one)"
        )
    ranker = Ranker.from_dict(data)
    forward = shipped_forward_model()
    ranker.check(loaded.info.name, loaded.info.version, forward.version if forward else "")
    return ranker, None


def learned_order(
    session: Session,
    ranker: Ranker,
    result: SearchResult,
    explained: list[dict | None] | None,
    ccs: KnownCcs,
    query: Query,
    options: SearchOptions,
) -> list[Reranked]:
    """The first options.k of the found hits in the ranker's order (molvis_rerank()). A hit's
    |mass error| counts at most the search's ppm window: the ranker was fitted on candidates
    within it, and a library match from outside it (another adduct's spectrum at this
    precursor) would otherwise be scored far beyond what the fit saw."""

    def value(x) -> float:
        return np.nan if x is None else float(x)

    values = np.full((len(result.hits), len(EVIDENCE)), np.nan)
    confident = []
    for n, hit in enumerate(result.hits):
        found = (explained[n] if explained else None) or {}
        error = ppm_error(hit, query)
        deviation = ccs_deviation(query, ccs, hit.inchikey[:14])
        values[n] = [
            value(hit.score),
            value(found.get("fragmenter_score")),
            value(found.get("explained_intensity")),
            value(found.get("predicted_similarity")),
            value(hit.library_score),
            np.nan if error is None else min(abs(error), options.ppm),
            np.nan if deviation is None else abs(deviation["deviation_pct"]),
        ]
        confident.append(
            hit.library_score is not None
            and hit.library_score >= options.library.min_score
            and (hit.matched_peaks or 0) >= options.library.min_matched_peaks
        )
    keys = [h.inchikey for h in result.hits]
    return rerank(session, ranker.to_dict(), keys, values, confident)[: options.k]
