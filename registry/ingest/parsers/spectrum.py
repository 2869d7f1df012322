"""One MS/MS spectrum from a record's metadata and peak lines, whatever the file format:
matchms harmonises the metadata keys and values, molvis validates the peaks.

The format readers (mgf.py, msp.py, massbank.py) keep their own block splitters so that line
numbers and raw text survive: one damaged record is rejected with its reason while the rest of
the file loads (matchms' loaders stop or skip silently).
"""

from __future__ import annotations

import functools
import math
import re

import matchms
import numpy as np
from matchms import Metadata
from rdkit import RDLogger

from registry.ingest.files import TextMember
from registry.ingest.parsers import RecordError
from registry.records import MsmsRecord, Parsed, StructureRef

matchms.set_matchms_logger_level("ERROR")
RDLogger.DisableLog("rdApp.*")  # importing matchms turns RDKit's error log back on
MAX_MZ = 100_000.0
_MISSING = {"", "n/a", "na", "nan", "none", "null", "unknown", "-"}
_PEAK_SPLIT = re.compile(r"[\s,;:]+")


def present(value: object) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return None if text.lower() in _MISSING else text


def read_peaks(lines: list[str]) -> tuple[np.ndarray, np.ndarray]:
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
    re-runs its regex key replacements over every key six times (most of an MGF's parse time,
    profiled), while a file holds a few dozen distinct keys."""
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


EXTRA_KEYS = (
    "formula",
    "instrument",
    "fragmentation",
    "retention_time",
    "license",
    "spectrum_id",
    "ms_level",
    "splash",
    "charge",
    "scans",
    "feature_id",
    "ccs",
    "inverse_ion_mobility",
    "drift_time_ms",
)  # metadata kept with the spectrum as given


_RT_KEYS = ("rtinseconds", "rtinminutes", "retention_time", "retentiontime", "rt", "retention time")
_NUMBER_UNIT = re.compile(r"\s*([-+]?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?)\s*([A-Za-z]*)")


def retention_seconds(lowered: dict[str, str]) -> float | None:
    """A record's retention time in seconds: RTINSECONDS as given, RTINMINUTES x 60; any other
    spelling by its unit ('5.3 min', '318 s'), else in minutes, as MS-DIAL, NIST MSP and MassBank
    write it; None when absent or unreadable."""
    for key in _RT_KEYS:
        text = present(lowered.get(key))
        if text is None:
            continue
        found = _NUMBER_UNIT.match(text)
        if not found:
            return None
        number, unit = float(found.group(1)), found.group(2).lower()
        return number if key == "rtinseconds" or unit.startswith("s") else number * 60
    return None


def ion_mobility(lowered: dict[str, str]) -> dict[str, str]:
    """The record's ion mobility in molvis's keys: `inverse_ion_mobility` (1/K0, V s/cm2),
    `drift_time_ms`, `ccs` (A^2). MZmine writes ION_MOBILITY with ION_MOBILITY_UNIT (a value
    without unit below 3 is read as 1/K0, above as a drift time in ms); CCS or
    COLLISION_CROSS_SECTION is the CCS."""
    out = {
        k: v for k in ("inverse_ion_mobility", "drift_time_ms") if (v := present(lowered.get(k)))
    }
    ccs = present(lowered.get("ccs")) or present(lowered.get("collision_cross_section"))
    if ccs:
        out["ccs"] = ccs
    value = present(lowered.get("ion_mobility"))
    found = _NUMBER_UNIT.match(value) if value else None
    if found and not out.get("inverse_ion_mobility") and not out.get("drift_time_ms"):
        unit = (present(lowered.get("ion_mobility_unit")) or found.group(2)).lower()
        inverse = "cm" in unit or (not unit and float(found.group(1)) < 3)
        out["inverse_ion_mobility" if inverse else "drift_time_ms"] = found.group(1)
    return out


def ms_level(value: object) -> int | None:
    """The MS level a record states ('2', 'MS2', 'MSMS', 'MS/MS', 'MS1', 'MS'), None when it
    states none or one molvis cannot read (such a record is taken as MS/MS)."""
    text = (present(value) or "").upper().replace(" ", "")
    if text in ("MSMS", "MS/MS"):
        return 2
    if text == "MS":
        return 1
    found = re.fullmatch(r"(?:MS)?(\d+)", text)
    return int(found.group(1)) if found else None


def _check_peaks(mz: np.ndarray, intensity: np.ndarray) -> None:
    """A peak list that can be stored and compared: finite, in range, some intensity."""
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


_IN_COMMENT = {  # MoNA's MSP puts the structure in its comments: "SMILES=..." "InChI=InChI=..."
    "smiles": re.compile(r'"(?:computed )?SMILES=([^"]+)"', re.IGNORECASE),
    "inchi": re.compile(r'"(?:computed )?InChI=(InChI=[^"]+)"', re.IGNORECASE),
}


def _unquoted(value: object) -> str | None:
    """A value without the quotes GNPS puts around it (INCHI="InChI=1S/...")."""
    text = present(value)
    return present(text.strip().strip('"').strip("'")) if text else None


def _structure(md: dict[str, str], require_structure: bool) -> StructureRef:
    """The structure a spectrum names (SMILES, else InChI; quoted or not, else found in its
    comments), with its name and CAS number. A spectrum that gives only an InChIKey keeps it:
    the ingest attaches it to that compound when the registry (or the same file) holds it."""
    smiles = _unquoted(md.get("smiles"))
    inchi = _unquoted(md.get("inchi"))
    comment = present(md.get("comment")) or ""
    if not smiles and not inchi:
        found = {k: rule.search(comment) for k, rule in _IN_COMMENT.items()}
        smiles = found["smiles"].group(1).strip() if found["smiles"] else None
        inchi = found["inchi"].group(1).strip() if found["inchi"] else None
    if inchi and not inchi.startswith("InChI="):
        inchi = "InChI=" + inchi
    inchikey = _unquoted(md.get("inchikey"))
    if not smiles and not inchi and not inchikey and require_structure:
        raise RecordError("no structure (neither SMILES, InChI nor InChIKey given)")
    return StructureRef(
        text=smiles or inchi or "",
        given_inchikey=inchikey,
        names=[n for n in (present(md.get("compound_name")),) if n],
        external_ids={k: v for k, v in (("cas", present(md.get("casno"))),) if v},
    )


def build_record(
    metadata: dict[str, str], mz: np.ndarray, intensity: np.ndarray, require_structure: bool = True
) -> MsmsRecord:
    """Validate peaks and metadata of one spectrum and return the plain record. Library
    spectra need a structure; query spectra (unknowns) do not. A scan of another MS level than
    2 (an LC-MS run's MS1 survey scans, MSLEVEL=1 in an MGF) is skipped with that reason."""
    lowered = {k.lower(): v for k, v in metadata.items()}
    md = _harmonised(lowered)
    md.pop("retention_time", None)
    seconds = retention_seconds(lowered)
    md.update({"retention_time": seconds} if seconds is not None else {}, **ion_mobility(lowered))
    level = ms_level(md.get("ms_level"))
    if level is not None and level != 2:
        raise RecordError(f"an MS{level} scan, not MS/MS: skipped")
    _check_peaks(mz, intensity)
    order = np.argsort(mz, kind="stable")
    precursor = md.get("precursor_mz")
    if precursor is None:
        precursor = present(lowered.get("pepmass") or lowered.get("precursor_mz_raw"))
    precursor_mz = None if precursor is None else _number(precursor, "precursor m/z")
    structure = _structure(md, require_structure)
    return MsmsRecord(
        structure=structure,
        record_id=present(md.get("spectrum_id"))
        or present(md.get("title"))
        or present(md.get("compound_name")),
        precursor_mz=precursor_mz,
        adduct=present(md.get("adduct")),  # as written: normalize.py spells it molvis's way
        ion_mode=present(md.get("ionmode")),
        instrument_type=present(md.get("instrument_type")),
        collision_energy=present(md.get("collision_energy")),
        mz=mz[order],
        intensity=intensity[order],
        metadata={k: md[k] for k in EXTRA_KEYS if present(md.get(k))},
    )


def parsed_record(no: int, line: int, block: list[str], member: TextMember, build) -> Parsed:
    raw = "\n".join(block)
    location = f"{member.name} record {no} (line {line})"
    try:
        return Parsed(no, line, raw, record=build(), location=location)
    except RecordError as exc:
        return Parsed(no, line, raw, reason=str(exc), location=location)
