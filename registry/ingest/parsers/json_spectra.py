"""MS/MS spectra as JSON: GNPS library and matchms exports (a list of objects with `peaks_json`
and flat metadata) and MoNA exports (`spectrum` as 'mz:int' pairs, `metaData` and `compound`
lists of name/value objects). A JSON document is parsed whole (the json module cannot stream a
list), so such a file is held in memory once; each object becomes one record of
`spectrum.build_record`, and an object molvis cannot read is one reject with its position."""

from __future__ import annotations

import ast
import json
from collections.abc import Iterator
from typing import Any

import numpy as np

from registry.ingest.files import TextMember
from registry.ingest.parsers import ParseError, RecordError
from registry.ingest.parsers.spectrum import build_record
from registry.records import MsmsRecord, Parsed

_FLAT_KEYS = {"inchi_aux": "inchiaux", "ion_mode": "ionmode"}  # as matchms' load_from_json
_MONA_KEYS = {  # MoNA metaData names -> the keys build_record reads
    "precursor m/z": "precursor_mz",
    "precursor type": "adduct",
    "ionization mode": "ionmode",
    "collision energy": "collision_energy",
    "ms level": "ms_level",
    "instrument type": "instrument_type",
    "retention time": "retention_time",
    "smiles": "smiles",
    "inchi": "inchi",
    "inchikey": "inchikey",
    "cas": "casno",
    "license": "license",
}


def _flat(item: dict) -> tuple[dict[str, Any], Any]:
    peaks = item.get("peaks_json")
    if isinstance(peaks, str):
        try:
            peaks = ast.literal_eval(peaks)
        except (ValueError, SyntaxError):
            raise RecordError("peaks_json is not a list of [m/z, intensity] pairs") from None
    metadata = {
        _FLAT_KEYS.get(k.lower(), k.lower()): v for k, v in item.items() if k != "peaks_json"
    }
    return metadata, peaks


def _mona(item: dict) -> tuple[dict[str, Any], Any]:
    metadata: dict[str, Any] = {"spectrum_id": item.get("id")}
    compound = (item.get("compound") or [{}])[0]
    entries = [*compound.get("metaData", []), *item.get("metaData", [])]
    for entry in entries:
        key = _MONA_KEYS.get(str(entry.get("name", "")).lower())
        if key and metadata.get(key) is None:
            metadata[key] = entry.get("value")
    metadata["inchi"] = metadata.get("inchi") or compound.get("inchi")
    names = compound.get("names") or [{}]
    metadata["compound_name"] = names[0].get("name")
    try:
        peaks = [[float(v) for v in pair.split(":")] for pair in item["spectrum"].split()]
    except (AttributeError, ValueError):
        peaks = None
    if peaks is None or any(len(pair) != 2 for pair in peaks):
        raise RecordError("'spectrum' is not a list of 'm/z:intensity' pairs")
    return metadata, peaks


def _record(item: Any, require_structure: bool) -> MsmsRecord:
    if not isinstance(item, dict):
        raise RecordError("not a spectrum object")
    if "peaks_json" in item:
        metadata, peaks = _flat(item)
    elif "spectrum" in item:
        metadata, peaks = _mona(item)
    else:
        raise RecordError("no peaks (neither 'peaks_json' nor MoNA's 'spectrum')")
    try:
        array = np.asarray(peaks if peaks else np.empty((0, 2)), dtype=float)
    except (TypeError, ValueError):
        raise RecordError("peaks are not numbers") from None
    if array.ndim != 2 or array.shape[1] < 2:
        raise RecordError("peaks are not [m/z, intensity] pairs")
    metadata = {k: str(v) for k, v in metadata.items() if v is not None and v != ""}
    return build_record(metadata, array[:, 0], array[:, 1], require_structure)


def parse_json_spectra(
    member: TextMember, first_no: int = 1, require_structure: bool = True
) -> Iterator[Parsed]:
    """Each object of the document's list (or the one object) as a record or a reject."""
    try:
        document = json.loads(member.text)
    except json.JSONDecodeError as exc:
        raise ParseError(member.name, f"not JSON: {exc.msg}", exc.lineno) from None
    items = document if isinstance(document, list) else [document]
    for n, item in enumerate(items):
        location = f"{member.name} record {n + 1}"
        raw = json.dumps(item)[:2000]
        try:
            record = _record(item, require_structure)
            yield Parsed(first_no + n, None, raw, record=record, location=location)
        except RecordError as exc:
            yield Parsed(first_no + n, None, raw, reason=str(exc), location=location)
