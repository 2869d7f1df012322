"""The MS/MS reference library: every current stored spectrum in one flash entropy index
(ms_entropy; Li et al. 2021, 2023), saved under MOLVIS_HOME/library and matched against query
spectra by identity search (precursor within tolerance) and analogue search (hybrid search:
fragments and neutral losses, any precursor), both scored in one compiled pass
(`registry/library/kernel.py`). Saving and loading: `registry/library/saved_index.py`.

The index knows the generation of the registry's spectra it was built from (`library_state`,
renewed by triggers on every write), so a search can tell it is stale without reading them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
from ms_entropy import FlashEntropySearch, calculate_entropy_similarity, clean_spectrum
from sqlalchemy import text
from sqlalchemy.orm import Session

from registry.library.kernel import Scores, best, library_terms, score

LIBRARY = "msms"
FORMAT = 4  # 3: the pointer lists each file's size; 4: and its SHA-256
MZ_INDEX_STEP = 0.001  # Da; ms_entropy's 0.0001 default makes a ten times larger table, no faster
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
    precursors: np.ndarray = field(init=False)  # float64 copy of the searcher's precursors
    terms: tuple[np.ndarray, np.ndarray] = field(init=False)  # ions' and losses' i log2 i

    def __post_init__(self) -> None:
        # the precursors in double precision: comparing a float against ms_entropy's float32
        # array copies all of it first, every query; the widening is exact
        self.precursors = np.asarray(self.searcher.precursor_mz_array, dtype=np.float64)
        core = self.searcher.entropy_search
        if core.index:  # a fresh build's loss arrays are fields of one record array
            core.index = [np.ascontiguousarray(a) for a in core.index]
            self.terms = (library_terms(core.index[2]), library_terms(core.index[6]))
        else:
            self.terms = (np.zeros(0, np.float32), np.zeros(0, np.float32))

    @property
    def spectra(self) -> int:
        return len(self.ids)

    def search(
        self,
        precursor_mz: float | None,
        peaks: np.ndarray,
        mode: int,
        ppm: float,
        options: LibraryOptions,
        exclude: frozenset[int] = frozenset(),
        k: int = 50,
    ) -> tuple[list[LibraryMatch], list[LibraryMatch]]:
        """Identity matches (stored spectra whose precursor lies within `ppm` of the query's,
        up to `k`) and analogue matches (other precursors sharing fragments or neutral losses:
        hybrid search; an open fragment search without a precursor), each best first, of the
        query's polarity (`mode` 1/-1, 0 unknown), scored in one pass."""
        if self.spectra == 0 or len(peaks) == 0:
            return [], []
        window = slice(0, 0)
        if precursor_mz:
            window = self._window(precursor_mz, precursor_mz * ppm * 1e-6)
        found = score(
            self.searcher.entropy_search,
            self.terms,
            precursor_mz,
            peaks,
            options.fragment_tolerance,
            window,
        )
        identity = self._identity(found, mode, exclude, k, window.start)
        found.scores[window] = 0  # the window's spectra are identity's to report
        # the k best and as many more as are excluded: what is left holds the k best kept
        top = best(found.scores, self.modes, mode, options.analogues + len(exclude))
        top = [i for i in top if int(self.ids[i]) not in exclude][: options.analogues]
        analogues = [self._match(i, found.scores[i], None, "analogue") for i in top]
        return identity, analogues

    def window_ids(
        self, precursor_mz: float | None, ppm: float, mode: int, exclude: frozenset[int]
    ) -> list[int]:
        """Every indexed spectrum the identity search compared with the query, whatever its
        score: precursor within `ppm`, the query's polarity, not excluded."""
        if not precursor_mz or self.spectra == 0:
            return []
        window = self._window(precursor_mz, precursor_mz * ppm * 1e-6)
        positions = self._comparable(np.arange(window.start, window.stop), mode, exclude)
        return [int(i) for i in self.ids[positions]]

    def _comparable(self, positions: np.ndarray, mode: int, exclude) -> np.ndarray:
        """The index positions an identity search may report: never the other polarity, never
        an excluded spectrum."""
        if mode:
            positions = positions[self.modes[positions] != -mode]
        if exclude:
            positions = positions[~np.isin(self.ids[positions], list(exclude))]
        return positions

    def _identity(self, found: Scores, mode: int, exclude, k: int, start: int):
        # the window's scored positions (from `start`), ranked by a stable sort
        scores, matched = found.window, found.matched
        hits = self._comparable(np.flatnonzero(scores > 0) + start, mode, exclude)
        top = hits[np.argsort(-scores[hits - start], kind="stable")[:k]]
        return [self._match(i, scores[i - start], matched[i - start], "identity") for i in top]

    def _match(self, position: int, score: float, matched, search: str) -> LibraryMatch:
        return LibraryMatch(
            int(self.ids[position]),
            float(score),
            int(matched) if matched is not None else None,
            float(self.precursors[position]),
            search,
        )

    def _window(self, precursor_mz: float, tolerance: float) -> slice:
        """Index positions whose precursor lies within `tolerance` Da (the index is sorted by
        precursor), found as ms_entropy's identity search finds them."""
        return slice(
            int(np.searchsorted(self.precursors, precursor_mz - tolerance, side="left")),
            int(np.searchsorted(self.precursors, precursor_mz + tolerance, side="right")),
        )


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


def new_searcher() -> FlashEntropySearch:
    """An empty flash entropy searcher with molvis's tolerances."""
    return FlashEntropySearch(
        max_ms2_tolerance_in_da=MAX_FRAGMENT_TOLERANCE, mz_index_step=MZ_INDEX_STEP
    )


def index_spectra(spectra: list[dict], generation: str) -> LibraryIndex:
    """The flash entropy index of cleaned spectra (dicts of id, precursor_mz, peaks, mode)."""
    searcher = new_searcher()
    ordered = searcher.build_index(spectra, clean_spectra=False) if spectra else []
    searcher.metadata = None  # the pickled metadata copy: never kept, never saved
    ids = np.array([s["id"] for s in ordered], dtype=np.int64)
    modes = np.array([s["mode"] for s in ordered], dtype=np.int8)
    return LibraryIndex(searcher, ids, modes, generation, datetime.now(UTC).isoformat())


def entropy_similarity(query, query_precursor, reference, reference_precursor) -> float:
    """Entropy similarity of two spectra ((m/z, intensity) pairs) cleaned as the index cleans
    them (each its own precursor region removed), at the library's fragment tolerance."""
    a = clean_peaks(*query, query_precursor)
    b = clean_peaks(*reference, reference_precursor)
    if not len(a) or not len(b):
        return 0.0
    return float(
        calculate_entropy_similarity(
            a, b, ms2_tolerance_in_da=LibraryOptions.fragment_tolerance, clean_spectra=False
        )
    )
