"""MSP reader (NIST, MoNA, MS-DIAL and RIKEN spellings, in any key order): 'Key: value' lines,
'Num Peaks: N', N peaks, a blank line between records."""

from __future__ import annotations

import re
from collections.abc import Iterator

from registry.ingest.files import TextMember
from registry.ingest.parsers import ParseError, RecordError
from registry.ingest.parsers.spectrum import build_record, parsed_record, read_peaks
from registry.records import MsmsRecord, Parsed

_KEY_LINE = re.compile(r"\s*[A-Za-z][\w $/().#-]*:")  # 'Name:', 'PRECURSORMZ:', 'Num Peaks:'
_COLON_PAIRS = re.compile(r"\S+:\S+(\s+\S+:\S+)+")


def _msp_peaks(lines: list[str]) -> list[str]:
    """MSP puts one or several 'mz int' pairs on a line, separated by ';' (NIST, Golm), or as
    'mz:int' pairs separated by spaces (AMDIS), each perhaps with a quoted annotation (which may
    itself hold ';'): annotations go first, then the split."""
    pairs: list[str] = []
    for line in lines:
        for chunk in re.sub(r'"[^"]*"', "", line).split(";"):
            chunk = chunk.strip()
            if _COLON_PAIRS.fullmatch(chunk):
                pairs += chunk.split()
            elif chunk:
                pairs.append(chunk)
    return pairs


def parse_msp(
    member: TextMember, first_no: int = 1, require_structure: bool = True
) -> Iterator[Parsed]:
    """MSP: 'Key: value' lines, 'Num Peaks: N', N peaks, a blank line between records."""
    no = first_no
    for line_no, block in _blocks(member):
        if no == first_no and not _KEY_LINE.match(block[0]):
            raise ParseError(member.name, "not an MSP file (expected 'Key: value' lines)", line_no)
        yield parsed_record(
            no, line_no, block, member, lambda b=block: _msp_record(b, require_structure)
        )
        no += 1
    if no == first_no:
        raise ParseError(member.name, "empty file", 1)


def _blocks(member: TextMember) -> Iterator[tuple[int, list[str]]]:
    """(first line number, lines) of each run of non-blank lines, as the file streams by."""
    current: list[str] = []
    start = 0
    for line_no, line in enumerate(member.lines(), start=1):
        if line.strip():
            if not current:
                start = line_no
            current.append(line)
        elif current:
            yield start, current
            current = []
    if current:
        yield start, current


def _msp_record(block: list[str], require_structure: bool) -> MsmsRecord:
    metadata: dict[str, str] = {}
    peaks: list[str] | None = None
    expected = None
    for line in block:
        if peaks is not None:
            peaks.append(line)
            continue
        key, sep, value = line.partition(":")
        if not sep:
            raise RecordError(f"line {line.strip()!r} is neither 'Key: value' nor a peak")
        key = key.strip()
        if key.lower().replace("_", " ") in ("num peaks", "numpeaks"):
            try:
                expected = int(value.strip())
            except ValueError:
                raise RecordError(f"Num Peaks {value.strip()!r} is not a number") from None
            peaks = []
        else:
            metadata[key] = value.strip()
    if peaks is None:
        raise RecordError("no 'Num Peaks:' line")
    pairs = _msp_peaks(peaks)
    if expected is not None and len(pairs) != expected:
        raise RecordError(f"Num Peaks says {expected} but {len(pairs)} peaks follow (truncated?)")
    mz, intensity = read_peaks(pairs)
    return build_record(metadata, mz, intensity, require_structure)
