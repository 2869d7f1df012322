"""MS/MS files: choose the reader (MGF, MSP or MassBank) by the file name, else by its first
meaningful line."""

from __future__ import annotations

from collections.abc import Iterator

from registry.ingest.files import TextMember
from registry.ingest.parsers import ParseError
from registry.ingest.parsers.massbank import parse_massbank
from registry.ingest.parsers.mgf import parse_mgf
from registry.ingest.parsers.msp import parse_msp
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
    head = member.head().lstrip()[:200]
    if head.startswith("ACCESSION:"):
        return parse_massbank(member, first_no, require_structure)
    if head.upper().startswith("BEGIN IONS"):
        return parse_mgf(member, first_no, require_structure)
    if head.lower().startswith("name:"):
        return parse_msp(member, first_no, require_structure)
    if not head:
        raise ParseError(member.name, "empty file", 1)
    raise ParseError(member.name, "not an MS/MS file (MGF, MSP or MassBank record expected)", 1)
