"""MassBank record reader: 'TAG: value' lines, a PK$PEAK block, '//' ends a record."""

from __future__ import annotations

from collections.abc import Iterator

from registry.ingest.files import TextMember
from registry.ingest.parsers import ParseError, RecordError
from registry.ingest.parsers.spectrum import build_record, parsed_record, read_peaks
from registry.records import MsmsRecord, Parsed

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
    for line_no, line in enumerate(member.lines(), start=1):
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
            yield parsed_record(
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
    mz, intensity = read_peaks(peak_lines)
    record = build_record(metadata, mz, intensity, require_structure)
    if cas:
        record.structure.external_ids["cas"] = cas
    if pubchem:
        record.structure.external_ids["pubchem_cid"] = pubchem
    return record
