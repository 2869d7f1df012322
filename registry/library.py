"""The MS/MS reference library: every current stored spectrum in one flash entropy index
(ms_entropy; Li et al. 2021, 2023), saved under MOLVIS_HOME/library and matched against query
spectra by identity search (precursor within tolerance) and analogue search (hybrid search:
fragments and neutral losses, any precursor). Saving and loading: `registry/library_store.py`.

The index knows the generation of the registry's spectra it was built from (`library_state`,
renewed by triggers on every write), so a search can tell it is stale without reading them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
from ms_entropy import FlashEntropySearch, clean_spectrum
from sqlalchemy import text
from sqlalchemy.orm import Session

from registry.names import display_name

LIBRARY = "msms"
FORMAT = 2
MZ_INDEX_STEP = 0.001  # Da; ms_entropy's 0.0001 default makes a 240 MB lookup table, no faster
MAX_FRAGMENT_TOLERANCE = 0.025  # Da: flash entropy search is built for high-resolution spectra
PRECURSOR_REMOVAL = 1.6  # Da below the precursor (ms_entropy's and MassBank's cleaning)
NOISE = 0.01  # of the base peak
BATCH = 5000


@dataclass(frozen=True)
class LibraryOptions:
    """Library matching settings, with GNPS's defaults for high-resolution spectra."""

    fragment_tolerance: float = 0.02  # Da
    min_score: float = 0.7  # entropy similarity for a confident match
    min_matched_peaks: int = 6
    analogues: int = 5  # analogue matches reported per query
    ir_min_score: float = 0.9  # grid cosine of a confident IR match (peaks do not apply)
    weight: float = 0.25  # library score's weight beside the model's score below the thresholds

    def confident(self, match: LibraryMatch) -> bool:
        """A match strong enough to rank above the model (module docstring of evidence)."""
        if match.search == "ir":
            return match.score >= self.ir_min_score
        return match.score >= self.min_score and (match.matched_peaks or 0) >= (
            self.min_matched_peaks
        )

    def __post_init__(self) -> None:
        if not 0 < self.fragment_tolerance <= MAX_FRAGMENT_TOLERANCE:
            raise ValueError(
                f"fragment tolerance {self.fragment_tolerance:g} Da: give 0-"
                f"{MAX_FRAGMENT_TOLERANCE} Da (library matching is for high-resolution spectra)"
            )
        if not 0 <= self.min_score <= 1:
            raise ValueError(f"minimum library score {self.min_score:g}: give 0-1")
        if self.weight < 0:
            raise ValueError(f"library weight {self.weight:g}: give 0 or more")
        if self.min_matched_peaks < 1:
            raise ValueError(f"minimum matched peaks {self.min_matched_peaks}: give 1 or more")


@dataclass(frozen=True)
class LibraryMatch:
    """One stored spectrum that matched a query: entropy similarity, matched peaks (identity
    search only: hybrid search does not count them) and whether the precursor agreed."""

    spectrum_id: int
    score: float
    matched_peaks: int | None
    precursor_mz: float | None
    search: str  # 'identity', 'analogue', or 'ir' (grid cosine of a stored IR spectrum)


def clean_peaks(mz, intensity, precursor_mz: float | None) -> np.ndarray:
    """Peaks as the index holds them: noise below 1 % and the precursor region removed, peaks
    closer than 0.05 Da merged, intensities summed to 1 (ms_entropy's cleaning)."""
    peaks = np.column_stack(
        [np.asarray(mz, dtype=np.float32), np.asarray(intensity, dtype=np.float32)]
    )
    return clean_spectrum(
        peaks,
        max_mz=precursor_mz - PRECURSOR_REMOVAL if precursor_mz else -1.0,
        noise_threshold=NOISE,
        min_ms2_difference_in_da=2 * MAX_FRAGMENT_TOLERANCE,
    )


@dataclass
class LibraryIndex:
    """A loaded index: the searcher, the spectrum id at each index position, and the registry
    generation it was built from."""

    searcher: FlashEntropySearch
    ids: np.ndarray
    modes: np.ndarray  # ion polarity per position: 1, -1, 0 when unknown
    generation: str
    built_at: str

    @property
    def spectra(self) -> int:
        return len(self.ids)

    def _top(self, scores, peaks, mode: int, exclude, k: int, search: str) -> list[LibraryMatch]:
        scores = np.asarray(scores, dtype=np.float32).copy()
        if mode:
            scores[self.modes == -mode] = 0  # never match a spectrum of the other polarity
        if exclude:
            scores[np.isin(self.ids, list(exclude))] = 0
        top = np.argsort(-scores, kind="stable")[:k]
        return [
            LibraryMatch(
                int(self.ids[i]),
                float(scores[i]),
                int(peaks[i]) if peaks is not None else None,
                float(self.searcher.precursor_mz_array[i]),
                search,
            )
            for i in top
            if scores[i] > 0
        ]

    def identity(
        self,
        precursor_mz: float,
        peaks: np.ndarray,
        mode: int,
        ppm: float,
        options: LibraryOptions,
        exclude: frozenset[int] = frozenset(),
        k: int = 50,
    ) -> list[LibraryMatch]:
        """Stored spectra of the query's polarity (`mode` 1/-1, 0 unknown) whose precursor lies
        within `ppm` of the query's, best first."""
        if self.spectra == 0 or len(peaks) == 0:
            return []
        scores, matched = self.searcher.identity_search(
            precursor_mz,
            peaks,
            precursor_mz * ppm * 1e-6,
            options.fragment_tolerance,
            output_matched_peak_number=True,
        )
        return self._top(scores, matched, mode, exclude, k, "identity")

    def analogues(
        self,
        precursor_mz: float | None,
        peaks: np.ndarray,
        mode: int,
        ppm: float,
        options: LibraryOptions,
        exclude: frozenset[int] = frozenset(),
    ) -> list[LibraryMatch]:
        """Stored spectra of other precursors that share fragments or neutral losses (hybrid
        search; an open fragment search without a precursor), best first."""
        if self.spectra == 0 or len(peaks) == 0:
            return []
        if precursor_mz:
            scores = self.searcher.hybrid_search(precursor_mz, peaks, options.fragment_tolerance)
            near = np.abs(self.searcher.precursor_mz_array - precursor_mz)
            scores = np.where(near <= precursor_mz * ppm * 1e-6, 0, scores)
        else:
            scores = self.searcher.open_search(peaks, options.fragment_tolerance)
        return self._top(scores, None, mode, exclude, options.analogues, "analogue")


def polarity(ion_mode: str | None, adduct: str | None) -> int:
    """1 for positive ions, -1 for negative, 0 when neither the mode nor the adduct says."""
    if ion_mode in ("positive", "negative"):
        return 1 if ion_mode == "positive" else -1
    if adduct and adduct.rstrip()[-1:] in "+-":
        return 1 if adduct.rstrip().endswith("+") else -1
    return 0


def current_generation(session: Session) -> str | None:
    """The generation of the registry's spectra now (None before migration 0011's first row)."""
    return session.execute(
        text("SELECT generation::text FROM library_state WHERE library = :l"), {"l": LIBRARY}
    ).scalar_one_or_none()


def build_index(
    session: Session, progress: Callable[[int, int], None] | None = None
) -> LibraryIndex:
    """Index every current stored spectrum that has a precursor m/z, read in batches."""
    generation = current_generation(session)
    total = session.execute(
        text(
            "SELECT count(*) FROM msms_spectrum WHERE superseded_by IS NULL "
            "AND precursor_mz IS NOT NULL"
        )
    ).scalar_one()
    spectra, last_id = [], 0
    while True:
        rows = session.execute(
            text("""SELECT id, precursor_mz, mz, intensity, ion_mode, adduct FROM msms_spectrum
                    WHERE superseded_by IS NULL AND precursor_mz IS NOT NULL AND id > :last
                    ORDER BY id LIMIT :n"""),
            {"last": last_id, "n": BATCH},
        ).all()
        if not rows:
            break
        for r in rows:
            peaks = clean_peaks(r.mz, r.intensity, r.precursor_mz)
            if len(peaks):
                spectra.append(
                    {
                        "id": r.id,
                        "precursor_mz": float(r.precursor_mz),
                        "peaks": peaks,
                        "mode": polarity(r.ion_mode, r.adduct),
                    }
                )
        last_id = rows[-1].id
        if progress:
            progress(len(rows), total)
    return index_spectra(spectra, generation or "")


def index_spectra(spectra: list[dict], generation: str) -> LibraryIndex:
    """The flash entropy index of cleaned spectra (dicts of id, precursor_mz, peaks, mode)."""
    searcher = FlashEntropySearch(
        max_ms2_tolerance_in_da=MAX_FRAGMENT_TOLERANCE, mz_index_step=MZ_INDEX_STEP
    )
    ordered = searcher.build_index(spectra, clean_spectra=False) if spectra else []
    searcher.metadata = None  # the pickled metadata copy: never kept, never saved
    ids = np.array([s["id"] for s in ordered], dtype=np.int64)
    modes = np.array([s["mode"] for s in ordered], dtype=np.int8)
    return LibraryIndex(searcher, ids, modes, generation, datetime.now(UTC).isoformat())


@dataclass(frozen=True)
class Reference:
    """What a matched reference spectrum is: its record, compound, ion and source."""

    spectrum_id: int
    record_id: str | None
    inchikey: str
    name: str | None
    adduct: str | None
    collision_energy: str | None
    source: str
    precursor_mz: float


def references(session: Session, spectrum_ids: list[int]) -> dict[int, Reference]:
    """The stored records behind matched spectrum ids."""
    if not spectrum_ids:
        return {}
    rows = session.execute(
        text("""SELECT s.id, s.record_id, c.inchikey, c.names[1] AS name, s.adduct,
                       s.collision_energy, src.name AS source, s.precursor_mz
                FROM msms_spectrum s JOIN compound c ON c.id = s.compound_id
                JOIN source src ON src.id = s.source_id WHERE s.id = ANY(:ids)"""),
        {"ids": list(spectrum_ids)},
    )
    return {r.id: Reference(*r[:3], display_name(r.name), *r[4:]) for r in rows}


def ir_matches(
    session: Session, processed: np.ndarray, k: int = 20
) -> list[tuple[LibraryMatch, Reference]]:
    """Stored IR spectra nearest the query's 825-point grid vector by cosine (an exact scan:
    IR libraries are small), with their records."""
    from registry.embeddings import vector_literal

    rows = session.execute(
        text("""SELECT s.id, s.title, c.inchikey, c.names[1] AS name, src.name AS source,
                       1 - (s.processed <=> CAST(:q AS vector)) AS score
                FROM ir_spectrum s JOIN compound c ON c.id = s.compound_id
                JOIN source src ON src.id = s.source_id
                WHERE s.superseded_by IS NULL
                ORDER BY s.processed <=> CAST(:q AS vector) LIMIT :k"""),
        {"q": vector_literal(processed), "k": k},
    )
    return [
        (
            LibraryMatch(r.id, float(r.score), None, None, "ir"),
            Reference(r.id, r.title, r.inchikey, display_name(r.name), None, None, r.source, None),
        )
        for r in rows
    ]
