"""Each hit's evidence, its confidence level and its probability.

Levels follow Schymanski et al. (2014), as far as molvis's evidence reaches:
- 2a: a confident library match (MS/MS: entropy similarity and matched peaks at or above the
  thresholds, precursor within the window; IR: grid cosine >= 0.9 to a stored spectrum);
- 3: a tentative candidate: positive spectral evidence (the model's MS/MS or IR cosine above
  0, a library match of at least POSITIVE_LIBRARY_SCORE with POSITIVE_LIBRARY_PEAKS matched
  peaks, IR: POSITIVE_IR_SCORE, or its in-silico fragments explaining POSITIVE_FRAGMENT_PEAKS
  of the query's fragment peaks and POSITIVE_FRAGMENT_SHARE of their intensity) for a structure
  that fits the query's mass or formula;
- 4: the formula agrees (given with the query) and no spectrum speaks for the structure;
- 5: the query's mass alone supports it;
- none: no mass, no formula and no spectral evidence (an IR- or CCS-only query without a
  match): the hit is a ranked guess.
Level 1 needs a reference standard measured in the same lab and is never given here.
Probabilities come from the model's open-world calibration (models/calibration.py) and only
for queries with an MS/MS spectrum, the kind it was fitted on."""

from __future__ import annotations

from dataclasses import dataclass, field

from models.calibration import Calibration, HitEvidence, with_context
from molvis.workflows.library_match import LibraryEvidence, Matched
from molvis.workflows.query import Query
from registry.library.flash_index import LibraryOptions
from registry.search.molvis_search import Hit, SearchResult

SPECTRAL = ("msms", "ir")
POSITIVE_LIBRARY_SCORE = 0.5
POSITIVE_LIBRARY_PEAKS = 3
POSITIVE_IR_SCORE = 0.7
POSITIVE_FRAGMENT_PEAKS = 3
POSITIVE_FRAGMENT_SHARE = 0.5


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
    values, and the predictor's value with its 95 % interval in % (None: the predictor gives
    none), used only where nothing was measured."""

    measured: dict[str, list[float]] = field(default_factory=dict)
    predicted: dict[str, tuple[float, float | None]] = field(default_factory=dict)
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
        reference, uncertainty = known.predicted[skeleton]
        shown = {
            "measured": None,
            "predicted": round(reference, 2),
            "uncertainty_pct": None if uncertainty is None else round(uncertainty, 2),
            "basis": "predicted",
            "predictor": known.predictor,
        }
    else:
        return None
    return shown | {
        "adduct": query.ccs_adduct,
        "deviation_pct": round((query.ccs - reference) / reference * 100, 3),
    }


def spectral_support(library: dict | None, hit: Hit, fragments: dict | None = None) -> bool:
    """Positive spectral evidence for the hit (module docstring): a model cosine above 0 for
    a spectrum, a library match strong enough to count, or fragments that explain the query."""
    if any(hit.scores.get(m, 0.0) > 0 for m in SPECTRAL):
        return True
    if (
        fragments
        and fragments["explained_peaks"] >= POSITIVE_FRAGMENT_PEAKS
        and fragments["explained_intensity"] >= POSITIVE_FRAGMENT_SHARE
    ):
        return True
    if library is None:
        return False
    if library["search"] == "ir":
        return library["score"] >= POSITIVE_IR_SCORE
    return (
        library["score"] >= POSITIVE_LIBRARY_SCORE
        and (library["matched_peaks"] or 0) >= POSITIVE_LIBRARY_PEAKS
    )


def level(
    library: dict | None,
    hit: Hit,
    query: Query,
    formula: str | None,
    fragments: dict | None = None,
) -> str | None:
    """The Schymanski level the hit's evidence reaches (module docstring); None for none.
    `fragments`: the hit's fragment evidence (fragment_evidence.py), if computed."""
    if library and library["confident"]:
        return "2a"
    agrees = formula is not None and hit.formula == formula
    mass = bool(query.neutral_mass)
    if spectral_support(library, hit, fragments) and (mass or agrees):
        return "3"
    if agrees:
        return "4"
    return "5" if mass else None


def summary(level_: str | None, evidence: dict, hit: Hit) -> str:
    """The hit's evidence in words, the level first."""
    parts = []
    lib = evidence["library"]
    if lib:
        kind = "IR library match" if lib["search"] == "ir" else "library match"
        peaks = "" if lib["search"] == "ir" else f", {lib['matched_peaks']} matched peaks"
        strength = "confident" if lib["confident"] else "below the confident thresholds"
        parts.append(f"{kind} {lib['score']:.2f}{peaks} ({strength})")
    refs = evidence.get("references") or {}
    if refs.get("compared"):
        parts.append(
            f"{refs['matching']} of its {refs['compared']} reference spectra at this precursor "
            f"match (>= {POSITIVE_LIBRARY_SCORE:g})"
        )
    for modality, name in (("msms", "MS/MS"), ("ir", "IR"), ("ccs", "CCS")):
        if modality in hit.scores:
            value = hit.scores[modality]
            sign = "for" if value > 0 else "against"
            parts.append(f"model {name} cosine {value:.2f} (speaks {sign} it)")
    fragments = evidence.get("fragments")
    if fragments and fragments["peaks"]:
        parts.append(
            f"its fragments explain {fragments['explained_peaks']} of {fragments['peaks']} "
            f"fragment peaks ({100 * fragments['explained_intensity']:.0f} % of the intensity)"
        )
    if evidence["ppm_error"] is not None:
        parts.append(f"mass {evidence['ppm_error']:+.1f} ppm")
    else:
        parts.append("no mass given")
    agrees = evidence["formula"]["agrees"]
    if agrees is not None:
        parts.append("formula agrees" if agrees else "formula differs")
    ccs = evidence["ccs"]
    if ccs:
        parts.append(f"CCS {ccs['deviation_pct']:+.1f} % from the {ccs['basis']} value")
    head = f"level {level_}" if level_ else "no level (no mass, formula or spectral support)"
    return f"{head}: " + "; ".join(parts)


def ranking(hit: Hit, library: dict | None, options: LibraryOptions) -> dict:
    """The value molvis_search() ranked the hit by, and what it is: confident library matches
    first by their score, the rest by the model's score + the library weight x library score."""
    if library and library["confident"]:
        return {"ranked_by": "confident library match", "ranking_value": library["score"]}
    value = (hit.score or 0.0) + options.weight * (hit.library_score or 0.0)
    return {
        "ranked_by": f"model + {options.weight:g} x library score",
        "ranking_value": round(value, 6),
    }


def _hit_evidence(
    hit: Hit,
    lib: dict | None,
    query: Query,
    library: LibraryEvidence,
    ccs: KnownCcs,
    formula: str | None,
) -> dict:
    """One hit's `evidence`: its library match, model score, mass error, CCS deviation, whether
    its formula agrees with the query's, and how many of its reference spectra were compared
    and matched."""
    return {
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
        "references": {
            "compared": library.compared.get(hit.inchikey[:14], 0),
            "matching": library.spectra_of(hit.inchikey, POSITIVE_LIBRARY_SCORE),
        },
    }


def annotate(
    result: SearchResult,
    query: Query,
    library: LibraryEvidence,
    ccs: KnownCcs,
    options: LibraryOptions,
    formula: str | None,
    calibration: Calibration | None,
    fragments: list[dict | None] | None = None,
) -> tuple[list[dict], list[HitEvidence]]:
    """`evidence`, `level`, `summary` and `probability` of each hit, in rank order, and the
    numbers the probability is computed from (the calibration is fitted on these same
    numbers). Queries without MS/MS get no probability (the calibration's kind). `fragments`:
    each hit's in-silico fragment evidence (molvis/workflows/fragment_evidence.py), if asked."""
    model_scores = [h.score for h in result.hits if h.score is not None]
    best = max(model_scores) if model_scores else None
    analogue = max((m.match.score for m in library.analogues), default=None)
    out, numbers_of_hits = [], []
    for n, hit in enumerate(result.hits):
        lib = _library(library.best_for(hit.inchikey, options), options)
        evidence = _hit_evidence(hit, lib, query, library, ccs, formula)
        evidence["fragments"] = fragments[n] if fragments else None
        numbers_of_hits.append(
            HitEvidence(
                lib["score"] if lib else None,
                lib["matched_peaks"] if lib else None,
                bool(lib and lib["confident"]),
                hit.score,
                best,
                hit.rank,
                result.candidates,
                best_analogue=analogue,
                query_peaks=library.query_peaks,
                library_spectra=evidence["references"]["matching"],
                references=evidence["references"]["compared"],
            )
        )
        level_ = level(lib, hit, query, formula, evidence["fragments"])
        out.append(
            {
                **ranking(hit, lib, options),
                "evidence": evidence,
                "level": level_,
                "summary": summary(level_, evidence, hit),
                "probability": None,
            }
        )
    numbers_of_hits = with_context(numbers_of_hits)
    if calibration is not None and query.msms is not None and numbers_of_hits:
        for entry, p in zip(out, calibration.probabilities(numbers_of_hits), strict=True):
            entry["probability"] = round(p, 4)
    return out, numbers_of_hits
