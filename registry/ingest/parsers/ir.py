"""IR reader: JCAMP-DX (AFFN and compressed ASDF/DIF forms) through the `jcamp` package.

JCAMP files rarely carry a structure; it comes from ##$SMILES/##$INCHI lines when present,
else from a structure index table (file name, CAS or NIST id -> InChI/SMILES).
"""

from __future__ import annotations

import contextlib
import io
import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import jcamp
import numpy as np
import pandas as pd

from registry.chem.ir_grid import ir_grid_vector
from registry.ingest.files import TextMember
from registry.ingest.parsers import ParseError, RecordError
from registry.records import IrRecord, Parsed, StructureRef

_CAS_RE = re.compile(r"^\d{2,7}-\d{2}-\d$")
_NPOINTS_RE = re.compile(r"^##NPOINTS=\s*(\d+)", re.MULTILINE | re.IGNORECASE)
_TITLE_RE = re.compile(r"^##TITLE=", re.MULTILINE | re.IGNORECASE)
MAX_POINTS = 10_000_000  # an FTIR spectrum holds tens of thousands


@dataclass
class StructureIndex:
    """Lookup of structures for spectra that lack one: by file name, CAS number or NIST id."""

    by_key: dict[str, tuple[str, str | None]] = field(default_factory=dict)

    @classmethod
    def from_table(cls, path: Path) -> StructureIndex:
        sep = "\t" if path.suffix.lower() in (".tsv", ".tab") else ","
        try:
            table = pd.read_csv(path, sep=sep, dtype=str)
        except (ValueError, OSError) as exc:
            raise ParseError(str(path), f"cannot read structure index: {exc}") from exc
        columns = {c.lower(): c for c in table.columns}
        structure_cols = [columns[c] for c in ("smiles", "inchi") if c in columns]
        key_cols = [columns[c] for c in ("file", "cas", "nist_id", "id") if c in columns]
        if not structure_cols or not key_cols:
            raise ParseError(
                str(path),
                "structure index needs a smiles or inchi column and a file/cas/nist_id column",
            )
        inchikey_col = columns.get("inchikey")
        index = cls()
        for row in table.itertuples(index=False):
            values = row._asdict()
            structure = next(
                (values[c] for c in structure_cols if isinstance(values[c], str)), None
            )
            if not structure:
                continue
            given = values.get(inchikey_col) if inchikey_col else None
            for col in key_cols:
                key = values[col]
                if isinstance(key, str) and key.strip():
                    index.by_key.setdefault(key.strip().lower(), (structure, given))
        return index

    def lookup(self, *keys: str | None) -> tuple[str, str | None] | None:
        for key in keys:
            if key and key.strip().lower() in self.by_key:
                return self.by_key[key.strip().lower()]
        return None


def _cas_to_nist_id(cas: str | None) -> str | None:
    return "C" + cas.replace("-", "") if cas and _CAS_RE.match(cas) else None


def _record(
    data: dict, member: TextMember, index: StructureIndex | None, require_structure: bool = True
) -> IrRecord:
    x, y = data.get("x"), data.get("y")
    if x is None or y is None or len(x) == 0:
        raise RecordError("no XYDATA/PEAK TABLE points")
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.shape != y.shape:
        raise RecordError(f"{x.size} x values but {y.size} y values")
    x_units = str(data.get("xunits") or "").strip()
    y_units = str(data.get("yunits") or "").strip()
    if not x_units or not y_units:
        raise RecordError("missing ##XUNITS or ##YUNITS")
    processed = ir_grid_vector(x, y, x_units, y_units)
    cas = str(data.get("cas registry no") or "").strip() or None
    file_name = Path(member.inner_name).name
    structure = data.get("$smiles") or data.get("$inchi") or data.get("inchi")
    given = data.get("$inchi key") or data.get("$inchikey")
    if not structure and index is not None:
        found = index.lookup(file_name, cas, _cas_to_nist_id(cas))
        if found:
            structure, given = found
    if not structure and require_structure:
        raise RecordError(
            f"no structure: the file has no ##$SMILES/##$INCHI and CAS {cas or '(none)'} "
            "is not in the structure index (--structure-index)"
        )
    title = str(data.get("title") or "").strip() or None
    return IrRecord(
        structure=StructureRef(
            text=str(structure or ""),
            given_inchikey=str(given) if given else None,
            names=[title] if title else [],
            external_ids={"cas": cas} if cas else {},
        ),
        record_id=file_name,
        title=title,
        x=x,
        y=y,
        x_units=x_units,
        y_units=y_units,
        state=str(data.get("state") or "").strip() or None,
        processed=processed,
        metadata={
            k: str(data[k])
            for k in (
                "origin",
                "owner",
                "date",
                "spectrometer/data system",
                "path length",
                "resolution",
                "$nist source",
                "molform",
            )
            if data.get(k) not in (None, "")
        },
    )


def _declared_points(text: str) -> int:
    """The largest ##NPOINTS= a file declares (0 when none): checked before reading, since the
    reader allocates what the header asks for."""
    values = [int(v) for v in _NPOINTS_RE.findall(text)]
    return max(values, default=0)


def _block_texts(text: str, n_blocks: int) -> list[str]:
    """The text of each spectrum block of a compound (LINK) file, else the whole text."""
    starts = [m.start() for m in _TITLE_RE.finditer(text)]
    if n_blocks > 1 and len(starts) == n_blocks + 1:
        bounds = [*starts[1:], len(text)]
        return [text[a:b] for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
    return [text] * n_blocks


def _read(text: str) -> dict:
    """The `jcamp` package's reading of a file; what it prints is swallowed (it would break
    `--json` output), and any error it raises is one reason."""
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return jcamp.read(io.StringIO(text))
        except MemoryError:
            raise RecordError("declares more data than fits in memory") from None
        except Exception as exc:  # a third-party reader: every failure is this record's
            raise RecordError(f"unreadable JCAMP-DX: {type(exc).__name__}: {exc}") from None


def parse_jcamp(
    member: TextMember,
    first_no: int = 1,
    index: StructureIndex | None = None,
    require_structure: bool = True,
) -> Iterator[Parsed]:
    """One record per spectrum block of a JCAMP-DX file; a damaged file is one reject."""
    text = member.text
    if not text.strip():
        raise ParseError(member.name, "empty file", 1)
    if not text.lstrip().startswith("##"):
        raise ParseError(member.name, "not a JCAMP-DX file (expected ##TITLE=)", 1)
    location = f"{member.name} record {first_no}"
    try:
        if _declared_points(text) > MAX_POINTS:
            raise RecordError(
                f"##NPOINTS={_declared_points(text):,} is more than molvis reads ({MAX_POINTS:,})"
            )
        data = _read(text)
    except RecordError as exc:
        yield Parsed(first_no, 1, text, reason=str(exc), location=location)
        return
    blocks = data.get("children") or [data]
    texts = _block_texts(text, len(blocks))
    for offset, (block, raw) in enumerate(zip(blocks, texts, strict=True)):
        no = first_no + offset
        location = f"{member.name} record {no}"
        try:
            record = _record(block, member, index, require_structure)
        except RecordError as exc:
            yield Parsed(no, 1, raw, reason=str(exc), location=location)
            continue
        except (ValueError, TypeError, ArithmeticError, KeyError, IndexError) as exc:
            reason = f"unreadable spectrum values: {type(exc).__name__}: {exc}"
            yield Parsed(no, 1, raw, reason=reason, location=location)
            continue
        yield Parsed(no, 1, raw, record=record, location=location)
