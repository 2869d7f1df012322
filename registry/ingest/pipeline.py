"""Ingest one file as its data flows: read (registry/ingest/parsers/) -> normalise
(registry/ingest/normalize.py) -> store (registry/ingest/store.py) -> fingerprints (registry/ingest/fingerprints.py),
with the run and its counts recorded. The caller owns the transaction; the file works in a
savepoint inside it, so a file-level error, or a run that would change nothing, leaves the
caller's transaction as it was."""

from __future__ import annotations

import time
from array import array
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from registry.db import bulk_indexes
from registry.db.schema import IngestRun
from registry.ingest import rejects, store
from registry.ingest.files import sha256_of
from registry.ingest.fingerprints import fill_missing
from registry.ingest.formats import KINDS, Kind, members_of
from registry.ingest.measurement_rows import measurement_row
from registry.ingest.normalize import Normalized, key_only_precursor
from registry.ingest.parsers import ParseError, RecordError
from registry.ingest.prepare import Prepared, collection_per_batch, prepared_batches
from registry.ingest.summary import FileSummary, IngestOptions
from registry.records import Parsed

BATCH_SIZE = 2000
MAX_REJECT_EXAMPLES = 20
# Ingests take turns on one database: two that share compounds would otherwise each wait for
# rows the other inserted (a deadlock), or miss ids that ON CONFLICT DO NOTHING does not return.
INGEST_LOCK = 0x6D6F6C766973  # "molvis"


@dataclass
class _FileState:
    """Counters and pending work of the file being ingested."""

    session: Session
    kind: Kind
    run: IngestRun
    file_sha: str
    summary: FileSummary
    # ids of the compounds the file names, 8 bytes each (a set of InChIKeys would hold
    # ~250 bytes per compound: half a gigabyte for a 2M-structure library); counted at the end
    seen: array = field(default_factory=lambda: array("q"))
    new: int = 0  # compounds the file added (each is new in one batch only)
    changes: int = 0
    rejects: list[dict[str, Any]] = field(default_factory=list)
    key_only: list[tuple[Parsed, Normalized]] = field(default_factory=list)
    bulk: bulk_indexes.BulkLoad = field(default_factory=bulk_indexes.BulkLoad)


def _reject(
    state: _FileState, parsed: Parsed, reason: str, pending: Normalized | None = None
) -> None:
    state.summary.rejected += 1
    if len(state.summary.reject_examples) < MAX_REJECT_EXAMPLES:
        state.summary.reject_examples.append(f"{parsed.location}: {reason}")
    state.rejects.append(
        {
            "run_id": state.run.id,
            "file_sha256": state.file_sha,
            "record_no": parsed.record_no,
            "line_no": parsed.line_no,
            "reason": rejects.kept_reason(reason),
            "raw_text": rejects.kept_raw_text(parsed.raw_text),
            **rejects.pending_fields(pending, state.kind.table, state.run.id, state.run.source_id),
        }
    )


def _store_measurements(state: _FileState, accepted: list[Normalized], ids: dict[str, int]) -> None:
    if state.kind.table is None:
        return
    rows = [  # records already stored (by content hash), earlier in this file or not, are skipped
        measurement_row(
            item.record, ids[item.inchikey], state.run.id, state.run.source_id, item.inchikey
        )
        for item in accepted
    ]
    new_ids = store.insert_measurements(state.session, state.kind.table, rows)
    state.summary.inserted += len(new_ids)
    state.summary.duplicates += len(rows) - len(new_ids)
    state.summary.superseded += store.supersede(state.session, state.kind.table, new_ids)
    state.changes += len(new_ids)


def _store(state: _FileState, accepted: list[Normalized], ids: dict[str, int]) -> None:
    """Write the accepted records' measurements and the rejects gathered so far."""
    _store_measurements(state, accepted, ids)
    state.changes += rejects.insert_rejects(state.session, state.rejects)
    state.rejects = []


def _write_batch(state: _FileState, prepared: Prepared) -> None:
    """Store a prepared batch's compounds (with their fingerprints) and measurements; records
    that give only an InChIKey wait for the end of the file, when its own structures are in."""
    accepted: list[Normalized] = []
    for parsed, item in zip(prepared.batch, prepared.outcomes, strict=True):
        if isinstance(item, str):
            _reject(state, parsed, item)
        elif item.identity is None:
            state.key_only.append((parsed, item))
        else:
            accepted.append(item)
    written = store.upsert_compounds(
        state.session,
        [(n.record, n.identity) for n in accepted],
        state.run.source_id,
        prepared.fingerprints,
    )
    state.new += len(written.new)
    state.seen.extend(written.ids.values())
    state.changes += written.changes
    state.summary.fingerprints += len(written.new & prepared.fingerprints.keys())
    _store(state, accepted, written.ids)
    bulk_indexes.make_room(state.session, state.bulk, state.new)


def _resolve_key_only(state: _FileState) -> None:
    """Records that gave only an InChIKey: stored against that compound if the registry (this
    file included) holds it, else rejected; a spectrum's precursor must be its compound's ion,
    as for a spectrum with a structure."""
    pending, state.key_only = state.key_only, []
    keys = sorted({n.inchikey for _, n in pending})
    ids = store.compound_ids(state.session, keys)
    masses = store.compound_masses(state.session, keys) if state.kind.name == "msms" else {}
    accepted = []
    for parsed, item in pending:
        try:
            key_only_precursor(item.record, masses.get(item.inchikey))
        except RecordError as exc:
            _reject(state, parsed, str(exc))
            continue
        if item.inchikey in ids:
            accepted.append(item)
        else:
            _reject(state, parsed, rejects.PENDING_REASON.format(item.inchikey), pending=item)
    state.seen.extend(ids[n.inchikey] for n in accepted)
    state.changes += store.link_sources(
        state.session, sorted({ids[n.inchikey] for n in accepted}), state.run.source_id
    )
    _store(state, accepted, ids)


def _batches(state: _FileState, path: Path, options: IngestOptions, progress):
    """Parsed records of every member of the file, in batches of BATCH_SIZE."""
    parse_kwargs: dict[str, Any] = {}
    if state.kind.name == "ir":
        parse_kwargs["index"] = options.structure_index
    if state.kind.name == "ccs":
        parse_kwargs["columns"] = options.columns
    batch: list[Parsed] = []
    next_no = 1
    for member in members_of(path, state.kind):
        for parsed in state.kind.parse(member, next_no, **parse_kwargs):
            state.summary.read += 1
            batch.append(parsed)
            next_no = parsed.record_no + 1
            if progress is not None:
                progress(1)
            if len(batch) >= BATCH_SIZE:
                yield batch
                batch = []
    yield batch


def _read(state: _FileState, path: Path, options: IngestOptions, progress) -> None:
    """Parse, prepare (normalise, fingerprint: in worker processes with options.workers) and
    write every batch of the file; then the records that gave only an InChIKey."""
    batches = _batches(state, path, options, progress)
    each_new = state.kind.name == "structures"  # a library's structures do not repeat
    with collection_per_batch() as collect:
        for prepared in prepared_batches(batches, options.fingerprints, options.workers, each_new):
            _write_batch(state, prepared)
            collect()
    _resolve_key_only(state)
    state.summary.rebuilt_indexes = bulk_indexes.restore(state.session, state.bulk)


def _finish_run(state: _FileState, started: float) -> None:
    summary, run = state.summary, state.run
    if state.kind.table is None:
        summary.inserted = state.new
        summary.duplicates = summary.read - summary.rejected - summary.inserted
    summary.compounds_new = state.new
    summary.compounds_existing = (
        int(np.unique(np.frombuffer(state.seen, np.int64)).size) - state.new
    )
    summary.seconds = time.perf_counter() - started
    run.records_read = summary.read
    for key in ("compounds_new", "compounds_existing", "inserted", "duplicates", "rejected"):
        setattr(run, key, getattr(summary, key))
    run.status = "loaded"
    run.finished_at = datetime.now(UTC)
    run.seconds = summary.seconds
    summary.run_id = run.id


def _start_run(
    session: Session, spec: Kind, kind: str, path: Path, source_id: int, summary: FileSummary
) -> _FileState:
    """The file's run, recorded as running (with the file's SHA-256) before its records."""
    file_sha = sha256_of(path)
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
    return _FileState(session, spec, run, file_sha, summary)


def ingest_file(
    session: Session,
    kind: str,
    path: Path,
    source: str,
    options: IngestOptions | None = None,
    progress: Callable[[int], None] | None = None,
) -> FileSummary:
    """Ingest one file (or archive) inside the caller's transaction. Concurrent ingests wait
    for each other (a transaction-level advisory lock): both succeed, one after the other.

    A run that would change nothing (every record already there) is not recorded, so
    re-ingesting a file leaves the database exactly as it was; a file-level error (wrong
    format, database error) rolls back this file alone and is reported in the summary.
    """
    spec = KINDS[kind]
    options = options or IngestOptions()
    summary = FileSummary(file=str(path), kind=kind)
    started = time.perf_counter()
    savepoint = session.begin_nested()
    try:
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": INGEST_LOCK})
        source_id, source_created = store.ensure_source(
            session, source, options.licence, options.origin
        )
        state = _start_run(session, spec, kind, path, source_id, summary)
        _read(state, path, options, progress)
        summary.resolved = rejects.resolve_pending(session)
        state.changes += summary.resolved
        _finish_run(state, started)
        if state.changes == 0 and not source_created:
            savepoint.rollback()
            summary.status, summary.run_id = "unchanged", None
        else:
            savepoint.commit()
    except ParseError as exc:
        savepoint.rollback()
        summary.status, summary.error = "failed", str(exc)
    except SQLAlchemyError as exc:
        savepoint.rollback()
        message = str(exc.orig if getattr(exc, "orig", None) else exc).splitlines()[0]
        summary.status, summary.error = "failed", f"{path}: database error: {message}"
    except BaseException:
        savepoint.rollback()
        raise
    if summary.status != "loaded":
        summary.fingerprints = 0
    if options.fingerprints and summary.status != "failed":
        summary.fingerprints += fill_missing(session)
    summary.seconds = time.perf_counter() - started
    return summary
