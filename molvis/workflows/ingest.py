"""Loading files into the registry, as `molvis ingest` and the Dagster ingest assets both run
it: the user's options checked once, one transaction per file, then the MS/MS library index
brought up to date after MS/MS loads and, when asked, the new structures embedded. The faces
only show progress and print (CLI) or report metadata (Dagster)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine

from registry.db.connection import session_scope
from registry.db.settings import load_settings
from registry.ingest.parsers import ParseError
from registry.ingest.parsers.ir import StructureIndex
from registry.ingest.parsers.tables import parse_column_overrides
from registry.ingest.pipeline import ingest_file
from registry.ingest.summary import FileSummary, IngestOptions
from registry.library.saved_index import refresh_index

AUTO_WORKERS_BYTES = 1 << 20  # ~20k SMILES or ~1k spectra: below, a process costs what it saves


def ingest_options(
    licence: str | None = None,
    origin: str | None = None,
    columns: str | None = None,
    structure_index: str | None = None,
    fingerprints: bool = True,
) -> IngestOptions:
    """The options of an ingest from what a user typed (`--columns ccs=CCS_N2,...`, an IR
    structure-index table); ValueError saying what is wrong."""
    options = IngestOptions(
        licence=licence or None, origin=origin or None, fingerprints=fingerprints
    )
    try:
        options.columns = parse_column_overrides(columns) or None
        if structure_index:
            options.structure_index = StructureIndex.from_table(Path(structure_index))
    except (FileNotFoundError, ParseError) as exc:
        raise ValueError(str(exc)) from exc
    return options


def auto_workers(kind: str, path: Path) -> int:
    """Normalisation processes for a file of 1 MB and more on two cores or more: one per core
    for structure libraries, where every record is a new structure; one for MS/MS and CCS
    files, whose repeated structures it identifies (cached) while this process parses and
    writes. None for smaller files, folders and IR."""
    cores = os.cpu_count() or 1
    if cores < 2 or not path.is_file() or path.stat().st_size < AUTO_WORKERS_BYTES:
        return 0
    return {"structures": cores, "msms": 1, "ccs": 1}.get(kind, 0)


@dataclass
class IngestHooks:
    """What a face shows while files load; each is optional. `file_bar(path)` gives a context
    whose value takes records read; `file_done` sees each file's summary as it ends."""

    file_bar: Callable[[Path], AbstractContextManager[Callable[[int], None]]] | None = None
    file_done: Callable[[FileSummary], None] | None = None
    library: Callable[[int, int], None] | None = None  # spectra indexed, of all
    embedded: Callable[[int], None] | None = None  # structures embedded since the last call


@dataclass
class IngestReport:
    """Every file's summary, the library index after MS/MS loads and the embedding counts
    (None where that step did not run)."""

    files: list[FileSummary] = field(default_factory=list)
    library: dict | None = None
    embedded: dict[str, int] | None = None

    @property
    def loaded(self) -> bool:
        return any(s.status == "loaded" for s in self.files)

    @property
    def failed(self) -> bool:
        """No file to load, or a file that failed (its transaction rolled back)."""
        return not self.files or any(s.status == "failed" for s in self.files)

    @property
    def fingerprints(self) -> int:
        """New compounds that got their fingerprints in these ingests."""
        return sum(s.fingerprints for s in self.files)

    def as_dict(self) -> dict:
        report: dict = {"files": [s.as_dict() for s in self.files]}
        if self.library is not None:  # an MS/MS file loaded: the library index was refreshed
            report["library"] = self.library
        if self.embedded is not None:
            report["embedded"] = self.embedded
        return report


def ingest_files(
    engine: Engine,
    kind: str,
    files: list[Path],
    source: str,
    options: IngestOptions,
    workers: int | None = None,
    embed: bool = False,
    library: bool = True,
    hooks: IngestHooks | None = None,
) -> IngestReport:
    """Each file in its own transaction (`workers` normalising processes, else chosen by
    `auto_workers`); after a loaded MS/MS file the library index is refreshed (`library`:
    Dagster leaves it to its own asset); `embed`: then the active model's structure vectors
    and index, so new structures are searchable when this returns."""
    hooks = hooks or IngestHooks()
    report = IngestReport()
    for path in files:
        options.workers = workers if workers is not None else auto_workers(kind, path)
        bar = hooks.file_bar(path) if hooks.file_bar else nullcontext(None)
        with bar as update, session_scope(engine) as session:
            summary = ingest_file(session, kind, path, source, options, update)
        report.files.append(summary)
        if hooks.file_done:
            hooks.file_done(summary)
    if library and kind == "msms" and report.loaded:
        report.library = refresh_library(engine, hooks.library)
    if embed and report.loaded:
        from molvis.workflows.embedding import embed_backfill

        count = hooks.embedded
        report.embedded = embed_backfill(
            engine, None, measurements=False, progress=(lambda _, n: count(n)) if count else None
        )
    return report


def refresh_library(
    engine: Engine,
    progress: Callable[[int, int], None] | None = None,
    force: bool = False,
    home: Path | None = None,
) -> dict:
    """Rebuild the saved MS/MS library index under `home` (default MOLVIS_HOME) when the
    registry's spectra changed (always with `force`): its spectra, whether it was rebuilt, its
    generation and the seconds it took."""
    start = time.perf_counter()
    with session_scope(engine) as session:
        index, rebuilt = refresh_index(session, home or load_settings().home, progress, force)
    return {
        "spectra": index.spectra,
        "rebuilt": rebuilt,
        "generation": index.generation,
        "seconds": round(time.perf_counter() - start, 2),
    }
