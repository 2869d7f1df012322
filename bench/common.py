"""Shared helpers for the benchmarks: a scratch database, timers, peak memory, JSON output."""

from __future__ import annotations

import json
import os
import platform
import resource
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from registry.db import database_url, get_engine
from registry.migrate import upgrade

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
