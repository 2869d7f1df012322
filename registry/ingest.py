"""Ingest one file per transaction: parse -> normalise structures -> upsert compounds ->
insert measurements (deduplicated by content hash) -> keep rejects -> record the run."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import Engine, Table, bindparam, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from registry.adducts import UnknownAdductError, infer_adduct, parse_adduct
from registry.bulk import copy_insert
from registry.chem import INCHIKEY_RE, Identity, InvalidStructureError, check_inchikey, identify
from registry.parsers import ParseError
from registry.parsers.ccs import parse_ccs
from registry.parsers.ir import StructureIndex, parse_jcamp
from registry.parsers.msms import parse_msms
from registry.parsers.structures import parse_structures
from registry.records import CcsRecord, IrRecord, MsmsRecord, Parsed, Record
from registry.schema import (
    CcsValue,
    Compound,
    CompoundSource,
    IngestRun,
    IrSpectrum,
    MsmsSpectrum,
    RejectedRecord,
    Source,
)
from registry.sources import TextMember, expand_paths, is_archive, iter_members, sha256_of

BATCH_SIZE = 2000
MAX_NAMES = 20


@dataclass(frozen=True)
class Kind:
    """How one kind of file is read and where its measurements go."""

    name: str
    parse: Callable[..., Iterator[Parsed]]
    table: Table | None
    suffixes: tuple[str, ...]


KINDS: dict[str, Kind] = {
    "msms": Kind("msms", parse_msms, MsmsSpectrum.__table__, (".mgf", ".msp", ".txt")),
    "ir": Kind("ir", parse_jcamp, IrSpectrum.__table__, (".jdx", ".dx", ".jcamp")),
    "ccs": Kind("ccs", parse_ccs, CcsValue.__table__, (".csv", ".tsv", ".tab")),
    "structures": Kind(
        "structures",
        parse_structures,
        None,
        (".sdf", ".sd", ".mol", ".smi", ".smiles", ".inchi", ".csv", ".tsv", ".txt"),
    ),
}


@dataclass
class FileSummary:
    """What one file's ingest did; `status` is loaded, unchanged, skipped or failed."""

    file: str
    kind: str
    status: str = "loaded"
    read: int = 0
    compounds_new: int = 0
    compounds_existing: int = 0
    inserted: int = 0
    duplicates: int = 0
    rejected: int = 0
    run_id: int | None = None
    seconds: float = 0.0
    error: str | None = None
    reject_examples: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class IngestOptions:
    """Per-kind options: IR structure index, CCS column overrides, source description."""

    structure_index: StructureIndex | None = None
    columns: dict[str, str] | None = None
    licence: str | None = None
    origin: str | None = None


def _digest(*parts: object) -> str:
    digest = hashlib.sha256()
    for part in parts:
        if isinstance(part, np.ndarray):
            digest.update(np.ascontiguousarray(part).tobytes())
        else:
            digest.update(repr(part).encode())
        digest.update(b"\x1f")
    return digest.hexdigest()


def content_hash(record: Record, inchikey: str) -> str:
    """Identity of a measurement regardless of which file or source brought it."""
    if isinstance(record, MsmsRecord):
        rel = record.intensity / record.intensity.max()
        return _digest(
            "msms",
            inchikey,
            round(record.precursor_mz or 0.0, 4),
            record.adduct,
            record.ion_mode,
            record.collision_energy,
            np.round(record.mz, 4),
            np.round(rel, 4),
        )
    if isinstance(record, IrRecord):
        return _digest("ir", inchikey, np.round(record.x, 4), np.round(record.y, 6))
    if isinstance(record, CcsRecord):
        return _digest("ccs", inchikey, record.adduct, round(record.ccs, 2))
    raise TypeError(type(record))


def _measurement_row(
    record: Record, compound_id: int, run_id: int, source_id: int, inchikey: str
) -> dict[str, Any]:
    row: dict[str, Any] = {
        "compound_id": compound_id,
        "run_id": run_id,
        "source_id": source_id,
        "record_id": record.record_id,
        "metadata": _jsonable(record.metadata),
        "content_hash": content_hash(record, inchikey),
    }
    if isinstance(record, MsmsRecord):
        row.update(
            precursor_mz=record.precursor_mz,
            adduct=record.adduct,
            ion_mode=record.ion_mode,
            instrument_type=record.instrument_type,
            collision_energy=record.collision_energy,
            mz=record.mz.tolist(),
            intensity=record.intensity.tolist(),
        )
    elif isinstance(record, IrRecord):
        row.update(
            title=record.title,
            x=record.x.tolist(),
            y=record.y.tolist(),
            x_units=record.x_units,
            y_units=record.y_units,
            state=record.state,
            processed=record.processed.astype(np.float32),
        )
    elif isinstance(record, CcsRecord):
        row.update(
            ccs=record.ccs,
            adduct=record.adduct,
            mz=record.mz,
            method=record.method,
            drift_gas=record.drift_gas,
        )
    return row


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


class _Writer:
    """Buffers parsed records and writes them in batches inside the caller's transaction."""

    def __init__(
        self, session: Session, kind: Kind, run: IngestRun, file_sha: str, summary: FileSummary
    ) -> None:
        self.session = session
        self.kind = kind
        self.run = run
        self.file_sha = file_sha
        self.summary = summary
        self.buffer: list[Parsed] = []
        self.seen_compounds: set[str] = set()
        self.new_compounds: set[str] = set()
        self.changes = 0

    def add(self, parsed: Parsed) -> None:
        self.summary.read += 1
        self.buffer.append(parsed)
        if len(self.buffer) >= BATCH_SIZE:
            self.flush()

    def _reject(self, parsed: Parsed, reason: str, rejects: list[dict[str, Any]]) -> None:
        self.summary.rejected += 1
        if len(self.summary.reject_examples) < 20:
            self.summary.reject_examples.append(f"{parsed.location}: {reason}")
        rejects.append(
            {
                "run_id": self.run.id,
                "file_sha256": self.file_sha,
                "record_no": parsed.record_no,
                "line_no": parsed.line_no,
                "reason": reason,
                "raw_text": parsed.raw_text,
            }
        )

    def _identify(self, parsed: Parsed, pending_keys: dict[str, list[Parsed]]) -> Identity | None:
        ref = parsed.record.structure
        if not ref.text.strip() and ref.given_inchikey:
            if not INCHIKEY_RE.match(ref.given_inchikey):
                raise InvalidStructureError(
                    f"no structure, and {ref.given_inchikey!r} is not a valid InChIKey"
                )
            pending_keys.setdefault(ref.given_inchikey, []).append(parsed)
            return None
        identity = identify(ref.text)
        check_inchikey(identity, ref.given_inchikey)
        return identity

    def flush(self) -> None:
        if not self.buffer:
            return
        batch, self.buffer = self.buffer, []
        rejects: list[dict[str, Any]] = []
        accepted: list[tuple[Parsed, Identity]] = []
        pending_keys: dict[str, list[Parsed]] = {}
        for parsed in batch:
            if parsed.record is None:
                self._reject(parsed, parsed.reason or "unreadable record", rejects)
                continue
            try:
                identity = self._identify(parsed, pending_keys)
            except InvalidStructureError as exc:
                self._reject(parsed, str(exc), rejects)
                continue
            if identity is not None:
                reason = _measurement_problem(parsed.record, identity)
                if reason:
                    self._reject(parsed, reason, rejects)
                    continue
                accepted.append((parsed, identity))
        ids = self._upsert_compounds([(p.record, i) for p, i in accepted])
        if pending_keys:
            known = dict(
                self.session.execute(
                    select(Compound.inchikey, Compound.id).where(
                        Compound.inchikey.in_(pending_keys)
                    )
                ).all()
            )
            for key, parsed_list in pending_keys.items():
                for parsed in parsed_list:
                    if key in known:
                        accepted.append((parsed, _key_only(key)))
                        ids[key] = known[key]
                        self.seen_compounds.add(key)
                    else:
                        self._reject(
                            parsed,
                            f"InChIKey {key} only, no structure, and no such "
                            "compound in the registry",
                            rejects,
                        )
        self._insert_measurements(accepted, ids)
        if rejects:
            stmt = (
                pg_insert(RejectedRecord.__table__)
                .on_conflict_do_nothing(constraint="uq_rejected_record_file_record")
                .returning(RejectedRecord.__table__.c.id)
            )
            self.changes += len(self.session.execute(stmt, rejects).all())

    def _upsert_compounds(self, items: list[tuple[Record, Identity]]) -> dict[str, int]:
        by_key: dict[str, tuple[Identity, set[str], dict[str, str]]] = {}
        for record, identity in items:
            _, names, ext = by_key.setdefault(identity.inchikey, (identity, set(), {}))
            names.update(n for n in record.structure.names if n)
            for k, v in record.structure.external_ids.items():
                ext.setdefault(k, v)
        if not by_key:
            return {}
        table = Compound.__table__
        existing = {
            row.inchikey: row
            for row in self.session.execute(
                select(table.c.id, table.c.inchikey, table.c.names, table.c.external_ids).where(
                    table.c.inchikey.in_(list(by_key))
                )
            )
        }
        ids = {key: row.id for key, row in existing.items()}
        new_rows = [
            {
                "inchikey": i.inchikey,
                "inchi": i.inchi,
                "smiles": i.smiles,
                "formula": i.formula,
                "monoisotopic_mass": i.monoisotopic_mass,
                "names": sorted(names)[:MAX_NAMES],
                "external_ids": ext,
            }
            for key, (i, names, ext) in by_key.items()
            if key not in existing
        ]
        if new_rows:
            for cid, key in copy_insert(
                self.session, table, new_rows, ["inchikey"], ["id", "inchikey"]
            ):
                ids[key] = cid
                self.new_compounds.add(key)
                self.changes += 1
        merges = []
        for key, row in existing.items():
            _, names, ext = by_key[key]
            merged_names = list(row.names) + sorted(set(names) - set(row.names))
            merged_names = merged_names[: max(MAX_NAMES, len(row.names))]
            merged_ext = {**ext, **row.external_ids}
            if merged_names != list(row.names) or merged_ext != row.external_ids:
                merges.append({"cid": row.id, "names": merged_names, "external_ids": merged_ext})
        if merges:
            self.session.execute(
                update(table)
                .where(table.c.id == bindparam("cid"))
                .values(names=bindparam("names"), external_ids=bindparam("external_ids")),
                merges,
            )
            self.changes += len(merges)
        provenance = (
            pg_insert(CompoundSource.__table__)
            .on_conflict_do_nothing()
            .returning(CompoundSource.__table__.c.compound_id)
        )
        pairs = [
            {"compound_id": ids[key], "source_id": self.run.source_id}
            for key in by_key
            if key in ids
        ]
        if pairs:
            self.changes += len(self.session.execute(provenance, pairs).all())
        self.seen_compounds.update(by_key)
        return ids

    def _insert_measurements(
        self, accepted: list[tuple[Parsed, Identity]], ids: dict[str, int]
    ) -> None:
        if self.kind.table is None:
            return
        rows = []
        hashes: set[str] = set()
        for parsed, identity in accepted:
            row = _measurement_row(
                parsed.record,
                ids[identity.inchikey],
                self.run.id,
                self.run.source_id,
                identity.inchikey,
            )
            if row["content_hash"] in hashes:
                self.summary.duplicates += 1
                continue
            hashes.add(row["content_hash"])
            rows.append(row)
        if not rows:
            return
        inserted = len(copy_insert(self.session, self.kind.table, rows, ["content_hash"], ["id"]))
        self.summary.inserted += inserted
        self.summary.duplicates += len(rows) - inserted
        self.changes += inserted


def _key_only(inchikey: str) -> Identity:
    return Identity(inchikey=inchikey, inchi="", smiles="", formula="", monoisotopic_mass=0.0)


def _measurement_problem(record: Record, identity: Identity) -> str | None:
    """Checks that need the structure. MS/MS: a missing adduct is inferred from the precursor,
    a missing precursor is computed from the adduct; both are flagged in the metadata."""
    if not isinstance(record, MsmsRecord):
        return None
    if record.adduct is None and record.precursor_mz is not None:
        record.adduct = infer_adduct(
            record.precursor_mz, identity.monoisotopic_mass, record.ion_mode
        )
        if record.adduct:
            record.metadata["adduct_inferred"] = True
    if record.precursor_mz is None:
        try:
            adduct = parse_adduct(record.adduct or "")
        except UnknownAdductError:
            return "no precursor m/z, and no known adduct to derive it from the structure"
        record.precursor_mz = round(adduct.mz(identity.monoisotopic_mass), 6)
        record.metadata["precursor_mz_derived"] = True
    return None


def _ensure_source(session: Session, name: str, options: IngestOptions) -> tuple[int, bool]:
    table = Source.__table__
    created = session.execute(
        pg_insert(table)
        .values(name=name, licence=options.licence, origin=options.origin)
        .on_conflict_do_nothing(index_elements=["name"])
        .returning(table.c.id)
    ).scalar()
    if created is not None:
        return created, True
    return session.execute(select(table.c.id).where(table.c.name == name)).scalar_one(), False


def ingest_file(
    engine: Engine,
    kind: str,
    path: Path,
    source: str,
    options: IngestOptions | None = None,
    progress: Callable[[int], None] | None = None,
) -> FileSummary:
    """Ingest one file (or archive) in one transaction; rolls back entirely on a file-level error.

    A run that would change nothing (every record already there) is not recorded, so
    re-ingesting a file leaves the database exactly as it was.
    """
    spec = KINDS[kind]
    options = options or IngestOptions()
    summary = FileSummary(file=str(path), kind=kind)
    started = time.perf_counter()
    file_sha = sha256_of(path)
    parse_kwargs: dict[str, Any] = {}
    if kind == "ir":
        parse_kwargs["index"] = options.structure_index
    if kind == "ccs":
        parse_kwargs["columns"] = options.columns
    try:
        with Session(engine) as session, session.begin():
            source_id, source_created = _ensure_source(session, source, options)
            run = IngestRun(
                kind=kind,
                file_path=str(path),
                file_sha256=file_sha,
                source_id=source_id,
                status="running",
                started_at=datetime.now(UTC),
            )
            session.add(run)
            session.flush()
            writer = _Writer(session, spec, run, file_sha, summary)
            next_no = 1
            for member in _members(path, spec):
                for parsed in spec.parse(member, next_no, **parse_kwargs):
                    writer.add(parsed)
                    next_no = parsed.record_no + 1
                    if progress is not None:
                        progress(1)
            writer.flush()
            if spec.table is None:
                summary.inserted = len(writer.new_compounds)
                summary.duplicates = summary.read - summary.rejected - summary.inserted
            summary.compounds_new = len(writer.new_compounds)
            summary.compounds_existing = len(writer.seen_compounds - writer.new_compounds)
            summary.seconds = time.perf_counter() - started
            if writer.changes == 0 and not source_created:
                session.rollback()
                summary.status = "unchanged"
                return summary
            for key in (
                "records_read",
                "compounds_new",
                "compounds_existing",
                "inserted",
                "duplicates",
                "rejected",
            ):
                setattr(run, key, getattr(summary, "read" if key == "records_read" else key))
            run.status = "loaded"
            run.finished_at = datetime.now(UTC)
            run.seconds = summary.seconds
            summary.run_id = run.id
    except ParseError as exc:
        summary.status, summary.error = "failed", str(exc)
    except SQLAlchemyError as exc:
        message = str(exc.orig if getattr(exc, "orig", None) else exc).splitlines()[0]
        summary.status, summary.error = "failed", f"{path}: database error: {message}"
    summary.seconds = time.perf_counter() - started
    return summary


def _members(path: Path, spec: Kind) -> Iterator[TextMember]:
    """Members of an archive that belong to this kind (by name); a plain file as it is."""
    for member in iter_members(path):
        if is_archive(path) and not member.inner_name.lower().endswith(spec.suffixes):
            continue
        yield member


def files_for(kind: str, paths: list[Path]) -> tuple[list[Path], list[Path]]:
    """Files to ingest and files skipped: inside folders only this kind's suffixes are taken."""
    spec = KINDS[kind]
    chosen: list[Path] = []
    skipped: list[Path] = []
    for path in paths:
        for file in expand_paths([path]):
            wanted = is_archive(file) or _base_name(file).endswith(spec.suffixes)
            (chosen if (wanted or not path.is_dir()) else skipped).append(file)
    return chosen, skipped


def _base_name(path: Path) -> str:
    name = path.name.lower()
    for suffix in (".gz", ".xz", ".bz2"):
        name = name.removesuffix(suffix)
    return name
