"""Multimodal retrieval through the SQL function molvis_search(): candidate filters (mass
window, formula, CCS window, sources), fused per-modality cosine scores and the library
matches' evidence (confident matches first, stereo variants folded into one hit)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from sqlalchemy import text
from sqlalchemy.orm import Session

from registry.chem.names import display_name
from registry.learned.embeddings import vector_literal


@dataclass
class SearchRequest:
    """Query vectors per modality ('msms', 'ir', 'ccs') and the candidate filters."""

    vectors: dict[str, np.ndarray]
    weights: dict[str, float] = field(default_factory=dict)
    neutral_mass: float | None = None
    ppm: float = 10.0
    formula: str | None = None
    ccs: float | None = None
    ccs_adduct: str | None = None
    ccs_tolerance_pct: float = 3.0
    # candidates without a measured CCS: the predictor's value (default the active one) within
    # its own tolerance (default the larger of ccs_tolerance_pct and its validation p95 error)
    ccs_predictor: str | None = None
    ccs_predicted_tolerance_pct: float | None = None
    sources: list[str] | None = None
    k: int = 20
    model: str | None = None
    library: dict[str, tuple[float, int]] = field(default_factory=dict)
    library_min_score: float = 0.7
    library_min_peaks: int = 6
    library_weight: float = 0.25


@dataclass
class Hit:
    """One ranked structure (a skeleton: its stereo variants are listed in `variants`);
    `scores` holds the model's cosine per query modality, `score` their weighted mean (None
    for a library-matched compound the model has not embedded yet); `library_score` and
    `matched_peaks` are its best library match. Confident library matches rank first."""

    rank: int
    inchikey: str
    smiles: str
    name: str | None
    monoisotopic_mass: float
    score: float | None
    scores: dict[str, float]
    formula: str | None = None
    library_score: float | None = None
    matched_peaks: int | None = None
    variants: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "rank": self.rank,
            "inchikey": self.inchikey,
            "smiles": self.smiles,
            "name": self.name,
            "score": None if self.score is None else round(self.score, 6),
            "scores": self.scores,
            "monoisotopic_mass": self.monoisotopic_mass,
            "formula": self.formula,
            "variants": self.variants,
        }


@dataclass
class SearchResult:
    query: str
    candidates: int
    hits: list[Hit]
    weights: dict[str, float]

    def as_dict(self) -> dict:
        return {
            "query": self.query,
            "candidates": self.candidates,
            "weights": self.weights,
            "hits": [h.as_dict() for h in self.hits],
        }


SEARCH_SQL = text("""
SELECT * FROM molvis_search(
    CAST(:vectors AS vector[]), CAST(:modalities AS text[]), CAST(:weights AS float8[]),
    neutral_mass => :neutral_mass, ppm => :ppm, formula => :formula, ccs => :ccs,
    ccs_adduct => :ccs_adduct, ccs_tolerance_pct => :ccs_tol, sources => :sources,
    k => :k, model_name => :model, library_keys => :library_keys,
    library_scores => :library_scores, library_peaks => :library_peaks,
    library_min_score => :library_min_score, library_min_peaks => :library_min_peaks,
    library_weight => :library_weight, ccs_predictor_name => :ccs_predictor,
    ccs_predicted_tolerance_pct => :ccs_pred_tol)
""")


def search(session: Session, request: SearchRequest, title: str = "") -> SearchResult:
    """Ranked structures for one query; raises ValueError for a query without vectors.
    `request.library` maps InChIKeys of library-matched compounds to (score, matched peaks)."""
    if not request.vectors:
        raise ValueError("a search needs at least one query modality (MS/MS, IR or CCS)")
    modalities = sorted(request.vectors)
    weights = [float(request.weights.get(m, 1.0)) for m in modalities]
    if any(w < 0 for w in weights) or sum(weights) <= 0:
        raise ValueError("modality weights must be non-negative and not all zero")
    rows = session.execute(
        SEARCH_SQL,
        {
            "vectors": [vector_literal(request.vectors[m]) for m in modalities],
            "modalities": modalities,
            "weights": weights,
            "neutral_mass": request.neutral_mass,
            "ppm": request.ppm,
            "formula": request.formula,
            "ccs": request.ccs,
            "ccs_adduct": request.ccs_adduct,
            "ccs_tol": request.ccs_tolerance_pct,
            "sources": request.sources,
            "k": request.k,
            "model": request.model,
            "library_keys": list(request.library),
            "library_scores": [float(s) for s, _ in request.library.values()],
            "library_peaks": [int(p) for _, p in request.library.values()],
            "library_min_score": request.library_min_score,
            "library_min_peaks": request.library_min_peaks,
            "library_weight": request.library_weight,
            "ccs_predictor": request.ccs_predictor,
            "ccs_pred_tol": request.ccs_predicted_tolerance_pct,
        },
    ).all()
    hits = [
        Hit(
            r.rank,
            r.inchikey,
            r.smiles,
            display_name(r.name),
            r.monoisotopic_mass,
            None if r.score is None else float(r.score),
            {k: float(v) for k, v in r.scores.items()},
            r.compound_formula,
            None if r.library_score is None else float(r.library_score),
            r.matched_peaks,
            list(r.variants or []),
        )
        for r in rows
    ]
    candidates = int(rows[0].candidates) if rows else 0
    return SearchResult(title, candidates, hits, dict(zip(modalities, weights, strict=True)))


@dataclass
class Neighbour:
    inchikey: str
    smiles: str
    name: str | None
    tanimoto: float


# Search breadth of the fingerprint index, set for the transaction only: pgvector's default
# of 40 misses many of the true nearest at 1M compounds; recall first, since a missed
# structure is silently missed (the sweep: docs/SCALING.md, section 2).
TANIMOTO_EF_SEARCH = 800
MAX_EF_SEARCH = 1000  # pgvector's ceiling: the index returns at most this many rows


def similar_structures(session: Session, inchikey: str, k: int = 10) -> list[Neighbour]:
    """Nearest compounds by the report's fingerprint (Jaccard distance, HNSW-indexed)."""
    session.execute(
        text("SELECT set_config('hnsw.ef_search', :ef, true)"),
        {"ef": str(min(MAX_EF_SEARCH, max(TANIMOTO_EF_SEARCH, 2 * k)))},
    )
    rows = session.execute(
        text("""
        SELECT c.inchikey, c.smiles, c.names[1] AS name,
               1 - (c.fingerprint <%> q.fingerprint) AS tanimoto
        FROM compound c, (SELECT fingerprint FROM compound WHERE inchikey = :key) q
        WHERE c.inchikey <> :key AND c.fingerprint IS NOT NULL
        ORDER BY c.fingerprint <%> q.fingerprint LIMIT :k"""),
        {"key": inchikey, "k": k},
    )
    return [Neighbour(r.inchikey, r.smiles, r.name, float(r.tanimoto)) for r in rows]


@dataclass
class EmbeddingMatch:
    spectrum_id: int
    inchikey: str
    name: str | None
    similarity: float


def library_search(
    session: Session, modality: str, vector: np.ndarray, model: str | None = None, k: int = 10
) -> list[EmbeddingMatch]:
    """Stored measurements of one modality nearest to a query embedding (spectral library
    search by embedding; see registry.library.classical for the classical scores)."""
    rows = session.execute(
        text("""
        SELECT e.measurement_id, c.inchikey, c.names[1] AS name,
               1 - (e.embedding <=> CAST(:q AS vector)) AS similarity
        FROM measurement_embedding e JOIN compound c ON c.id = e.compound_id
        WHERE e.modality = :modality AND e.model_id = (
            SELECT id FROM model WHERE (CAST(:model AS text) IS NULL AND is_active)
                                    OR name = :model)
        ORDER BY e.embedding <=> CAST(:q AS vector) LIMIT :k"""),
        {"q": vector_literal(vector), "modality": modality, "model": model, "k": k},
    )
    return [EmbeddingMatch(r.measurement_id, r.inchikey, r.name, float(r.similarity)) for r in rows]


def measured_ccs(session: Session, inchikeys: list[str], adduct: str) -> dict[str, list[float]]:
    """Current measured CCS values of one ion, per skeleton (first InChIKey block)."""
    rows = session.execute(
        text("""SELECT left(c.inchikey, 14) AS skeleton, v.ccs FROM ccs_value v
                JOIN compound c ON c.id = v.compound_id
                WHERE left(c.inchikey, 14) = ANY(:keys) AND v.adduct = :adduct
                  AND v.superseded_by IS NULL"""),
        {"keys": [k[:14] for k in inchikeys], "adduct": adduct},
    )
    values: dict[str, list[float]] = {}
    for r in rows:
        values.setdefault(r.skeleton, []).append(float(r.ccs))
    return values


def filter_counts(session: Session, request: SearchRequest) -> dict[str, int]:
    """How many compounds each filter leaves, in order (mass window, formula, sources, CCS), from
    the SQL function molvis_filter_counts() beside the search, so the page can say which filter
    removed the candidates."""
    row = session.execute(
        text("""
        SELECT * FROM molvis_filter_counts(
            neutral_mass => CAST(:mass AS float8), ppm => CAST(:ppm AS float8),
            formula => CAST(:formula AS text), ccs => CAST(:ccs AS float8),
            ccs_adduct => CAST(:ccs_adduct AS text), ccs_tolerance_pct => CAST(:tol AS float8),
            sources => CAST(:sources AS text[]), ccs_predictor_name => CAST(:predictor AS text),
            ccs_predicted_tolerance_pct => CAST(:pred_tol AS float8))"""),
        {
            "formula": request.formula,
            "sources": request.sources,
            "ccs": request.ccs,
            "ccs_adduct": request.ccs_adduct,
            "tol": request.ccs_tolerance_pct,
            "predictor": request.ccs_predictor,
            "pred_tol": request.ccs_predicted_tolerance_pct,
            "mass": request.neutral_mass,
            "ppm": request.ppm,
        },
    ).one()
    return {
        "mass_window": row.in_mass_window,
        "formula": row.with_formula,
        "sources": row.from_sources,
        "ccs": row.ccs_fits,
    }
