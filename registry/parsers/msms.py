"""MS/MS readers: MGF, MSP (NIST/MoNA/MS-DIAL) and MassBank record files.

Our own block splitters keep line numbers and raw text so that one damaged record is
rejected with its reason while the rest of the file loads (matchms' loaders stop or skip
silently). Metadata keys are harmonised by matchms (its table of key spellings covers the
MSP flavours), peaks are validated here.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Iterator

import matchms
import numpy as np
from matchms import Metadata
from rdkit import RDLogger

from registry.adducts import normalize_adduct
from registry.parsers import ParseError, RecordError
from registry.records import MsmsRecord, Parsed, StructureRef
from registry.sources import TextMember

matchms.set_matchms_logger_level("ERROR")
RDLogger.DisableLog("rdApp.*")  # importing matchms turns RDKit's error log back on
MAX_MZ = 100_000.0
_MISSING = {"", "n/a", "na", "nan", "none", "null", "unknown", "-"}
_PEAK_SPLIT = re.compile(r"[\s,;:]+")


def _present(value: object) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return None if text.lower() in _MISSING else text


def _peaks(lines: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """m/z and intensity arrays from 'mz intensity [...]' lines; RecordError on anything odd."""
    mz: list[float] = []
    intensity: list[float] = []
    for line in lines:
        fields = [f for f in _PEAK_SPLIT.split(line.strip()) if f]
        if len(fields) < 2:
            raise RecordError(f"cannot read peak line {line.strip()!r}")
        try:
            m, i = float(fields[0]), float(fields[1])
        except ValueError:
            raise RecordError(f"cannot read peak line {line.strip()!r}") from None
        mz.append(m)
        intensity.append(i)
    return np.asarray(mz, dtype=np.float64), np.asarray(intensity, dtype=np.float64)


def _msp_peaks(lines: list[str]) -> list[str]:
    """MSP puts one or several 'mz int' pairs on a line, separated by ';'."""
    pairs: list[str] = []
    for line in lines:
        for chunk in line.split(";"):
            chunk = re.sub(r'"[^"]*"', "", chunk).strip()
            if chunk:
                pairs.append(chunk)
    return pairs


def _number(value: object, what: str) -> float:
    try:
        number = float(str(value).split()[0])
    except (ValueError, IndexError):
        raise RecordError(f"{what} {value!r} is not a number") from None
    if not math.isfinite(number) or number <= 0 or number > MAX_MZ:
        raise RecordError(f"{what} {value!r} is out of range")
    return number


@functools.lru_cache(maxsize=4096)
def _matchms_key(key: str) -> str:
    """matchms's harmonised name of a metadata key, memoised: building a matchms Spectrum
    re-runs its regex key replacements over every key six times (profiled: 60 % of MGF parse
    time), while a file holds a few dozen distinct keys."""
    (name,) = Metadata({key: ""}).keys()
    return name


def _harmonised(metadata: dict[str, str]) -> dict:
    """matchms's key and value harmonisation of one record's metadata, as `Spectrum()` does it:
    a key already in matchms style wins over aliases of it; the first alias fills a gap."""
    names = {key: _matchms_key(key) for key in metadata}
    merged = {key: value for key, value in metadata.items() if names[key] == key}
    for key, value in metadata.items():
        if names[key] != key and merged.get(names[key]) is None:
            merged[names[key]] = value
    harmonised = Metadata(merged, matchms_key_style=False)
    harmonised.harmonize_values()
    return dict(harmonised.data)


def build_record(
    metadata: dict[str, str], mz: np.ndarray, intensity: np.ndarray, require_structure: bool = True
) -> MsmsRecord:
    """Validate peaks and metadata of one spectrum and return the plain record. Library
    spectra need a structure; query spectra (unknowns) do not."""
    if mz.size == 0:
        raise RecordError("spectrum has no peaks")
    if not (np.all(np.isfinite(mz)) and np.all(np.isfinite(intensity))):
        raise RecordError("peak list holds NaN or infinite values")
    if np.any(intensity < 0):
        raise RecordError(f"negative intensity {intensity.min():g}")
    if np.any(mz <= 0) or np.any(mz > MAX_MZ):
        raise RecordError(f"peak m/z outside 0-{MAX_MZ:g}")
    if np.any(intensity > np.finfo(np.float32).max):
        raise RecordError("peak intensity too large to store")
    if not np.any(intensity > 0):
        raise RecordError("every peak has zero intensity")
    order = np.argsort(mz, kind="stable")
    lowered = {k.lower(): v for k, v in metadata.items()}
    md = _harmonised(lowered)
    precursor = md.get("precursor_mz")
    if precursor is None:
        precursor = _present(lowered.get("pepmass") or lowered.get("precursor_mz_raw"))
    precursor_mz = None if precursor is None else _number(precursor, "precursor m/z")
    smiles = _present(md.get("smiles"))
    inchi = _present(md.get("inchi"))
    if inchi and not inchi.startswith("InChI="):
        inchi = "InChI=" + inchi
    if not smiles and not inchi and require_structure:
        raise RecordError("no structure (neither SMILES nor InChI given)")
    raw_adduct = _present(md.get("adduct"))
    adduct = normalize_adduct(raw_adduct) or raw_adduct
    ion_mode = _present(md.get("ionmode"))
    if ion_mode:
        ion_mode = {"p": "positive", "n": "negative"}.get(ion_mode[0].lower(), ion_mode.lower())
    names = [n for n in (_present(md.get("compound_name")),) if n]
    extra_keys = (
        "formula",
        "instrument",
        "fragmentation",
        "retention_time",
        "license",
        "spectrum_id",
        "ms_level",
        "splash",
        "charge",
    )
    return MsmsRecord(
        structure=StructureRef(
            text=smiles or inchi or "",
            given_inchikey=_present(md.get("inchikey")),
            names=names,
            external_ids={k: v for k, v in (("cas", _present(md.get("casno"))),) if v},
        ),
        record_id=_present(md.get("spectrum_id"))
        or _present(md.get("title"))
        or _present(md.get("compound_name")),
        precursor_mz=precursor_mz,
        adduct=adduct,
        ion_mode=ion_mode,
        instrument_type=_present(md.get("instrument_type")),
        collision_energy=_present(md.get("collision_energy")),
        mz=mz[order],
        intensity=intensity[order],
        metadata={k: md[k] for k in extra_keys if _present(md.get(k))},
    )


def _parsed(no: int, line: int, block: list[str], member: TextMember, build) -> Parsed:
    raw = "\n".join(block)
    location = f"{member.name} record {no} (line {line})"
    try:
        return Parsed(no, line, raw, record=build(), location=location)
    except RecordError as exc:
        return Parsed(no, line, raw, reason=str(exc), location=location)


def parse_mgf(
    member: TextMember, first_no: int = 1, require_structure: bool = True
) -> Iterator[Parsed]:
    """MGF: BEGIN IONS / KEY=VALUE / peak lines / END IONS."""
    block: list[str] | None = None
    start = 0
    no = first_no
    seen = False
    for line_no, line in enumerate(member.text.splitlines(), start=1):
        stripped = line.strip()
        if block is None:
            if stripped.upper() == "BEGIN IONS":
                block, start, seen = [line], line_no, True
            elif stripped and not stripped.startswith(("#", ";", "!")) and not seen:
                raise ParseError(member.name, "not an MGF file (expected BEGIN IONS)", line_no)
            continue
        block.append(line)
        if stripped.upper() == "END IONS":
            yield _parsed(
                no, start, block, member, lambda b=block: _mgf_record(b, require_structure)
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


def _mgf_record(block: list[str], require_structure: bool) -> MsmsRecord:
    metadata: dict[str, str] = {}
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
    mz, intensity = _peaks(peak_lines)
    return build_record(metadata, mz, intensity, require_structure)


def parse_msp(
    member: TextMember, first_no: int = 1, require_structure: bool = True
) -> Iterator[Parsed]:
    """MSP: 'Key: value' lines, 'Num Peaks: N', N peaks, a blank line between records."""
    lines = member.text.splitlines()
    blocks: list[tuple[int, list[str]]] = []
    current: list[str] = []
    start = 0
    for line_no, line in enumerate(lines, start=1):
        if line.strip():
            if not current:
                start = line_no
            current.append(line)
        elif current:
            blocks.append((start, current))
            current = []
    if current:
        blocks.append((start, current))
    if not blocks:
        raise ParseError(member.name, "empty file", 1)
    first = blocks[0][1][0]
    if ":" not in first or not first.split(":")[0].strip().lower().startswith("name"):
        raise ParseError(member.name, "not an MSP file (expected 'Name:' first)", blocks[0][0])
    for offset, (line_no, block) in enumerate(blocks):
        yield _parsed(
            first_no + offset,
            line_no,
            block,
            member,
            lambda b=block: _msp_record(b, require_structure),
        )


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
    mz, intensity = _peaks(pairs)
    return build_record(metadata, mz, intensity, require_structure)


_MASSBANK_KEYS = {
    "ACCESSION": "spectrum_id",
    "CH$NAME": "compound_name",
    "CH$FORMULA": "formula",
    "CH$SMILES": "smiles",
    "CH$IUPAC": "inchi",
    "AC$INSTRUMENT": "instrument",
    "AC$INSTRUMENT_TYPE": "instrument_type",
    "LICENSE": "license",
    "PK$SPLASH": "splash",
}
_MASSBANK_SUBKEYS = {
    "MS_TYPE": "ms_level",
    "ION_MODE": "ionmode",
    "COLLISION_ENERGY": "collision_energy",
    "FRAGMENTATION_MODE": "fragmentation",
    "PRECURSOR_M/Z": "precursor_mz",
    "PRECURSOR_TYPE": "adduct",
    "RETENTION_TIME": "retention_time",
}


def parse_massbank(
    member: TextMember, first_no: int = 1, require_structure: bool = True
) -> Iterator[Parsed]:
    """MassBank record format: 'TAG: value' lines, PK$PEAK block, '//' ends a record."""
    block: list[str] = []
    start = 1
    no = first_no
    for line_no, line in enumerate(member.text.splitlines(), start=1):
        if not block:
            if not line.strip():
                continue
            if not line.startswith("ACCESSION:"):
                raise ParseError(
                    member.name, "not a MassBank record (expected ACCESSION:)", line_no
                )
            start = line_no
        block.append(line)
        if line.strip() == "//":
            yield _parsed(
                no, start, block, member, lambda b=block: _massbank_record(b, require_structure)
            )
            no += 1
            block = []
    if block:
        yield Parsed(
            no,
            start,
            "\n".join(block),
            reason="truncated: no closing '//'",
            location=f"{member.name} record {no} (line {start})",
        )
    elif no == first_no:
        raise ParseError(member.name, "empty file", 1)


def _massbank_record(block: list[str], require_structure: bool) -> MsmsRecord:
    metadata: dict[str, str] = {}
    peak_lines: list[str] = []
    in_peaks = False
    cas = pubchem = None
    for line in block[:-1]:
        if line.startswith("  "):
            if in_peaks:
                peak_lines.append(line)
            continue
        in_peaks = False
        tag, _, value = line.partition(": ")
        value = value.strip()
        if tag == "PK$PEAK":
            in_peaks = True
        elif tag in _MASSBANK_KEYS:
            metadata.setdefault(_MASSBANK_KEYS[tag], value)
        elif tag in ("AC$MASS_SPECTROMETRY", "MS$FOCUSED_ION", "AC$CHROMATOGRAPHY"):
            sub, _, subvalue = value.partition(" ")
            if sub in _MASSBANK_SUBKEYS:
                metadata[_MASSBANK_SUBKEYS[sub]] = subvalue.strip()
        elif tag == "CH$LINK":
            db, _, ident = value.partition(" ")
            if db == "INCHIKEY":
                metadata["inchikey"] = ident.strip()
            elif db == "CAS":
                cas = ident.strip()
            elif db == "PUBCHEM" and ident.strip().startswith("CID:"):
                pubchem = ident.strip()[4:]
    ms_level = metadata.get("ms_level", "")
    if ms_level and ms_level.upper() != "MS2":
        raise RecordError(f"{ms_level} spectrum, not MS/MS (MS2)")
    mz, intensity = _peaks(peak_lines)
    record = build_record(metadata, mz, intensity, require_structure)
    if cas:
        record.structure.external_ids["cas"] = cas
    if pubchem:
        record.structure.external_ids["pubchem_cid"] = pubchem
    return record


def parse_msms(
    member: TextMember, first_no: int = 1, require_structure: bool = True
) -> Iterator[Parsed]:
    """Choose the reader by file name, else by the first meaningful line."""
    name = member.inner_name.lower()
    if name.endswith(".mgf"):
        return parse_mgf(member, first_no, require_structure)
    if name.endswith(".msp"):
        return parse_msp(member, first_no, require_structure)
    head = member.text.lstrip()[:200]
    if head.startswith("ACCESSION:"):
        return parse_massbank(member, first_no, require_structure)
    if head.upper().startswith("BEGIN IONS"):
        return parse_mgf(member, first_no, require_structure)
    if head.lower().startswith("name:"):
        return parse_msp(member, first_no, require_structure)
    if not head:
        raise ParseError(member.name, "empty file", 1)
    raise ParseError(member.name, "not an MS/MS file (MGF, MSP or MassBank record expected)", 1)
