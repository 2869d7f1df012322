"""Classical spectral library scores: matchms cosine / modified cosine for MS/MS, cosine on the
825-point grid for IR, over stored spectra of a mass window."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from matchms import Spectrum
from matchms.similarity import CosineGreedy, ModifiedCosine
from sqlalchemy import text
from sqlalchemy.orm import Session

from registry.learned.embeddings import vector_literal


@dataclass
class SpectralMatch:
    spectrum_id: int
    inchikey: str
    name: str | None
    score: float
    matched_peaks: int


def matchms_spectrum(mz, intensity, precursor_mz: float) -> Spectrum:
    """A matchms Spectrum of stored or query peaks (m/z sorted, no metadata harmonisation)."""
    mz = np.asarray(mz, dtype=float)
    order = np.argsort(mz)
    return Spectrum(
        mz=mz[order],
        intensities=np.asarray(intensity, dtype=float)[order],
        metadata={"precursor_mz": precursor_mz},
        metadata_harmonization=False,
    )


def msms_library_search(
    session: Session,
    mz: np.ndarray,
    intensity: np.ndarray,
    precursor_mz: float,
    ppm: float = 10.0,
    modified: bool = False,
    tolerance: float = 0.01,
    k: int = 10,
) -> list[SpectralMatch]:
    """Stored MS/MS spectra whose precursor lies within `ppm`, scored by matchms
    CosineGreedy (or ModifiedCosine, which also aligns peaks shifted by the precursor delta)."""
    delta = precursor_mz * ppm * 1e-6 if not modified else 200.0
    rows = session.execute(
        text("""
        SELECT s.id, s.mz, s.intensity, s.precursor_mz, c.inchikey, c.names[1] AS name
        FROM msms_spectrum s JOIN compound c ON c.id = s.compound_id
        WHERE s.precursor_mz BETWEEN :lo AND :hi AND s.superseded_by IS NULL"""),
        {"lo": precursor_mz - delta, "hi": precursor_mz + delta},
    ).all()
    query = matchms_spectrum(mz, intensity, precursor_mz)
    scorer = ModifiedCosine(tolerance=tolerance) if modified else CosineGreedy(tolerance=tolerance)
    matches = []
    for r in rows:
        result = scorer.pair(query, matchms_spectrum(r.mz, r.intensity, r.precursor_mz))
        matches.append(
            SpectralMatch(r.id, r.inchikey, r.name, float(result["score"]), int(result["matches"]))
        )
    return sorted(matches, key=lambda m: -m.score)[:k]


def ir_library_search(session: Session, processed: np.ndarray, k: int = 10) -> list[SpectralMatch]:
    """Stored IR spectra by cosine on the unit-norm 825-point grid (pgvector exact scan)."""
    vector = vector_literal(processed)
    rows = session.execute(
        text("""
        SELECT s.id, c.inchikey, c.names[1] AS name,
               1 - (s.processed <=> CAST(:q AS vector)) AS score
        FROM ir_spectrum s JOIN compound c ON c.id = s.compound_id
        WHERE s.superseded_by IS NULL
        ORDER BY s.processed <=> CAST(:q AS vector) LIMIT :k"""),
        {"q": vector, "k": k},
    )
    return [SpectralMatch(r.id, r.inchikey, r.name, float(r.score), 0) for r in rows]
