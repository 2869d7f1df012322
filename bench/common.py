"""Shared helpers for the benchmarks: a scratch database, timers, peak memory, JSON output."""

from __future__ import annotations

import json
import os
import platform
import resource
import time
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from registry.db.connection import database_url, get_engine
from registry.db.migrate import upgrade

SHARED = Path(
    os.environ.get("MOLVIS_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data")
)
RESULTS = Path(__file__).resolve().parent / "results"


@contextmanager
def scratch_database() -> Iterator[Engine]:
    """A fresh, migrated database on the configured server, dropped afterwards."""
    admin = get_engine()
    name = f"molvis_bench_{uuid.uuid4().hex[:8]}"
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f"CREATE DATABASE {name}"))
    url = make_url(database_url()).set(database=name)
    engine = create_engine(url, connect_args={"prepare_threshold": None})
    try:
        upgrade(engine=engine)
        yield engine
    finally:
        engine.dispose()
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))


_KEY = str.maketrans("0123456789", "ABCDEFGHIJ")
_UNKEY = str.maketrans("ABCDEFGHIJ", "0123456789")


def stand_in_inchikey(index: int) -> str:
    """A unique, well-formed InChIKey for the index-th benchmark compound (InChI generation is
    the ingest benchmark's business, not the others')."""
    return f"{index:014d}".translate(_KEY) + "-UHFFFAOYSA-N"


def index_of_inchikey(inchikey: str) -> int:
    return int(inchikey[:14].translate(_UNKEY))


def copy_compounds(cursor, rows: Iterable[tuple[str, str, float, str | None]]) -> None:
    """COPY (smiles, formula, mass, fingerprint bits) rows into compound; ids 1, 2, ... and
    stand-in InChIKeys in row order."""
    with cursor.copy(
        "COPY compound (id, inchikey, inchi, smiles, formula, monoisotopic_mass, fingerprint) "
        "FROM STDIN"
    ) as copy:
        for i, (smiles, formula, mass, bits) in enumerate(rows):
            copy.write_row((i + 1, stand_in_inchikey(i), "-", smiles, formula, mass, bits))


def latency_stats(values_ms: list[float]) -> dict[str, float]:
    """Mean, p50 and p95 of latencies in ms."""
    v = np.asarray(values_ms)
    return {
        "mean": round(float(v.mean()), 3),
        "p50": round(float(np.percentile(v, 50)), 3),
        "p95": round(float(np.percentile(v, 95)), 3),
    }


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@contextmanager
def timed() -> Iterator[dict[str, float]]:
    out: dict[str, float] = {}
    start = time.perf_counter()
    yield out
    out["seconds"] = time.perf_counter() - start


def machine() -> dict[str, str | int]:
    return {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count() or 0,
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
    }


def write_result(name: str, payload: dict, output: Path | None) -> Path:
    path = output or RESULTS / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"benchmark": name, "machine": machine(), **payload}, indent=2))
    print(json.dumps(payload, indent=2))
    return path


def ingest(engine: Engine, kind: str, path: Path, source: str, options=None):
    """One file in one transaction, as `molvis ingest` runs it; fingerprints stay out of the
    timing unless the options ask for them (bench.fingerprints measures them)."""
    from registry.db.connection import session_scope
    from registry.ingest.pipeline import ingest_file
    from registry.ingest.summary import IngestOptions

    options = options or IngestOptions(fingerprints=False)
    with session_scope(engine) as session:
        return ingest_file(session, kind, path, source, options)


def markdown_table(header: list[str], rows: list[list[object]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def massbank_records() -> Iterator[tuple]:
    """(record, RDKit molecule) of each MassBank [M+H]+ / [M-H]- spectrum of the shared data
    whose structure RDKit reads, normalised as a query is (the in-silico benchmarks' queries)."""
    from rdkit import Chem

    from registry.ingest.files import iter_members
    from registry.ingest.normalize import normalize_unknown
    from registry.ingest.parsers.msms import parse_msms

    for member in iter_members(SHARED / "massbank" / "massbank_ms2.mgf.gz"):
        for parsed in parse_msms(member):
            record = parsed.record and normalize_unknown(parsed.record)
            if record is None or record.adduct not in ("[M+H]+", "[M-H]-"):
                continue
            mol = Chem.MolFromSmiles(record.structure.text)
            if mol is not None:
                yield record, mol
