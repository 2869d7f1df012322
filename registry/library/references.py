"""What a library match points at: the stored record, compound and source behind a matched
MS/MS spectrum id, and the stored IR spectra nearest a query's (an exact scan: IR libraries are
small). The MS/MS index itself: `registry/library/flash_index.py`."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sqlalchemy import text
from sqlalchemy.orm import Session

from registry.chem.names import display_name
from registry.library.flash_index import LibraryMatch


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


def spectra_per_skeleton(session: Session, spectrum_ids: list[int]) -> dict[str, int]:
    """How many of these MS/MS spectra each compound skeleton (InChIKey first block) has."""
    if not spectrum_ids:
        return {}
    rows = session.execute(
        text("""SELECT left(c.inchikey, 14) AS skeleton, count(*) AS n
                FROM msms_spectrum s JOIN compound c ON c.id = s.compound_id
                WHERE s.id = ANY(:ids) GROUP BY 1"""),
        {"ids": list(spectrum_ids)},
    )
    return {r.skeleton: int(r.n) for r in rows}


def ir_matches(
    session: Session, processed: np.ndarray, k: int = 20
) -> list[tuple[LibraryMatch, Reference]]:
    """Stored IR spectra nearest the query's 825-point grid vector by cosine (an exact scan:
    IR libraries are small), with their records."""
    from registry.learned.embeddings import vector_literal

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
