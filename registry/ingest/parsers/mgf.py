"""MGF reader: BEGIN IONS / KEY=VALUE lines / peak lines / END IONS; KEY=VALUE lines before the
first block (Mascot's search parameters, e.g. CHARGE=2+) apply to every block that does not set
the key itself."""

from __future__ import annotations

import re
from collections.abc import Iterator

from registry.ingest.files import TextMember
from registry.ingest.parsers import ParseError
from registry.ingest.parsers.spectrum import build_record, parsed_record, read_peaks
from registry.records import MsmsRecord, Parsed

_PARAMETER = re.compile(r"[A-Za-z_][\w]*\s*=")  # a KEY=VALUE line


def parse_mgf(
    member: TextMember, first_no: int = 1, require_structure: bool = True
) -> Iterator[Parsed]:
    """MGF: BEGIN IONS / KEY=VALUE / peak lines / END IONS."""
    block: list[str] | None = None
    start = 0
    no = first_no
    seen = False
    defaults: dict[str, str] = {}
    for line_no, line in enumerate(member.lines(), start=1):
        stripped = line.strip()
        if block is None:
            if stripped.upper() == "BEGIN IONS":
                block, start, seen = [line], line_no, True
            elif not seen and _PARAMETER.match(stripped):
                key, _, value = stripped.partition("=")
                defaults[key.strip()] = value.strip()
            elif stripped and not stripped.startswith(("#", ";", "!")) and not seen:
                raise ParseError(member.name, "not an MGF file (expected BEGIN IONS)", line_no)
            continue
        block.append(line)
        if stripped.upper() == "END IONS":
            yield parsed_record(
                no,
                start,
                block,
                member,
                lambda b=block: _mgf_record(b, require_structure, defaults),
            )
            no += 1
            block = None
        elif stripped.upper() == "BEGIN IONS":
            yield Parsed(
                no,
                start,
                "\n".join(block[:-1]),
                reason="truncated: no END IONS",
                location=f"{member.name} record {no} (line {start})",
            )
            no += 1
            block, start = [line], line_no
    if block is not None:
        yield Parsed(
            no,
            start,
            "\n".join(block),
            reason="truncated: no END IONS at end of file",
            location=f"{member.name} record {no} (line {start})",
        )
    elif not seen:
        raise ParseError(member.name, "not an MGF file: no spectra (no BEGIN IONS block)", 1)


def _mgf_record(block: list[str], require_structure: bool, defaults: dict[str, str]) -> MsmsRecord:
    metadata = dict(defaults)
    peak_lines: list[str] = []
    for line in block[1:-1]:
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if "=" in stripped and not stripped[0].isdigit():
            key, _, value = stripped.partition("=")
            metadata[key.strip()] = value.strip()
        else:
            peak_lines.append(stripped)
    mz, intensity = read_peaks(peak_lines)
    return build_record(metadata, mz, intensity, require_structure)
