"""Build queries from what a user gives (a file, an upload, pasted peaks, flags or form fields)
with one set of defaults, shared by `molvis search` and the query page.

The adduct rule, in order: the adduct the user gives (it must be one molvis knows); else the
spectrum's own; else, when a precursor m/z is known, [M+H]+ or [M-H]- by the ion mode (of the
spectrum, else the sign of its charge or of the CCS ion, else positive), [M+zH]z+ or [M-zH]z-
for a precursor of charge z > 1, said in the query's notes. A file's adduct that molvis cannot
compute gives no mass window, also said in the notes. The CCS ion's adduct never stands in for
the precursor's.

The CCS rule: a typed CCS is every query's; else a spectrum's own (a CCS field of the file, or
its 1/K0 converted by the Mason-Schamp relation in N2 at 305 K), of the precursor's ion.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from registry.chem.adducts import UnknownAdductError, neutral_mass, normalize_adduct, parse_adduct
from registry.chem.ion_mobility import ccs_from_inverse_mobility
from registry.ingest.files import STDIN, TextMember, iter_members, member_from_bytes, stdin_member
from registry.ingest.normalize import normalize_unknown
from registry.ingest.parsers import ParseError, RecordError
from registry.ingest.parsers.ir import parse_jcamp
from registry.ingest.parsers.msms import parse_msms
from registry.ingest.parsers.spectrum import build_record
from registry.records import IrRecord, MsmsRecord

DEFAULT_ADDUCT = {"positive": "[M+H]+", "negative": "[M-H]-"}
IR_SUFFIXES = (".jdx", ".dx", ".jcamp")
UPLOAD_TEXT_BYTES = 256 << 20  # what one upload may expand to (a .gz can grow a thousandfold)
MAX_MZ = 100_000.0  # the largest precursor m/z a query may give


@dataclass
class QueryFields:
    """What the user typed beside the spectra: flags of `molvis search`, fields of the page."""

    precursor_mz: float | None = None
    adduct: str | None = None
    ccs: float | None = None
    ccs_adduct: str | None = None


@dataclass
class Query:
    """One unknown: its title, measurements and the precursor they imply, with notes on every
    default that was assumed."""

    title: str
    msms: MsmsRecord | None = None
    ir: IrRecord | None = None
    ccs: float | None = None
    ccs_adduct: str | None = None
    precursor_mz: float | None = None
    adduct: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def neutral_mass(self) -> float | None:
        return neutral_mass(self.precursor_mz, self.adduct)

    @property
    def run_position(self) -> dict[str, str | float | None]:
        """Where the spectrum stood in its run or feature table: `feature_id`, `rt` (minutes)
        and `scans`, as the file gave them (None where it did not)."""
        metadata = self.msms.metadata if self.msms is not None else {}
        seconds = metadata.get("retention_time")
        return {
            "feature_id": metadata.get("feature_id"),
            "rt": None if seconds is None else round(float(seconds) / 60, 4),
            "scans": metadata.get("scans"),
        }


def where_why(problem: str) -> tuple[str, str]:
    """A skipped record's 'where: why' line as its two parts."""
    where, _, why = problem.partition(": ")
    return where, why


def skipped_entry(problem: str) -> dict:
    """A record a batch did not search, as `--json` and `--out` list it after the results."""
    where, why = where_why(problem)
    return {"query": where, "skipped": why, "hits": []}


def _msms_records(member: TextMember) -> tuple[list[MsmsRecord], list[str]]:
    records, problems = [], []
    for parsed in parse_msms(member, require_structure=False):
        if parsed.record is None:
            problems.append(f"{parsed.location}: {parsed.reason}")
        else:
            records.append(normalize_unknown(parsed.record))
    return records, problems


def _ir_record(member: TextMember) -> IrRecord:
    for parsed in parse_jcamp(member, require_structure=False):
        if parsed.record is None:
            raise ParseError(parsed.location, parsed.reason or "unreadable IR spectrum")
        return parsed.record
    raise ParseError(member.name, "no IR spectrum in the file")


def read_msms_file(path: Path) -> tuple[list[MsmsRecord], list[str]]:
    """Query spectra of an MGF/MSP/MassBank/JSON file or an mzML/mzXML run (no structure
    needed) and one-line problems; `-` reads them from standard input (the format told by its
    first line)."""
    if str(path) == STDIN:
        return _msms_records(stdin_member())
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    records, problems = [], []
    for member in iter_members(path):
        found, trouble = _msms_records(member)
        records += found
        problems += trouble
    return records, problems


def read_ir_file(path: Path) -> IrRecord:
    """The first IR spectrum of a JCAMP-DX file (`-`: standard input)."""
    if str(path) == STDIN:
        return _ir_record(stdin_member())
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    for member in iter_members(path):
        return _ir_record(member)
    raise ParseError(str(path), "no IR spectrum")


def read_upload(name: str, data: bytes) -> tuple[list[MsmsRecord], IrRecord | None, list[str]]:
    """MS/MS spectra of an MGF/MSP/MassBank/JSON/mzML/mzXML upload, or the IR spectrum of a
    JCAMP-DX upload, and the records skipped, each as 'where: why'."""
    member = member_from_bytes(name, data, UPLOAD_TEXT_BYTES)
    if member.inner_name.lower().endswith(IR_SUFFIXES):
        return [], _ir_record(member), []
    spectra, problems = _msms_records(member)
    if not spectra:
        why = f": {problems[0]}" if problems else ""
        raise ParseError(
            name, f"no readable spectrum (MGF, MSP, MassBank, JSON, mzML or mzXML expected){why}"
        )
    return spectra, None, problems


def pasted_spectrum(text: str, fields: QueryFields) -> MsmsRecord:
    """A spectrum from pasted 'm/z intensity' lines."""
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    try:
        pairs = np.array([[float(v) for v in ln.replace(",", " ").split()[:2]] for ln in lines])
    except ValueError as exc:
        raise RecordError(f"pasted peaks: each line needs 'm/z intensity' ({exc})") from None
    if pairs.ndim != 2 or pairs.shape[1] != 2:
        raise RecordError("pasted peaks: each line needs 'm/z intensity'")
    metadata = {"precursor_mz": str(fields.precursor_mz)} if fields.precursor_mz else {}
    return normalize_unknown(build_record(metadata, pairs[:, 0], pairs[:, 1], False))


def _known_adduct(text: str | None, what: str) -> str | None:
    """A user-given adduct in molvis's spelling; ValueError when molvis cannot compute it."""
    if not text:
        return None
    name = normalize_adduct(text)
    if name is None:
        raise ValueError(f"unknown {what} {text!r} (e.g. [M+H]+, [M-H]-, [M+Na]+)")
    return name


def _charge(spectrum: MsmsRecord | None) -> int:
    """The precursor's charge as the file gives it (0 when it does not)."""
    try:
        return int(spectrum.metadata.get("charge") or 0) if spectrum is not None else 0
    except (TypeError, ValueError):
        return 0


def _ion_mode(spectrum: MsmsRecord | None, ccs_adduct: str | None) -> str:
    if spectrum is not None and spectrum.ion_mode in DEFAULT_ADDUCT:
        return spectrum.ion_mode
    if _charge(spectrum) < 0 or (ccs_adduct and parse_adduct(ccs_adduct).charge < 0):
        return "negative"
    return "positive"


def _default_adduct(spectrum: MsmsRecord | None, ccs_adduct: str | None) -> str:
    """[M+H]+ or [M-H]- by the ion mode; [M+zH]z+ or [M-zH]z- for a precursor of charge z > 1."""
    mode = _ion_mode(spectrum, ccs_adduct)
    z = abs(_charge(spectrum))
    if z < 2:
        return DEFAULT_ADDUCT[mode]
    return f"[M+{z}H]{z}+" if mode == "positive" else f"[M-{z}H]{z}-"


def _number(value: object, what: str) -> float:
    try:
        return float(str(value))
    except ValueError:
        raise ValueError(f"{what} {value!r} is not a number") from None


def _own_ccs(query: Query) -> tuple[float | None, str | None]:
    """The spectrum's own CCS of its precursor ion and a note saying where it came from."""
    metadata = query.msms.metadata if query.msms is not None else {}
    if not query.adduct or not query.precursor_mz:
        return None, None
    try:
        if metadata.get("ccs"):
            ccs = _number(metadata["ccs"], "CCS")
            if not 0 < ccs < 10_000:
                raise ValueError(f"CCS {metadata['ccs']} is not a CCS in A^2")
            return ccs, f"CCS {ccs:g} A^2 from the file"
        if metadata.get("inverse_ion_mobility"):
            inverse = _number(metadata["inverse_ion_mobility"], "1/K0")
            charge = parse_adduct(query.adduct).charge
            ccs = ccs_from_inverse_mobility(inverse, query.precursor_mz, charge)
            return ccs, f"CCS {ccs:.1f} A^2 from 1/K0 {inverse:g} (Mason-Schamp, N2, 305 K)"
    except ValueError as exc:
        return None, f"the file's ion mobility not used: {exc}"
    return None, None


def _overrides(
    spectrum: MsmsRecord | None, precursor_mz: float | None, adduct: str | None
) -> list[str]:
    """Notes for each typed value that replaces a different one the spectrum gave."""
    notes = []
    own = spectrum.precursor_mz if spectrum else None
    if precursor_mz and own and abs(own - precursor_mz) > 1e-6 * own:
        notes.append(f"precursor m/z {precursor_mz:g} given replaces the spectrum's {own:g}")
    own_adduct = spectrum.adduct if spectrum else None
    if adduct and own_adduct and own_adduct != adduct:
        notes.append(f"adduct {adduct} given replaces the spectrum's {own_adduct}")
    return notes


def build_queries(
    spectra: list[MsmsRecord],
    ir: IrRecord | None,
    fields: QueryFields,
    source_name: str = "query",
) -> list[Query]:
    """One query per MS/MS spectrum (a batch search), else a single query from IR/CCS/mass.
    Typed values replace the spectra's own, and each query's notes say where they did."""
    adduct = _known_adduct(fields.adduct, "adduct")
    ccs_adduct = _known_adduct(fields.ccs_adduct, "CCS adduct")
    if fields.ccs is not None and fields.ccs <= 0:
        raise ValueError(f"CCS {fields.ccs:g} is not a positive value in A^2")
    if fields.ccs is not None and not ccs_adduct:
        raise ValueError("a CCS value needs its adduct (the ion whose CCS was measured)")
    if fields.precursor_mz is not None and not 0 < fields.precursor_mz <= MAX_MZ:
        raise ValueError(f"precursor m/z {fields.precursor_mz:g}: give a value in (0, {MAX_MZ:g}]")
    queries = []
    for n, spectrum in enumerate(spectra or [None], start=1):
        title = (spectrum.record_id if spectrum else None) or (
            f"{source_name}#{n}" if spectrum else source_name
        )
        q = Query(title, msms=spectrum, ir=ir, ccs=fields.ccs, ccs_adduct=ccs_adduct)
        q.precursor_mz = fields.precursor_mz or (spectrum.precursor_mz if spectrum else None)
        q.adduct = adduct or (spectrum.adduct if spectrum else None)
        q.notes += _overrides(spectrum, fields.precursor_mz, adduct)
        if q.adduct and adduct is None:
            try:
                parse_adduct(q.adduct)
            except UnknownAdductError:
                q.notes.append(f"adduct {q.adduct!r} unknown: no mass window")
                q.adduct = None
        elif q.precursor_mz and not q.adduct:
            q.adduct = _default_adduct(spectrum, ccs_adduct)
            q.notes.append(f"no adduct given: assumed {q.adduct}")
        if fields.ccs is None:
            q.ccs, note = _own_ccs(q)
            q.ccs_adduct = q.adduct if q.ccs is not None else None
            q.notes += [note] if note else []
        if spectrum is not None and spectrum.precursor_mz is None:
            spectrum.precursor_mz = q.precursor_mz
        if spectrum is not None and q.precursor_mz is None:
            q.notes.append(
                "no precursor m/z: no mass window, every structure is a candidate "
                "and no library identity match (give the precursor m/z)"
            )
        queries.append(q)
    if not any(q.msms or q.ir or q.ccs is not None for q in queries):
        raise ValueError("give a measurement to search with: an MS/MS or IR spectrum, or a CCS")
    return queries
