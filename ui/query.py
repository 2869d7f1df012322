"""Turn what a user gives on the query page into search requests (parse, embed, filter)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from registry.adducts import parse_adduct
from registry.parsers import ParseError, RecordError
from registry.parsers.ir import parse_jcamp
from registry.parsers.msms import build_record, parse_msms
from registry.records import IrRecord, MsmsRecord
from registry.sources import member_from_bytes


@dataclass
class QueryInput:
    """The query page's fields."""

    upload_name: str | None = None
    upload_bytes: bytes | None = None
    pasted_peaks: str = ""
    precursor_mz: float | None = None
    adduct: str | None = None
    ccs: float | None = None
    ccs_adduct: str | None = None


def parse_upload(name: str, data: bytes) -> tuple[list[MsmsRecord], IrRecord | None]:
    """MS/MS spectra of an MGF/MSP/MassBank upload, or the IR spectrum of a JCAMP-DX upload."""
    member = member_from_bytes(name, data)
    if member.inner_name.lower().endswith((".jdx", ".dx", ".jcamp")):
        for parsed in parse_jcamp(member, require_structure=False):
            if parsed.record is None:
                raise ParseError(name, parsed.reason or "unreadable IR spectrum")
            return [], parsed.record
        raise ParseError(name, "no IR spectrum in the file")
    spectra = [p.record for p in parse_msms(member, require_structure=False) if p.record]
    if not spectra:
        raise ParseError(name, "no readable spectrum (MGF, MSP or MassBank record expected)")
    return spectra, None


def pasted_spectrum(text: str, precursor_mz: float | None, adduct: str | None) -> MsmsRecord:
    """A spectrum from pasted 'm/z intensity' lines."""
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    try:
        pairs = np.array([[float(v) for v in ln.replace(",", " ").split()[:2]] for ln in lines])
    except ValueError as exc:
        raise RecordError(f"pasted peaks: each line needs 'm/z intensity' ({exc})") from None
    if pairs.ndim != 2 or pairs.shape[1] != 2:
        raise RecordError("pasted peaks: each line needs 'm/z intensity'")
    metadata = {"precursor_mz": str(precursor_mz)} if precursor_mz else {}
    if adduct:
        metadata["adduct"] = adduct
    return build_record(metadata, pairs[:, 0], pairs[:, 1], require_structure=False)


def neutral_mass(precursor_mz: float | None, adduct: str | None) -> float | None:
    if not precursor_mz or not adduct:
        return None
    return parse_adduct(adduct).neutral_mass(precursor_mz)
