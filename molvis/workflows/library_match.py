"""Library matching for queries: the saved MS/MS library index (built when missing, used but
said to be stale when the registry changed since), identity matches per compound and analogue
matches, each with the record of its reference spectrum."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.orm import Session

from molvis.workflows.query import Query
from registry.library.flash_index import (
    LibraryIndex,
    LibraryMatch,
    LibraryOptions,
    build_index,
    clean_peaks,
    current_generation,
    polarity,
)
from registry.library.references import (
    Reference,
    ir_matches,
    references,
    spectra_per_skeleton,
)
from registry.library.saved_index import DamagedIndexError, load_index, save_index


@dataclass
class Matched:
    """A library match with the reference it found."""

    match: LibraryMatch
    reference: Reference


@dataclass
class LibraryEvidence:
    """What the library says about one query: identity matches (best first), analogues and
    how many peaks the query brought to the search."""

    identity: list[Matched] = field(default_factory=list)
    analogues: list[Matched] = field(default_factory=list)
    query_peaks: int = 0  # the query's peaks after cleaning, what a match can explain
    # reference spectra the query was compared with (precursor window, its polarity), per
    # skeleton, whatever they scored: a candidate whose references all disagree is unlikely
    compared: dict[str, int] = field(default_factory=dict)

    def best_per_compound(self, options: LibraryOptions) -> dict[str, tuple[float, int]]:
        """InChIKey -> (score, matched peaks) of each compound's best identity match, the
        form molvis_search() takes. An IR match has no peaks: a confident one is passed with
        the peak threshold, so the function ranks it as the confident match it is."""
        best: dict[str, tuple[float, int]] = {}
        for m in sorted(self.identity, key=lambda m: _strength(m, options), reverse=True):
            key = m.reference.inchikey
            if key in best:
                continue
            peaks = m.match.matched_peaks
            if m.match.search == "ir":
                peaks = options.min_matched_peaks if options.confident(m.match) else 0
            best[key] = (m.match.score, peaks or 0)
        return best

    def spectra_of(self, inchikey: str, min_score: float) -> int:
        """How many MS/MS spectra of this skeleton match the query at `min_score` or above."""
        return sum(
            1
            for m in self.identity
            if m.match.search != "ir"
            and m.reference.inchikey[:14] == inchikey[:14]
            and m.match.score >= min_score
        )

    def best_for(self, inchikey: str, options: LibraryOptions) -> Matched | None:
        """The best identity match (confident first) of any stereo variant of this skeleton."""
        mine = [m for m in self.identity if m.reference.inchikey[:14] == inchikey[:14]]
        return max(mine, key=lambda m: _strength(m, options), default=None)


def _strength(m: Matched, options: LibraryOptions) -> tuple[bool, float]:
    return options.confident(m.match), m.match.score


class Library:
    """The library index for a batch of queries: loaded once (built first when there is
    none), its state said once in `notes`."""

    def __init__(self, session: Session, home: Path, options: LibraryOptions | None = None):
        self.options = options or LibraryOptions()
        self.notes: list[str] = []
        try:
            index = load_index(home)
        except DamagedIndexError as exc:
            self.notes.append(f"{exc}: rebuilt from the registry for this search")
            index = None
        if index is None:
            index = build_index(session)
            try:
                save_index(index, home)
            except OSError as exc:
                self.notes.append(f"library index not saved ({exc.strerror}): built for this run")
        elif index.generation != (current_generation(session) or ""):
            self.notes.append(
                f"library index is stale (built {index.built_at[:19]} from {index.spectra} "
                "spectra; the registry changed since): run `molvis library build`"
            )
        self.index: LibraryIndex = index

    def match(
        self, session: Session, query: Query, ppm: float, exclude: frozenset[int] = frozenset()
    ) -> LibraryEvidence:
        """Identity and analogue matches of the query's MS/MS spectrum, and the stored IR
        spectra nearest its IR spectrum (`exclude`: MS/MS spectrum ids left out, e.g. the
        query's own when evaluating)."""
        ir = []
        if query.ir is not None:
            ir = [Matched(m, ref) for m, ref in ir_matches(session, query.ir.processed)]
        spectrum = query.msms
        if spectrum is None:
            return LibraryEvidence(ir)
        peaks = clean_peaks(spectrum.mz, spectrum.intensity, query.precursor_mz)
        mode = polarity(spectrum.ion_mode, query.adduct)
        identity, analogues = self.index.search(
            query.precursor_mz, peaks, mode, ppm, self.options, exclude
        )
        found = references(session, [m.spectrum_id for m in identity + analogues])

        def kept(matches: list[LibraryMatch]) -> list[Matched]:
            # a stale index may name a spectrum since removed or replaced: the stored precursor
            # must still be the indexed one
            return [
                Matched(m, found[m.spectrum_id])
                for m in matches
                if m.spectrum_id in found
                and abs(found[m.spectrum_id].precursor_mz - m.precursor_mz) < 1e-3
            ]

        compared = spectra_per_skeleton(
            session, self.index.window_ids(query.precursor_mz, ppm, mode, exclude)
        )
        return LibraryEvidence(kept(identity) + ir, kept(analogues), len(peaks), compared)
