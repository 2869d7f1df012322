"""Each hit's in-silico fragment evidence: how much of the query's MS/MS the hit's own fragments
explain (registry/chem/explain.py), and for the first hits which fragment explains which peak,
so a chemist can check a candidate the way MetFrag and SIRIUS users do."""

from __future__ import annotations

from molvis.workflows.query import Query
from registry.chem.adducts import UnknownAdductError
from registry.chem.explain import Explanation, explain
from registry.search.molvis_search import Hit

DEPTH = 2  # cleavage steps (MetFrag's default)
ANNOTATED = 5  # hits whose explained peaks are listed one by one


def _as_dict(found: Explanation, annotated: bool) -> dict:
    out = {
        "peaks": found.peaks,
        "explained_peaks": found.explained_peaks,
        "explained_intensity": round(found.explained_intensity, 4),
        "fragmenter_score": round(found.score, 4),
    }
    if annotated:
        out["annotations"] = [
            {
                "mz": round(a.mz, 5),
                "intensity": round(a.intensity, 4),
                "formula": a.formula,
                "smiles": a.smiles,
                "ion_mz": round(a.ion_mz, 5),
                "ppm_error": round(a.ppm_error, 2),
                "hydrogen_shift": a.shift,
            }
            for a in found.annotations
        ]
    return out


def fragment_evidence(
    query: Query, hits: list[Hit], annotated: int = ANNOTATED
) -> list[dict | None]:
    """Per hit, in rank order, its fragments' explanation of the query spectrum: peaks
    considered, explained peaks, the share of their intensity explained, the normalised
    fragmenter score, and for the first `annotated` hits the annotations. None for every hit
    when the query has no MS/MS or no adduct to give the fragments their charge."""
    spectrum = query.msms
    if spectrum is None or not query.adduct:
        return [None] * len(hits)
    out: list[dict | None] = []
    for n, hit in enumerate(hits):
        try:
            found = explain(
                hit.smiles,
                query.adduct,
                spectrum.mz,
                spectrum.intensity,
                query.precursor_mz,
                DEPTH,
            )
        except (ValueError, UnknownAdductError):
            out.append(None)  # a structure RDKit cannot read, or an element without a mass
            continue
        out.append(_as_dict(found, n < annotated))
    return out
