"""Structure-only files (candidate libraries): SDF, SMILES files/tables and InChI lists."""

from __future__ import annotations

from collections.abc import Iterator

from registry.ingest.files import TextMember
from registry.ingest.parsers import ParseError
from registry.ingest.parsers.tables import find_column, table_chunks
from registry.records import Parsed, StructureRecord, StructureRef

_SDF_ID_FIELDS = ("ID", "id", "NAME", "Name", "name", "IDNUMBER", "PUBCHEM_COMPOUND_CID")


def _sdf(member: TextMember, first_no: int) -> Iterator[Parsed]:
    """Records between '$$$$' lines, as the file streams by; a file whose first record has
    neither 'M  END' nor '$$$$' is not an SDF file."""
    block: list[str] = []
    start = 1
    no = first_no
    for line_no, line in enumerate(member.lines(), start=1):
        if line.strip() != "$$$$":
            block.append(line)
            continue
        yield _sdf_record(block, no, start, member)
        no += 1
        block, start = [], line_no + 1
    if no == first_no and not any(line.startswith("M  END") for line in block):
        raise ParseError(member.name, "not an SDF file (no M  END / $$$$)", 1)
    if any(line.strip() for line in block):
        yield _sdf_record(block, no, start, member)


def _sdf_record(block: list[str], no: int, line: int, member: TextMember) -> Parsed:
    raw = "\n".join(block)
    location = f"{member.name} record {no} (line {line})"
    end = next((i for i, ln in enumerate(block) if ln.startswith("M  END")), None)
    if end is None:
        return Parsed(no, line, raw, reason="truncated molblock (no 'M  END')", location=location)
    molblock = "\n".join(block[: end + 1])
    fields: dict[str, str] = {}
    key = None
    for ln in block[end + 1 :]:
        if ln.startswith(">"):
            key = ln.split("<", 1)[1].split(">", 1)[0] if "<" in ln else None
        elif key and ln.strip():
            fields.setdefault(key, ln.strip())
    title = block[0].strip() if block else ""
    record_id = next((fields[f] for f in _SDF_ID_FIELDS if f in fields), None) or title or None
    structure = StructureRef(
        text=molblock,
        given_inchikey=fields.get("INCHIKEY") or fields.get("InChIKey"),
        names=[title] if title else [],
    )
    return Parsed(no, line, raw, record=StructureRecord(structure, record_id), location=location)


def _lines(member: TextMember, first_no: int) -> Iterator[Parsed]:
    """'.smi' (SMILES [id]) or InChI list, one structure per line."""
    no = first_no
    for line_no, line in enumerate(member.lines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        parts = stripped.split(None, 1)
        if no == first_no and parts[0].lower() in ("smiles", "inchi"):
            continue
        name = parts[1].strip() if len(parts) > 1 else None
        record = StructureRecord(StructureRef(text=parts[0], names=[name] if name else []), name)
        yield Parsed(no, line_no, line, record=record, location=f"{member.name} line {line_no}")
        no += 1


def _table(member: TextMember, first_no: int) -> Iterator[Parsed]:
    """Rows of a CSV/TSV with a SMILES or InChI column, read in chunks as the file streams."""
    offset = 0
    for table in table_chunks(member):
        column = find_column(table, ("smiles", "canonical_smiles", "smi", "inchi", "structure"))
        if column is None:
            raise ParseError(member.name, "no SMILES or InChI column", 1)
        name_col = find_column(table, ("name", "id", "compound_name"))
        key_col = find_column(table, ("inchikey",))
        values = table[column].tolist()
        names = table[name_col].tolist() if name_col else [""] * len(values)
        keys = table[key_col].tolist() if key_col else [""] * len(values)
        for text, name, key in zip(values, names, keys, strict=True):
            structure = StructureRef(
                text=text, given_inchikey=key or None, names=[name] if name else []
            )
            yield Parsed(
                first_no + offset,
                offset + 2,
                text,
                record=StructureRecord(structure, name or None),
                location=f"{member.name} record {first_no + offset} (line {offset + 2})",
            )
            offset += 1


def parse_structures(member: TextMember, first_no: int = 1) -> Iterator[Parsed]:
    """Choose the reader by file name: .sdf/.mol, .csv/.tsv, else one structure per line."""
    name = member.inner_name.lower()
    if not any(line.strip() for line in member.lines()):
        raise ParseError(member.name, "empty file", 1)
    if name.endswith((".sdf", ".sd", ".mol")):
        return _sdf(member, first_no)
    if name.endswith((".csv", ".tsv", ".tab")):
        return _table(member, first_no)
    return _lines(member, first_no)
