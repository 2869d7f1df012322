"""Normalisation between parsing and storing, as an ordered list of small steps (the way
matchms' filter_order.py lists its filters): each step takes a parsed record and the structure
it names and fills in, or rejects with a reason a chemist can act on.

What happens before: the parsers check syntax and peaks (registry/ingest/parsers/) and put the IR
spectrum on the model grid (registry/chem/ir_grid.py). What happens after: registry/ingest/store.py
writes compounds, measurements and rejects.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from registry.chem.adducts import UnknownAdductError, infer_adduct, parse_adduct
from registry.chem.identity import (
    INCHIKEY_RE,
    Identity,
    InvalidStructureError,
    check_inchikey,
    identify,
)
from registry.ingest.parsers import RecordError
from registry.records import MsmsRecord, Record


@dataclass
class Normalized:
    """A record tied to one registry structure: `identity` from RDKit, or only the InChIKey
    the record gave (resolved against the registry when the file's structures are in)."""

    record: Record
    inchikey: str
    identity: Identity | None


def structure_of(record: Record, identify_text: Callable[[str], Identity] = identify) -> Normalized:
    """RDKit's identity of the record's SMILES/InChI (`identify_text`: identities found ahead,
    in a worker), checked against an InChIKey it also gives; a record with an InChIKey and no
    structure keeps the key alone."""
    ref = record.structure
    if not ref.text.strip() and ref.given_inchikey:
        if not INCHIKEY_RE.match(ref.given_inchikey):
            raise InvalidStructureError(
                f"no structure, and {ref.given_inchikey!r} is not a valid InChIKey"
            )
        return Normalized(record, ref.given_inchikey, None)
    identity = identify_text(ref.text)
    check_inchikey(identity, ref.given_inchikey)
    return Normalized(record, identity.inchikey, identity)


def infer_missing_adduct(record: Record, identity: Identity) -> None:
    """MS/MS without an adduct: the one common adduct that puts the structure at the precursor
    m/z (flagged `adduct_inferred` in the metadata); none when zero or several fit."""
    if isinstance(record, MsmsRecord) and record.adduct is None and record.precursor_mz:
        record.adduct = infer_adduct(
            record.precursor_mz, identity.monoisotopic_mass, record.ion_mode
        )
        if record.adduct:
            record.metadata["adduct_inferred"] = True


def derive_missing_precursor(record: Record, identity: Identity) -> None:
    """MS/MS without a precursor m/z: computed from the structure and adduct (flagged
    `precursor_mz_derived`); rejected when no known adduct allows it."""
    if not isinstance(record, MsmsRecord) or record.precursor_mz is not None:
        return
    try:
        adduct = parse_adduct(record.adduct or "")
    except UnknownAdductError:
        raise RecordError(
            "no precursor m/z, and no known adduct to derive it from the structure"
        ) from None
    record.precursor_mz = round(adduct.mz(identity.monoisotopic_mass), 6)
    record.metadata["precursor_mz_derived"] = True


Step = Callable[[Record, Identity], None]
STEPS: tuple[Step, ...] = (infer_missing_adduct, derive_missing_precursor)


def normalize(record: Record, identify_text: Callable[[str], Identity] = identify) -> Normalized:
    """Run every step in order; RecordError or InvalidStructureError names the reason."""
    normalized = structure_of(record, identify_text)
    if normalized.identity is not None:
        for step in STEPS:
            step(record, normalized.identity)
    return normalized
