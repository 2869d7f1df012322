"""LC-MS runs as an instrument writes them, through msconvert: mzML and mzXML, each read by its
own pyteomics loader (streamed, with the PSI-MS vocabulary psims bundles; hand-written XML
readers would have to redo their base64, zlib and unit handling). Each scan becomes one record
of `spectrum.build_record`, which takes MS2 scans and skips MS1 scans with their reason, so a run
and an MGF export of it give the same spectra.

What a scan gives: precursor m/z and charge (signed by the scan's polarity), polarity, retention
time (seconds), collision energy, scan number, and ion mobility as the file
gives it (1/K0 in V s/cm2, drift time in ms, or a CCS in A^2). XML broken partway stops the
reading at that point with one reject naming the last scan read."""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Iterator
from functools import partial
from typing import Any

from registry.ingest.files import TextMember
from registry.ingest.parsers import RecordError
from registry.ingest.parsers.spectrum import build_record
from registry.records import Parsed

_SCAN_NUMBER = re.compile(r"\bscan=(\d+)")
_ENCODING = re.compile(r"""<\?xml[^>]*encoding=["']([\w.-]+)["']""")


class _EncodedText(io.RawIOBase):
    """A member's text as the bytes lxml parses: encoded as the XML declaration says (the
    member's text is already decoded), streamed from the file when the member is."""

    def __init__(self, member: TextMember) -> None:
        found = _ENCODING.search(member.head(200))
        self._member = member
        self._encoding = found.group(1) if found else "utf-8"
        self._text = member.stream()
        self._pending = b""
        self._position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        """Back to the start (pyteomics rewinds before it parses); nothing else is asked."""
        if (offset, whence) in ((self._position, io.SEEK_SET), (0, io.SEEK_CUR)):
            return self._position
        if (offset, whence) != (0, io.SEEK_SET):
            raise io.UnsupportedOperation("a run is read from its start only")
        self._text.close()
        self._text, self._pending, self._position = self._member.stream(), b"", 0
        return 0

    def readinto(self, buffer: Any) -> int:
        while len(self._pending) < len(buffer):
            chunk = self._text.read(1 << 16)
            if not chunk:
                break
            self._pending += chunk.encode(self._encoding, errors="xmlcharrefreplace")
        n = min(len(buffer), len(self._pending))
        buffer[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        self._position += n
        return n

    def close(self) -> None:
        self._text.close()
        super().close()


def _number(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _seconds(value: Any) -> float | None:
    """A retention time in seconds: pyteomics keeps the unit of mzML's scan start time."""
    number = _number(value)
    if number is None:
        return None
    unit = getattr(value, "unit_info", None) or "minute"
    return number * 60 if unit.startswith("min") else number


def _signed(charge: float | None, ion_mode: str | None) -> str | None:
    if not charge:
        return None
    z = abs(int(charge))
    return f"{z}{'-' if ion_mode == 'negative' else '+'}"


def mzml_scan(scan: dict) -> tuple[str, dict[str, Any]]:
    """An mzML spectrum's scan name and its metadata in the keys build_record reads."""
    found = _SCAN_NUMBER.search(scan.get("id", ""))
    number = found.group(1) if found else str(scan.get("index", 0) + 1)
    ion_mode = (
        "negative" if "negative scan" in scan else "positive" if "positive scan" in scan else None
    )
    first = (scan.get("scanList", {}).get("scan") or [{}])[0]
    precursor = (scan.get("precursorList", {}).get("precursor") or [{}])[0]
    ion = (precursor.get("selectedIonList", {}).get("selectedIon") or [{}])[0]
    activation = precursor.get("activation", {})
    metadata = {
        "title": f"scan={number}",
        "scans": number,
        "ms_level": str(scan.get("ms level", "")),
        "ionmode": ion_mode,
        "precursor_mz": ion.get("selected ion m/z"),
        "charge": _signed(_number(ion.get("charge state")), ion_mode),
        "rtinseconds": _seconds(first.get("scan start time")),
        "collision_energy": activation.get("collision energy"),
        "inverse_ion_mobility": first.get("inverse reduced ion mobility")
        or ion.get("inverse reduced ion mobility"),
        "drift_time_ms": first.get("ion mobility drift time"),
        "ccs": ion.get("collisional cross sectional area")
        or first.get("collisional cross sectional area"),
    }
    return number, metadata


def mzxml_scan(scan: dict) -> tuple[str, dict[str, Any]]:
    """An mzXML scan's number and its metadata in the keys build_record reads (pyteomics gives
    the retention time in minutes)."""
    number = str(scan.get("num", ""))
    ion_mode = {"+": "positive", "-": "negative"}.get(scan.get("polarity", ""))
    precursor = (scan.get("precursorMz") or [{}])[0]
    rt = _number(scan.get("retentionTime"))
    metadata = {
        "title": f"scan={number}",
        "scans": number,
        "ms_level": str(scan.get("msLevel", "")),
        "ionmode": ion_mode,
        "precursor_mz": precursor.get("precursorMz"),
        "charge": _signed(_number(precursor.get("precursorCharge")), ion_mode),
        "rtinseconds": None if rt is None else rt * 60,
        "collision_energy": scan.get("collisionEnergy"),
    }
    return number, metadata


def _read(
    member: TextMember,
    reader: Callable[[Any], Iterator[dict]],
    describe: Callable[[dict], tuple[str, dict[str, Any]]],
    first_no: int,
    require_structure: bool,
) -> Iterator[Parsed]:
    from lxml.etree import LxmlError
    from pyteomics.auxiliary import PyteomicsError

    no, last = first_no, "none"
    source = _EncodedText(member)
    try:
        for index, scan in enumerate(reader(source), start=1):
            number, metadata = describe(scan)
            metadata = {k: str(v) for k, v in metadata.items() if v not in (None, "")}
            location = f"{member.name} scan {number}"
            raw = " ".join(f"{k}={v}" for k, v in metadata.items())
            try:
                record = build_record(
                    metadata, scan["m/z array"], scan["intensity array"], require_structure
                )
                yield Parsed(no, index, raw, record=record, location=location)
            except (RecordError, KeyError) as exc:
                reason = str(exc) if isinstance(exc, RecordError) else "scan without peak arrays"
                yield Parsed(no, index, raw, reason=reason, location=location)
            no, last = no + 1, number
    except (LxmlError, PyteomicsError, ValueError) as exc:
        yield Parsed(
            no,
            None,
            "",
            reason=f"the XML breaks after scan {last}: {exc}; the rest of the file is not read",
            location=f"{member.name} after scan {last}",
        )
    finally:
        source.close()


def parse_mzml(
    member: TextMember, first_no: int = 1, require_structure: bool = True
) -> Iterator[Parsed]:
    """The scans of an mzML run (indexed or not)."""
    from pyteomics import mzml

    reader = partial(mzml.MzML, use_index=False, decode_binary=True)
    return _read(member, reader, mzml_scan, first_no, require_structure)


def parse_mzxml(
    member: TextMember, first_no: int = 1, require_structure: bool = True
) -> Iterator[Parsed]:
    """The scans of an mzXML run."""
    from pyteomics import mzxml

    reader = partial(mzxml.MzXML, use_index=False, decode_binary=True)
    return _read(member, reader, mzxml_scan, first_no, require_structure)
