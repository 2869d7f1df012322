"""CCS tables: long format (one row per ion) with columns found by name, and the PNNL wide
layout (one CCS column per adduct, e.g. mPlusHCCS)."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator

import pandas as pd

from registry.ingest.files import TextMember
from registry.ingest.parsers import ParseError, RecordError
from registry.ingest.parsers.tables import find_column, read_table
from registry.records import CcsRecord, Parsed, StructureRef

CCS_RANGE = (20.0, 3000.0)
ALIASES = {
    "smiles": ("smiles", "smi", "canonical_smiles", "structure", "isomeric_smiles"),
    "inchi": ("inchi",),
    "inchikey": ("inchikey", "inchi_key", "inchi key"),
    "adduct": ("adduct", "ion", "precursor_type", "adduct_type"),
    "mz": ("mz", "m/z", "precursor_mz", "mass", "mz_ion"),
    "ccs": ("ccs", "ccs_a2", "ccs (a2)", "ccs(å2)", "ccs_value", "dtccsn2", "ccsn2"),
    "method": ("ccs_type", "method", "ims_type", "instrument"),
    "drift_gas": ("drift_gas", "gas", "buffer_gas"),
    "name": ("name", "compound_name", "neutral name", "compound"),
    "id": ("source_id", "id", "record_id"),
    "source": ("source", "dataset"),
}
# PNNL MetabolomicsCCS wide layout: <prefix> holds the ion m/z, <prefix>CCS its CCS.
WIDE_ADDUCTS = {
    "mPlusH": "[M+H]+",
    "mPlusNa": "[M+Na]+",
    "mMinusH": "[M-H]-",
    "mPlusTwoH": "[M+2H]2+",
    "mPlusDot": "[M]+",
    "mPlus": "[M]+",
    "mPlusC2H3O2": "[M+Hac-H]-",
    "mPlusCHO2": "[M+FA-H]-",
}


def _float(value: str, what: str) -> float | None:
    if value is None or str(value).strip().lower() in ("", "n/a", "na", "nan", "none"):
        return None
    try:
        number = float(value)
    except ValueError:
        raise RecordError(f"{what} {value!r} is not a number") from None
    if not math.isfinite(number):
        raise RecordError(f"{what} {value!r} is not finite")
    return number


def _structure(row: dict, cols: dict[str, str | None]) -> StructureRef:
    def get(field: str) -> str:
        col = cols.get(field)
        return str(row.get(col, "")).strip() if col else ""

    inchikey = get("inchikey")
    inchi_col_value = get("inchi")
    if inchi_col_value and not inchi_col_value.startswith("InChI="):
        inchikey = inchikey or inchi_col_value  # PNNL's "InChi" column holds InChIKeys
        inchi_col_value = ""
    text = get("smiles") or inchi_col_value
    name = get("name")
    if not text and not inchikey:
        raise RecordError("no structure (no SMILES, InChI or InChIKey)")
    return StructureRef(text=text, given_inchikey=inchikey or None, names=[name] if name else [])


def _long_records(
    table: pd.DataFrame, cols: dict[str, str | None], member: TextMember, first_no: int
) -> Iterator[Parsed]:
    extra_cols = [c for c in table.columns if c not in cols.values()]
    for offset, row in enumerate(table.to_dict("records")):
        no = first_no + offset
        raw = "\t".join(str(v) for v in row.values())
        location = f"{member.name} record {no} (line {offset + 2})"
        try:
            ccs = _float(row[cols["ccs"]], "CCS")
            if ccs is None:
                raise RecordError("no CCS value")
            if not CCS_RANGE[0] <= ccs <= CCS_RANGE[1]:
                raise RecordError(f"CCS {ccs:g} A^2 outside {CCS_RANGE[0]:g}-{CCS_RANGE[1]:g}")
            raw_adduct = str(row[cols["adduct"]]).strip()
            if not raw_adduct:
                raise RecordError("no adduct")
            mz = _float(row[cols["mz"]], "m/z") if cols.get("mz") else None
            if mz is not None and mz <= 0:
                raise RecordError(f"m/z {mz:g} is not positive")
            metadata = {c: row[c] for c in extra_cols if str(row[c]).strip()}
            for c in ("source", "name"):
                if cols.get(c) and str(row[cols[c]]).strip():
                    metadata[c] = row[cols[c]]
            if "extra" in metadata:
                try:
                    metadata["extra"] = json.loads(metadata["extra"])
                except ValueError:
                    pass
            record = CcsRecord(
                structure=_structure(row, cols),
                record_id=str(row[cols["id"]]).strip() or None if cols.get("id") else None,
                ccs=ccs,
                adduct=raw_adduct,
                mz=mz,
                method=str(row[cols["method"]]).strip() or None if cols.get("method") else None,
                drift_gas=str(row[cols["drift_gas"]]).strip() or None
                if cols.get("drift_gas")
                else None,
                metadata=metadata,
            )
            yield Parsed(no, offset + 2, raw, record=record, location=location)
        except RecordError as exc:
            yield Parsed(no, offset + 2, raw, reason=str(exc), location=location)


def _wide_records(
    table: pd.DataFrame,
    cols: dict[str, str | None],
    member: TextMember,
    first_no: int,
    prefixes: list[str],
) -> Iterator[Parsed]:
    no = first_no
    for offset, row in enumerate(table.to_dict("records")):
        raw_row = "\t".join(str(v) for v in row.values())
        for prefix in prefixes:
            value = str(row.get(prefix + "CCS", "")).strip()
            if value.upper() in ("", "N/A", "NA"):
                continue
            location = f"{member.name} record {no} (line {offset + 2}, {prefix}CCS)"
            try:
                ccs = _float(value, "CCS")
                if ccs is None or not CCS_RANGE[0] <= ccs <= CCS_RANGE[1]:
                    raise RecordError(f"CCS {value} A^2 outside {CCS_RANGE[0]:g}-{CCS_RANGE[1]:g}")
                rsd = str(row.get(prefix + "Rsd", "")).strip()
                record = CcsRecord(
                    structure=_structure(row, cols),
                    record_id=f"{row.get(cols['name'] or '', '')}|{prefix}".strip("|"),
                    ccs=ccs,
                    adduct=WIDE_ADDUCTS[prefix],
                    mz=_float(row.get(prefix, ""), "m/z"),
                    method=None,
                    drift_gas=None,
                    metadata={"rsd": rsd} if rsd and rsd.upper() != "N/A" else {},
                )
                yield Parsed(no, offset + 2, raw_row, record=record, location=location)
            except RecordError as exc:
                yield Parsed(no, offset + 2, raw_row, reason=str(exc), location=location)
            no += 1


def parse_ccs(
    member: TextMember, first_no: int = 1, columns: dict[str, str] | None = None
) -> Iterator[Parsed]:
    """CCS rows of a CSV/TSV table; `columns` maps field names to odd headers."""
    table = read_table(member)
    cols: dict[str, str | None] = {f: find_column(table, a) for f, a in ALIASES.items()}
    for field, column in (columns or {}).items():
        if field not in ALIASES:
            raise ParseError(member.name, f"--columns names unknown field {field!r}")
        if column not in table.columns:
            raise ParseError(member.name, f"--columns: no column {column!r} in the table", 1)
        cols[field] = column
    if not (cols["smiles"] or cols["inchi"] or cols["inchikey"]):
        raise ParseError(member.name, "no structure column (smiles, inchi or inchikey)", 1)
    wide = [p for p in WIDE_ADDUCTS if p + "CCS" in table.columns]
    if cols["ccs"] and cols["adduct"]:
        return _long_records(table, cols, member, first_no)
    if wide:
        return _wide_records(table, cols, member, first_no, wide)
    missing = [f for f in ("ccs", "adduct") if not cols[f]]
    raise ParseError(member.name, f"no {' or '.join(missing)} column (use --columns)", 1)
