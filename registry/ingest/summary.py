"""What an ingest of one file is asked (IngestOptions) and what it did (FileSummary): the
terms `molvis ingest`, the Dagster asset and the benchmarks share with registry/ingest/pipeline.py."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from registry.ingest.parsers.ir import StructureIndex


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
    fingerprints: int = 0
    superseded: int = 0
    resolved: int = 0  # rows kept pending by earlier runs, loaded now that their compound is in
    rebuilt_indexes: list[str] = field(default_factory=list)  # dropped for a bulk load

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class IngestOptions:
    """Per-kind options (IR structure index, CCS column overrides), the source's description,
    and whether new compounds get their fingerprints in the same transaction."""

    structure_index: StructureIndex | None = None
    columns: dict[str, str] | None = None
    licence: str | None = None
    origin: str | None = None
    fingerprints: bool = True
    workers: int = 0  # processes that normalise and fingerprint ahead of the writer
