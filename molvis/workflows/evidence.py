"""Each hit's evidence, its confidence level and its probability.

Levels follow Schymanski et al. (2014), as far as molvis's evidence reaches:
- 2a: a confident library match (MS/MS: entropy similarity and matched peaks at or above the
  thresholds, precursor within the window; IR: grid cosine >= 0.9 to a stored spectrum);
- 3: a tentative candidate: spectral evidence (the model's MS/MS or IR score, or a library
  match below the thresholds) for a structure that fits the mass or formula;
- 4: the formula agrees (given with the query) and no spectrum speaks for the structure;
- 5: the mass alone (or the CCS alone) supports it.
Level 1 needs a reference standard measured in the same lab and is never given here."""

from __future__ import annotations

from dataclasses import dataclass, field

from models.calibration import Calibration, HitEvidence
from molvis.workflows.library_match import LibraryEvidence, Matched
from molvis.workflows.query import Query
from registry.library import LibraryOptions
from registry.search import Hit, SearchResult

SPECTRAL = ("msms", "ir")


def _library(found: Matched | None, options: LibraryOptions) -> dict | None:
    if found is None:
        return None
    m, ref = found.match, found.reference
    return {
        "search": "ir" if m.search == "ir" else "msms",
        "score": round(m.score, 6),
        "matched_peaks": m.matched_peaks,
        "confident": options.confident(m),
        "spectrum_id": ref.spectrum_id,
        "record_id": ref.record_id,
        "reference_inchikey": ref.inchikey,
        "reference_name": ref.name,
        "adduct": ref.adduct,
        "collision_energy": ref.collision_energy,
        "source": ref.source,
        "precursor_mz": ref.precursor_mz,
    }


def ppm_error(hit: Hit, query: Query) -> float | None:
    mass = query.neutral_mass
    if not mass:
        return None
    return round((hit.monoisotopic_mass - mass) / mass * 1e6, 3)


@dataclass
class KnownCcs:
    """What is known of each candidate's CCS for the query's ion, per skeleton: measured
    values, and the predictor's value (used only where nothing was measured)."""

    measured: dict[str, list[float]] = field(default_factory=dict)
    predicted: dict[str, float] = field(default_factory=dict)
    predictor: str | None = None


def ccs_deviation(query: Query, known: KnownCcs, skeleton: str) -> dict | None:
    """The candidate's measured CCS nearest the query's (else its predicted CCS), and the
    query's deviation from it in %."""
    if query.ccs is None:
        return None
    measured = known.measured.get(skeleton)
    if measured:
        reference = min(measured, key=lambda v: abs(v - query.ccs))
        shown = {"measured": reference, "predicted": None, "basis": "measured"}
    elif skeleton in known.predicted:
        reference = known.predicted[skeleton]
        shown = {
            "measured": None,
            "predicted": round(reference, 2),
            "basis": "predicted",
            "predictor": known.predictor,
        }
    else:
        return None
    return shown | {
        "adduct": query.ccs_adduct,
        "deviation_pct": round((query.ccs - reference) / reference * 100, 3),
    }


def level(library: dict | None, hit: Hit, query: Query, formula: str | None) -> str:
    """The Schymanski level the hit's evidence reaches (module docstring)."""
    if library and library["confident"]:
        return "2a"
    spectral = library is not None or any(m in hit.scores for m in SPECTRAL)
    if spectral and (query.neutral_mass or formula):
        return "3"
    if formula and hit.formula == formula:
        return "4"
    return "5"


def annotate(
    result: SearchResult,
    query: Query,
    library: LibraryEvidence,
    ccs: KnownCcs,
    options: LibraryOptions,
    formula: str | None,
    calibration: Calibration | None,
) -> tuple[list[dict], list[HitEvidence]]:
    """`evidence`, `level` and `probability` of each hit, in rank order, and the numbers the
    probability is computed from (the calibration is fitted on these same numbers)."""
    model_scores = [h.score for h in result.hits if h.score is not None]
    best = max(model_scores) if model_scores else None
    out, numbers_of_hits = [], []
    for hit in result.hits:
        lib = _library(library.best_for(hit.inchikey, options), options)
        evidence = {
            "library": lib,
            "model": None
            if hit.score is None
            else {"score": round(hit.score, 6), "scores": hit.scores},
            "ppm_error": ppm_error(hit, query),
            "ccs": ccs_deviation(query, ccs, hit.inchikey[:14]),
            "formula": {
                "formula": hit.formula,
                "agrees": None if formula is None else hit.formula == formula,
            },
        }
        numbers = HitEvidence(
            lib["score"] if lib else None,
            lib["matched_peaks"] if lib else None,
            bool(lib and lib["confident"]),
            hit.score,
            best,
            hit.rank,
            result.candidates,
        )
        numbers_of_hits.append(numbers)
        probability = calibration.probability(numbers) if calibration else None
        out.append(
            {
                "evidence": evidence,
                "level": level(lib, hit, query, formula),
                "probability": None if probability is None else round(probability, 4),
            }
        )
    return out, numbers_of_hits
