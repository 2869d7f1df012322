"""Library matching for queries: the saved MS/MS library index (built when missing, used but
said to be stale when the registry changed since), identity matches per compound and analogue
matches, each with the record of its reference spectrum."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.orm import Session

from molvis.workflows.query import Query
from registry.library import (
    LibraryIndex,
    LibraryMatch,
    LibraryOptions,
    Reference,
    build_index,
    clean_peaks,
    current_generation,
    polarity,
    references,
)
from registry.library_store import load_index, save_index


@dataclass
class Matched:
    """A library match with the reference it found."""

    match: LibraryMatch
    reference: Reference


@dataclass
class LibraryEvidence:
    """What the library says about one query: identity matches (best first) and analogues."""

    identity: list[Matched] = field(default_factory=list)
    analogues: list[Matched] = field(default_factory=list)

    def best_per_compound(self) -> dict[str, tuple[float, int]]:
        """InChIKey -> (score, matched peaks) of each compound's best identity match, the
        form molvis_search() takes."""
        best: dict[str, tuple[float, int]] = {}
        for m in self.identity:
            key = m.reference.inchikey
            if key not in best:
                best[key] = (m.match.score, m.match.matched_peaks or 0)
        return best

    def best_for(self, inchikey: str) -> Matched | None:
        """The best identity match of any stereo variant of this skeleton."""
        return next((m for m in self.identity if m.reference.inchikey[:14] == inchikey[:14]), None)


class Library:
    """The library index for a batch of queries: loaded once (built first when there is
    none), its state said once in `notes`."""

    def __init__(self, session: Session, home: Path, options: LibraryOptions | None = None):
        self.options = options or LibraryOptions()
        self.notes: list[str] = []
        index = load_index(home)
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
        """Identity and analogue matches of the query's MS/MS spectrum (`exclude`: spectrum
        ids left out, e.g. the query's own when evaluating)."""
        spectrum = query.msms
        if spectrum is None:
            return LibraryEvidence()
        peaks = clean_peaks(spectrum.mz, spectrum.intensity, query.precursor_mz)
        mode = polarity(spectrum.ion_mode, query.adduct)
        identity = (
            self.index.identity(query.precursor_mz, peaks, mode, ppm, self.options, exclude)
            if query.precursor_mz
            else []
        )
        analogues = self.index.analogues(
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

        return LibraryEvidence(kept(identity), kept(analogues))
