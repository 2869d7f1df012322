"""The learned ranking through the SQL function molvis_rerank(): the candidates a search found,
their evidence (models/ranker.py's EVIDENCE) and the model's ranker in; their new order, score
and probability out. The search and a psql user rank with the same statement."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

import numpy as np
from sqlalchemy import text
from sqlalchemy.orm import Session

# the evidence of a candidate that molvis_rerank() reads, its arguments in order
EVIDENCE = (
    "model_score",  # the structure model's cosine of the query's spectrum to the candidate
    "fragmenter_score",  # MetFrag's score share of the candidate's fragments (explain.py)
    "explained_intensity",  # share of the query's fragment intensity they explain
    "predicted_similarity",  # entropy similarity of the forward model's predicted spectrum
    "library_score",  # best library match to the candidate's own reference spectra
    "mass_error_ppm",  # |candidate mass - query's neutral mass| in ppm (not spectral)
    "ccs_deviation_pct",  # |query CCS - candidate's measured, else predicted, CCS| in % (not spectral)
)

RERANK_SQL = text(
    "SELECT rank, inchikey, score, probability FROM molvis_rerank(CAST(:ranker AS jsonb), "
    "CAST(:keys AS text[]), "
    + ", ".join(f"CAST(:{e} AS float8[])" for e in EVIDENCE)
    + ", CAST(:confident AS boolean[]))"
)


@dataclass(frozen=True)
class Reranked:
    """A candidate's place in the learned order: its row in the input, new rank, score and
    probability of being the right one among the candidates given."""

    row: int
    rank: int
    score: float
    probability: float


def _values(column: np.ndarray) -> list[float | None]:
    return [None if math.isnan(v) else float(v) for v in column]


def rerank(
    session: Session,
    ranker: dict,
    keys: list[str],
    values: np.ndarray,
    confident: list[bool],
) -> list[Reranked]:
    """The candidates (InChIKeys, their EVIDENCE values with NaN where missing, whether each is
    a confident library match) in the ranker's order, best first."""
    if not keys:
        return []
    params = {e: _values(values[:, n]) for n, e in enumerate(EVIDENCE)}
    rows = session.execute(
        RERANK_SQL,
        {"ranker": json.dumps(ranker), "keys": keys, "confident": confident, **params},
    ).all()
    where = {key: n for n, key in enumerate(keys)}
    return [Reranked(where[r.inchikey], r.rank, float(r.score), float(r.probability)) for r in rows]
