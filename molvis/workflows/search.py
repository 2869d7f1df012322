"""Run queries: match the query spectrum against the reference library, embed the query's
measurements with the loaded model, find the registry's candidates with molvis_search() (the
library's matches first), explain the query's fragments by each, re-rank them with the model's
learned ranker (molvis_rerank()) and give each hit its evidence, level and probability. The same
path serves `molvis search`, its batch export, the query page and the evaluation."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
from sqlalchemy.orm import Session

from models.calibration import Calibration, HitEvidence, fits_by_order, for_order
from molvis.workflows.evidence import KnownCcs, annotate
from molvis.workflows.fragment_evidence import fragment_evidence
from molvis.workflows.library_match import Library, LibraryEvidence
from molvis.workflows.model_loading import LoadedModel, shipped_calibration
from molvis.workflows.query import Query
from molvis.workflows.ranking import RERANK, learned_order, learned_ranker, shown
from registry.chem.identity import hill_formula
from registry.learned.ccs_predictions import predicted_by_skeleton
from registry.library.flash_index import LibraryOptions
from registry.search.molvis_search import (
    SearchRequest,
    SearchResult,
    filter_counts,
    measured_ccs,
    search,
)

MODALITIES = ("msms", "ir", "ccs")
MAX_PPM = 1000.0  # wider is no mass window at all: say so by giving no precursor
RANKERS = ("learned", "hand")
TOP_KS = (1, 5, 10)


@dataclass
class SearchOptions:
    """Candidate filters and ranking settings, with the CLI's and the page's defaults; the
    formula is checked and put in Hill order, the mass window capped at MAX_PPM."""

    ppm: float = 10.0
    formula: str | None = None
    sources: list[str] | None = None
    k: int = 20
    weights: dict[str, float] = field(default_factory=dict)
    library: LibraryOptions = field(default_factory=LibraryOptions)
    ccs_tolerance_pct: float = 3.0  # around the query CCS, for measured candidate values
    ccs_predicted_tolerance_pct: float | None = None  # None: the CCS predictor's own
    fragments: bool = True  # each hit's in-silico fragment evidence (the evaluation skips it)
    # "learned": the model's ranker over all the evidence (models/ranker.py); "hand": the model
    # score plus library_weight x the library score, confident library matches first
    ranker: str = "learned"

    def __post_init__(self) -> None:
        if self.ranker not in RANKERS:
            raise ValueError(f"ranker {self.ranker!r}: give one of {', '.join(RANKERS)}")
        if not 0 < self.ppm <= MAX_PPM:
            raise ValueError(f"mass window {self.ppm:g} ppm: give a number in (0, {MAX_PPM:g}]")
        for name, value in (
            ("CCS tolerance", self.ccs_tolerance_pct),
            ("predicted-CCS tolerance", self.ccs_predicted_tolerance_pct),
        ):
            if value is not None and not value > 0:
                raise ValueError(f"{name} {value:g} %: give a positive number")
        if self.k < 1:
            raise ValueError(f"{self.k} hits asked for: give at least 1")
        if self.formula is not None:
            self.formula = hill_formula(self.formula)


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


@dataclass
class Identification:
    """One query's answer: the ranked hits, what the library matched, each hit's evidence,
    level and probability (`annotations`, in rank order), the numbers behind each probability
    (`numbers`, what the calibration is fitted on) and notes on what was assumed."""

    query: Query
    result: SearchResult
    library: LibraryEvidence
    annotations: list[dict]
    numbers: list[HitEvidence]
    notes: list[str]
    filters: dict[str, int] = field(default_factory=dict)  # compounds left after each filter


def run_query(
    session: Session,
    loaded: LoadedModel,
    query: Query,
    options: SearchOptions,
    library: Library | None = None,
    exclude: frozenset[int] = frozenset(),
    vectors: dict[str, np.ndarray] | None = None,
) -> Identification:
    """Ranked candidate structures for one query, with their evidence. Without a `library`
    (or for a query without MS/MS) the model alone ranks. `exclude`: library spectra left out
    (evaluation); `vectors`: the query's model vectors when already computed."""
    evidence = library.match(session, query, options.ppm, exclude) if library else LibraryEvidence()
    ranker, why_hand = learned_ranker(loaded, query, options)
    request = SearchRequest(
        vectors=vectors if vectors is not None else query_vectors(loaded, query),
        weights=options.weights,
        neutral_mass=query.neutral_mass,
        ppm=options.ppm,
        formula=options.formula,
        ccs=query.ccs,
        ccs_adduct=query.ccs_adduct,
        ccs_tolerance_pct=options.ccs_tolerance_pct,
        ccs_predicted_tolerance_pct=options.ccs_predicted_tolerance_pct,
        sources=options.sources,
        k=max(options.k, RERANK) if ranker else options.k,
        model=loaded.info.name,
        library=evidence.best_per_compound(options.library),
        library_min_score=options.library.min_score,
        library_min_peaks=options.library.min_matched_peaks,
        library_weight=options.library.weight,
    )
    result = search(session, request, query.title)
    filters = (
        filter_counts(session, request)
        if options.formula or options.sources or query.ccs is not None
        else {}
    )
    explained = (
        fragment_evidence(query, result.hits, annotated=len(result.hits))
        if options.fragments
        else None
    )
    ccs = KnownCcs()
    if query.ccs is not None and query.ccs_adduct:
        keys = [h.inchikey for h in result.hits]
        predictor, predicted = predicted_by_skeleton(session, keys, query.ccs_adduct)
        ccs = KnownCcs(measured_ccs(session, keys, query.ccs_adduct), predicted, predictor)
    order = None
    if ranker is not None:
        order = learned_order(session, ranker, result, explained, ccs, query, options)
        result.hits = [replace(result.hits[o.row], rank=o.rank) for o in order]
        explained = [explained[o.row] for o in order] if explained else None
    if explained:
        explained = [shown(found, n) for n, found in enumerate(explained)]
    calibration, why = loaded_calibration(loaded, "learned" if order else "hand")
    notes = list(query.notes) + (library.notes if library else [])
    if why_hand:
        notes.append(why_hand)
    if ccs.predictor and not ccs.predicted and result.hits:
        notes.append(
            f"no predicted CCS of {query.ccs_adduct} is stored for these candidates: those never "
            "measured as that ion were kept by the CCS filter (molvis ccs backfill; "
            "--all-adducts for the less common adducts)"
        )
    if why and (calibration is None or query.msms is not None):
        notes.append(why)  # no probability, or one fitted on the other order
    if query.msms is None and calibration is not None:
        notes.append(
            "no probability: the calibration was fitted on MS/MS queries; IR- and CCS-only "
            "hits are ranked, not given a probability"
        )
    annotations, numbers = annotate(
        result, query, evidence, ccs, options.library, options.formula, calibration, explained
    )
    for n, entry in enumerate(annotations):
        entry["evidence"]["ranking"] = {"ranker": "hand"}
        if order:
            entry["evidence"]["ranking"] = {
                "ranker": "learned",
                "score": round(order[n].score, 6),
                "window_probability": round(order[n].probability, 6),
            }
            if entry["ranked_by"] != "confident library match":
                entry["ranked_by"] = "learned ranker"
                entry["ranking_value"] = round(order[n].score, 6)
    return Identification(query, result, evidence, annotations, numbers, notes, filters)


def loaded_calibration(loaded: LoadedModel, order: str) -> tuple[Calibration | None, str | None]:
    """The model's open-world calibration for a search ranked in `order` and a note where it
    was fitted on the other order; or None and the reason there is none (not fitted, or fitted
    by an older molvis that assumed the truth is always a candidate). A shipped model's row
    lacking an order's fit (registered before orders were told apart) takes the shipped one."""
    data = loaded.info.calibration
    if not data:
        return None, (
            f"no probability: model {loaded.info.name} is not calibrated "
            "(`molvis evaluate --library` fits it)"
        )
    fits = fits_by_order(data)
    if order not in fits:  # the shipped file is read only then, not on every query
        fits = fits_by_order(shipped_calibration(loaded.info) or {}) | fits
    try:
        fitted, note = for_order(fits, order)
        return Calibration.from_dict(fitted), note
    except (ValueError, KeyError, TypeError) as exc:
        shipped = shipped_calibration(loaded.info)
        if shipped and shipped != data:
            try:
                fitted, note = for_order(shipped, order)
                return Calibration.from_dict(fitted), note
            except (ValueError, KeyError, TypeError):
                pass
        return None, f"no probability: model {loaded.info.name}: {exc}"


def confidence(found: Identification) -> dict:
    """The query's confidence: the probability that its top hit is right (None without a
    calibration), how near the library comes to the unknown (its best identity and analogue
    scores: low values say the compound is likely new to the library), and the learned
    ranker's probability that the truth is among the first 1, 5, 10 hits if it is a candidate."""
    top = found.annotations[0]["probability"] if found.annotations else None
    window = [a["evidence"]["ranking"].get("window_probability") for a in found.annotations]
    identity = [m.match.score for m in found.library.identity if m.match.search != "ir"]
    analogues = [m.match.score for m in found.library.analogues]
    return {
        "top_hit_probability": top,
        "best_library_score": round(max(identity), 6) if identity else None,
        "best_analogue_score": round(max(analogues), 6) if analogues else None,
        "query_peaks": found.library.query_peaks,
        # the learned ranker's chance that the first k hits hold the right structure, if it is
        # among the candidates it re-ranked (None when the hand order ranked)
        "window_top_k_probability": {
            str(k): round(sum(window[:k]), 6) for k in TOP_KS if k <= len(window)
        }
        if window and window[0] is not None
        else None,
    }


def _analogue(m) -> dict:
    ref = m.reference
    return {
        "score": round(m.match.score, 6),
        "spectrum_id": ref.spectrum_id,
        "record_id": ref.record_id,
        "inchikey": ref.inchikey,
        "name": ref.name,
        "adduct": ref.adduct,
        "precursor_mz": ref.precursor_mz,
        "source": ref.source,
    }


def result_dict(found: Identification, loaded: LoadedModel) -> dict:
    """The JSON shape of `molvis search --json`: the result, each hit with its `evidence`,
    `level`, `summary` and `probability`, the library's analogue matches, the query's
    `confidence`, model, neutral mass, where it stood in its run (`feature_id`, `rt` in
    minutes, `scans`), its CCS, notes."""
    data = found.result.as_dict()
    for hit, extra in zip(data["hits"], found.annotations, strict=True):
        hit.update(extra)
    return {
        **data,
        "model": loaded.info.name,
        "neutral_mass": found.query.neutral_mass,
        "precursor_mz": found.query.precursor_mz,
        "adduct": found.query.adduct,
        **found.query.run_position,
        "ccs": found.query.ccs,
        "analogues": [_analogue(m) for m in found.library.analogues],
        "filters": found.filters,
        "confidence": confidence(found),
        "notes": found.notes,
    }
