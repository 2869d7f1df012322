"""Fixtures: one real PostgreSQL (embedded pgserver, or MOLVIS_TEST_DATABASE_URL) per session,
migrated once and emptied before every test that uses it."""

from __future__ import annotations

import gzip
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("MOLVIS_SHARED_DATA", REPO.parent / "shared" / "data"))
TEST_DATA = Path(__file__).resolve().parent / "data"
TABLES = (
    "compound, source, ingest_run, rejected_record, msms_spectrum, ir_spectrum, ccs_value, model, "
    "structure_embedding, measurement_embedding, compound_source"
)


def shared(*parts: str) -> Path:
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"shared data {path} is not available")
    return path


def first_mgf_blocks(path: Path, n: int) -> str:
    """The first n BEGIN/END IONS blocks of a (gzipped) MGF, as text."""
    opener = gzip.open if path.suffix == ".gz" else open
    out: list[str] = []
    count = 0
    with opener(path, "rt") as handle:
        for line in handle:
            out.append(line)
            if line.strip() == "END IONS":
                count += 1
                if count == n:
                    break
    return "".join(out)


@pytest.fixture(scope="session")
def molvis_home() -> Iterator[Path]:
    home = Path(tempfile.mkdtemp(prefix="molvis-test-"))
    old = {k: os.environ.get(k) for k in ("MOLVIS_HOME", "MOLVIS_DATABASE_URL")}
    os.environ["MOLVIS_HOME"] = str(home)
    if os.environ.get("MOLVIS_TEST_DATABASE_URL"):
        os.environ["MOLVIS_DATABASE_URL"] = os.environ["MOLVIS_TEST_DATABASE_URL"]
    else:
        os.environ.pop("MOLVIS_DATABASE_URL", None)
    yield home
    from registry.db import stop_embedded
    from registry.settings import load_settings

    if not os.environ.get("MOLVIS_DATABASE_URL"):
        stop_embedded(load_settings())
    for key, value in old.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="session")
def migrated_engine(molvis_home: Path) -> Engine:
    from registry import migrate
    from registry.db import get_engine

    engine = get_engine()
    migrate.upgrade(engine=engine)
    return engine


@pytest.fixture
def engine(migrated_engine: Engine) -> Engine:
    """The migrated test database, emptied."""
    with migrated_engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE"))
    return migrated_engine


def count(engine: Engine, table: str) -> int:
    with engine.connect() as conn:
        return conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()


def snapshot(engine: Engine) -> dict[str, int]:
    """Row counts of every registry table."""
    return {t.strip(): count(engine, t.strip()) for t in TABLES.split(",")}
