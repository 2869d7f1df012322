"""Each hit's in-silico fragment evidence: how much of the query's MS/MS the hit's own fragments
explain (registry/chem/explain.py), for the first hits which fragment explains which peak, so a
chemist can check a candidate the way MetFrag and SIRIUS users do, and how close the forward
model's predicted spectrum of the hit comes to the query (entropy similarity)."""

from __future__ import annotations

from functools import lru_cache

from molvis.workflows.query import Query
from registry.chem.adducts import UnknownAdductError
from registry.chem.explain import Explanation, explain
from registry.library.flash_index import entropy_similarity
from registry.search.molvis_search import Hit

SHIPPED_MODEL = object()  # the default: the shipped forward model, loaded on first use

DEPTH = 2  # cleavage steps (MetFrag's default)
ANNOTATED = 5  # hits whose explained peaks are listed one by one


@lru_cache(maxsize=1)
def shipped_forward_model():
    """The forward model shipped in models/pretrained/, or None where it is missing."""
    from models.fragment_model import load_model
    from molvis.workflows.spectra_file import SHIPPED as PATH

    return load_model(PATH)[0] if PATH.exists() else None


def predicted_similarity(model, smiles: str, query: Query) -> float:
    """Entropy similarity of the model's predicted spectrum of `smiles` to the query's."""
    from models.fragment_model import predicted_peaks

    spectrum = query.msms
    mz, intensity, _ = predicted_peaks(model, smiles, query.adduct, spectrum.collision_energy)
    precursor = query.precursor_mz
    return entropy_similarity(
        (mz, intensity), precursor, (spectrum.mz, spectrum.intensity), precursor
    )


def predicted_spectrum_of(smiles: str, adduct: str, energy=None):
    """The shipped forward model's predicted spectrum of a structure (m/z, intensity, ion
    formulas), or None without the model (the page's mirror plot)."""
    from models.fragment_model import predict_spectrum

    model = shipped_forward_model()
    return predict_spectrum(model, smiles, adduct, energy) if model else None


def _as_dict(found: Explanation, annotated: bool, similarity: float | None) -> dict:
    out = {
        "peaks": found.peaks,
        "explained_peaks": found.explained_peaks,
        "explained_intensity": round(found.explained_intensity, 4),
        "fragmenter_score": round(found.score, 4),
        "predicted_similarity": None if similarity is None else round(similarity, 4),
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
    query: Query, hits: list[Hit], annotated: int = ANNOTATED, forward_model=SHIPPED_MODEL
) -> list[dict | None]:
    """Per hit, in rank order, its fragments' explanation of the query spectrum: peaks
    considered, explained peaks, the share of their intensity explained, the normalised
    fragmenter score, the predicted spectrum's similarity (None without a forward model), and
    for the first `annotated` hits the annotations. None for every hit when the query has no
    MS/MS or no adduct to give the fragments their charge."""
    spectrum = query.msms
    if spectrum is None or not query.adduct:
        return [None] * len(hits)
    model = shipped_forward_model() if forward_model is SHIPPED_MODEL else forward_model
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
            similarity = predicted_similarity(model, hit.smiles, query) if model else None
        except (ValueError, UnknownAdductError):
            out.append(None)  # a structure RDKit cannot read, or an element without a mass
            continue
        out.append(_as_dict(found, n < annotated, similarity))
    return out
