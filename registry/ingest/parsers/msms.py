"""MS/MS files: choose the reader (MGF, MSP, MassBank, GNPS / MoNA / matchms JSON, or an
mzML / mzXML run) by the file name, else by its first meaningful line."""

from __future__ import annotations

from collections.abc import Iterator

from registry.ingest.files import TextMember
from registry.ingest.parsers import ParseError
from registry.ingest.parsers.json_spectra import parse_json_spectra
from registry.ingest.parsers.massbank import parse_massbank
from registry.ingest.parsers.mgf import parse_mgf
from registry.ingest.parsers.msp import parse_msp
from registry.ingest.parsers.runs import parse_mzml, parse_mzxml
from registry.records import Parsed


def parse_msms(
    member: TextMember, first_no: int = 1, require_structure: bool = True
) -> Iterator[Parsed]:
    """Choose the reader by file name, else by the first meaningful line."""
    name = member.inner_name.lower()
    if name.endswith(".mgf"):
        return parse_mgf(member, first_no, require_structure)
    if name.endswith(".msp"):
        return parse_msp(member, first_no, require_structure)
    if name.endswith(".json"):
        return parse_json_spectra(member, first_no, require_structure)
    if name.endswith((".mzml", ".mzxml")):
        return _run(member, first_no, require_structure)
    head = member.head().lstrip()  # 4 kB: a Mascot or MSP header can run long
    if head.lower().startswith("<mzspeclib"):
        raise ParseError(
            member.name,
            "mzSpecLib is not read yet: convert it to MSP or MGF first (e.g. with the "
            "mzspeclib Python package)",
            1,
        )
    if head.startswith("<"):
        return _run(member, first_no, require_structure)
    if head.startswith(("[", "{")):
        return parse_json_spectra(member, first_no, require_structure)
    if head.startswith("ACCESSION:"):
        return parse_massbank(member, first_no, require_structure)
    if head.upper().startswith("BEGIN IONS") or "\nBEGIN IONS" in head.upper():
        return parse_mgf(member, first_no, require_structure)
    if head.lower().startswith("name:") or "num peaks:" in head.lower():
        return parse_msp(member, first_no, require_structure)
    if not head:
        raise ParseError(member.name, "empty file", 1)
    raise ParseError(
        member.name,
        "not an MS/MS file (MGF, MSP, MassBank record, JSON, mzML or mzXML expected)",
        1,
    )


def _run(member: TextMember, first_no: int, require_structure: bool) -> Iterator[Parsed]:
    """An LC-MS run by its root element: mzML (indexed or not) or mzXML. A run names no
    structures, so it is searched, never ingested as reference spectra."""
    head = member.head(4096)
    if "<mzML" in head or "<indexedmzML" in head:
        reader = parse_mzml
    elif "<mzXML" in head:
        reader = parse_mzxml
    else:
        raise ParseError(member.name, "an XML file, but neither mzML nor mzXML", 1)
    if require_structure:
        raise ParseError(
            member.name,
            "an LC-MS run names no structures, so it cannot be reference spectra: search it "
            "(molvis search --msms), or ingest its identified spectra as MGF/MSP with structures",
        )
    return reader(member, first_no, require_structure)
