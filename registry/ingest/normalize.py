"""Normalisation between parsing and storing, as one ordered list of small steps (the way
matchms' filter_order.py lists its filters): each step takes a parsed record and the structure
it names (None for a query, or a row that gave only an InChIKey) and fills in, or rejects with
a reason a chemist can act on. The steps that need the structure do nothing without one.

What happens before: the parsers read what the file says, check syntax and peaks
(registry/ingest/parsers/) and put the IR spectrum on the model grid (registry/chem/ir_grid.py).
What happens after: registry/ingest/store.py writes compounds, measurements and rejects.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from registry.chem.adducts import UnknownAdductError, infer_adduct, normalize_adduct, parse_adduct
from registry.chem.identity import (
    INCHIKEY_RE,
    Identity,
    InvalidStructureError,
    check_inchikey,
    identify,
)
from registry.ingest.parsers import RecordError
from registry.records import CcsRecord, MsmsRecord, Record


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


def canonical_ion_mode(record: Record, identity: Identity | None) -> None:
    """An MS/MS ion mode in one spelling: 'P', 'Positive', 'POSITIVE' -> 'positive', 'N...' ->
    'negative'; any other word lower-cased."""
    if isinstance(record, MsmsRecord) and record.ion_mode:
        mode = record.ion_mode
        record.ion_mode = {"p": "positive", "n": "negative"}.get(mode[0].lower(), mode.lower())


def canonical_adduct(record: Record, identity: Identity | None) -> None:
    """An adduct in molvis's spelling ('M+H' -> '[M+H]+'). An MS/MS adduct molvis cannot compute
    is kept aside as `adduct_unreadable` and none is used (no mass window from it); a CCS row
    keeps its own (its ion is its key)."""
    if isinstance(record, MsmsRecord) and record.adduct:
        given = record.adduct
        record.adduct = normalize_adduct(given)
        if record.adduct is None:
            record.metadata["adduct_unreadable"] = given
    elif isinstance(record, CcsRecord) and record.adduct:
        record.adduct = normalize_adduct(record.adduct) or record.adduct


def infer_missing_adduct(record: Record, identity: Identity | None) -> None:
    """MS/MS without an adduct: the one common adduct that puts the structure at the precursor
    m/z (flagged `adduct_inferred` in the metadata); none when zero or several fit."""
    if identity is None:
        return
    if isinstance(record, MsmsRecord) and record.adduct is None and record.precursor_mz:
        record.adduct = infer_adduct(
            record.precursor_mz, identity.monoisotopic_mass, record.ion_mode
        )
        if record.adduct:
            record.metadata["adduct_inferred"] = True


def derived_precursor(adduct_text: str | None, mass: float) -> float:
    """The precursor m/z of a structure of monoisotopic `mass` as the adduct's ion; RecordError
    when the adduct is unknown."""
    try:
        adduct = parse_adduct(adduct_text or "")
    except UnknownAdductError:
        raise RecordError(
            "no precursor m/z, and no known adduct to derive it from the structure"
        ) from None
    return round(adduct.mz(mass), 6)


def _derive_precursor(record: MsmsRecord, mass: float) -> None:
    record.precursor_mz = derived_precursor(record.adduct, mass)
    record.metadata["precursor_mz_derived"] = True


def derive_missing_precursor(record: Record, identity: Identity | None) -> None:
    """MS/MS without a precursor m/z: computed from the structure and adduct (flagged
    `precursor_mz_derived`); rejected when no known adduct allows it."""
    if identity is None or not isinstance(record, MsmsRecord) or record.precursor_mz is not None:
        return
    _derive_precursor(record, identity.monoisotopic_mass)


LOW_RESOLUTION = ("IT", "QQ", "QQQ", "QIT", "LIT")  # ion traps and triple quadrupoles
PRECURSOR_TOLERANCE = {"high": 0.02, "low": 0.5}  # Da between a precursor and its structure's ion


def precursor_tolerance(instrument_type: str | None) -> float:
    """How far (Da) a stated precursor may lie from its structure's ion: 0.5 for an ion trap or
    triple quadrupole (the last part of MassBank's instrument type: LC-ESI-IT, LC-ESI-QQ),
    0.02 for any other (the high-resolution analysers: TOF, Orbitrap, FT-ICR)."""
    last = (instrument_type or "").upper().replace(" ", "").split("-")[-1]
    return PRECURSOR_TOLERANCE["low" if last in LOW_RESOLUTION else "high"]


def precursor_mismatch(
    precursor_mz: float, adduct_text: str | None, instrument_type: str | None, mass: float
) -> str | None:
    """Why a stated precursor m/z is not the ion (the adduct's m/z) of a structure of
    monoisotopic `mass` within the instrument's tolerance, or None when it is (or when the
    adduct is unknown, so that no ion can be computed)."""
    try:
        adduct = parse_adduct(adduct_text or "")
    except UnknownAdductError:
        return None
    expected = adduct.mz(mass)
    off = precursor_mz - expected
    tolerance = precursor_tolerance(instrument_type)
    if abs(off) <= tolerance:
        return None
    return (
        f"precursor m/z {precursor_mz:.4f} is {off:+.4f} Da from the structure's "
        f"{adduct.name} at {expected:.4f} (tolerance {tolerance:g} Da): another compound, "
        "adduct or derivative"
    )


def precursor_fits_structure(record: Record, identity: Identity | None) -> None:
    """MS/MS whose stated precursor m/z is not its structure's ion (the stated or inferred
    adduct's m/z) within the instrument's tolerance is rejected: another compound, a mislabelled
    adduct, a derivative or a low-resolution precursor; stored, it would train the model on the
    wrong structure and name it in confident library matches and in the evaluation."""
    if identity is None or not isinstance(record, MsmsRecord) or record.precursor_mz is None:
        return
    _check_precursor(record, identity.monoisotopic_mass)


def _check_precursor(record: MsmsRecord, mass: float) -> None:
    problem = precursor_mismatch(record.precursor_mz, record.adduct, record.instrument_type, mass)
    if problem:
        raise RecordError(problem)


def key_only_precursor(record: Record, mass: float | None) -> None:
    """The precursor rules for a spectrum that gave only an InChIKey, once its compound's
    monoisotopic `mass` is known (None: not in the registry yet): derived when missing, else
    checked against the compound's ion, as for a spectrum with a structure; RecordError when
    it fails, or when it is missing and there is nothing yet to derive it from."""
    if not isinstance(record, MsmsRecord):
        return
    if record.precursor_mz is None:
        if mass is None:
            raise RecordError(
                "no precursor m/z, and only an InChIKey whose compound is not in the registry "
                "to derive it from: give the precursor or the structure"
            )
        _derive_precursor(record, mass)
    elif mass is not None:
        _check_precursor(record, mass)


Step = Callable[[Record, Identity | None], None]
STEPS: tuple[Step, ...] = (
    canonical_ion_mode,
    canonical_adduct,
    infer_missing_adduct,
    derive_missing_precursor,
    precursor_fits_structure,
)


def normalize(record: Record, identify_text: Callable[[str], Identity] = identify) -> Normalized:
    """The record's structure, then every step in order; RecordError or InvalidStructureError
    names the reason."""
    normalized = structure_of(record, identify_text)
    for step in STEPS:
        step(record, normalized.identity)
    return normalized


def normalize_unknown(record: Record) -> Record:
    """A query's record through the same steps: an unknown has no structure, so only the steps
    that read the record alone apply."""
    for step in STEPS:
        step(record, None)
    return record
