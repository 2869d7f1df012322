"""Fixtures: one real PostgreSQL (embedded pgserver, or MOLVIS_TEST_DATABASE_URL) per session,
migrated once and emptied before every test that uses it."""

from __future__ import annotations

import gzip
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("MOLVIS_SHARED_DATA", REPO.parent / "shared" / "data"))
TEST_DATA = Path(__file__).resolve().parent / "data"
# dgllife, the reference some tests compare with, prints a notice unless DGL's backend is named
os.environ.setdefault("DGLBACKEND", "pytorch")
TABLES = (
    "compound, source, ingest_run, rejected_record, msms_spectrum, ir_spectrum, ccs_value, model, "
    "structure_embedding, measurement_embedding, compound_source, ccs_predictor, ccs_prediction"
)


def shared(*parts: str) -> Path:
    """A file of ../shared/data; missing, it skips the test locally and fails it in CI."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        message = f"shared data {path} is not available"
        if os.environ.get("CI"):
            pytest.fail(message + " (CI needs all of ../shared/data)")
        pytest.skip(message)
    return path


def library_smiles(n: int) -> list[str]:
    """The first `n` SMILES of the MOSES training file (the structure library of the tests)."""
    with gzip.open(shared("library", "train.csv.gz"), "rt") as handle:
        next(handle)
        return [next(handle).strip() for _ in range(n)]


def ingest(engine: Engine, kind: str, path: Path, source: str, options=None):
    """One file in one transaction, as `molvis ingest` runs it."""
    from registry.db.connection import session_scope
    from registry.ingest.pipeline import ingest_file

    with session_scope(engine) as session:
        return ingest_file(session, kind, path, source, options)


def molvis(*args: str) -> subprocess.CompletedProcess:
    """The command line in a subprocess, as a user runs it."""
    return subprocess.run(
        [sys.executable, "-m", "molvis", *args], capture_output=True, text=True, timeout=300
    )


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


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that reaches the database `db` (`pytest -m "not db"`: the rest)."""
    for item in items:
        if "molvis_home" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.db)


def _maintenance(url: str):
    """An autocommit connection to the server of `url` (its maintenance database)."""
    import psycopg

    server = make_url(url).set(drivername="postgresql", database="postgres")
    return psycopg.connect(server.render_as_string(hide_password=False), autocommit=True)


def _copy_database(template_url: str) -> str:
    """A database of this session's own, copied from the migrated one at `template_url`
    (tests/mutation/database.py): many short sessions against one server, side by side."""
    from psycopg.errors import ObjectInUse

    url = make_url(template_url)
    name = f"molvis_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    with _maintenance(template_url) as conn:
        for attempt in range(50):  # a copy made by another session at the same moment
            try:
                conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{url.database}"')
                break
            except ObjectInUse:
                if attempt == 49:
                    raise
                time.sleep(0.1)
    return url.set(database=name).render_as_string(hide_password=False)


def _drop_database(url: str) -> None:
    """Drop a session's copy (FORCE: the session's pooled connections go with it)."""
    with _maintenance(url) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)')


@pytest.fixture(scope="session")
def molvis_home() -> Iterator[Path]:
    home = Path(tempfile.mkdtemp(prefix="molvis-test-"))
    old = {k: os.environ.get(k) for k in ("MOLVIS_HOME", "MOLVIS_DATABASE_URL")}
    os.environ["MOLVIS_HOME"] = str(home)
    template = os.environ.get("MOLVIS_TEST_TEMPLATE_URL")
    copy = _copy_database(template) if template else None
    if copy or os.environ.get("MOLVIS_TEST_DATABASE_URL"):
        os.environ["MOLVIS_DATABASE_URL"] = copy or os.environ["MOLVIS_TEST_DATABASE_URL"]
    else:
        os.environ.pop("MOLVIS_DATABASE_URL", None)
    if copy and os.environ.get("MOLVIS_TEST_TEMPLATE_READER_URL"):  # the reader's password
        reader = make_url(os.environ["MOLVIS_TEST_TEMPLATE_READER_URL"])
        database = make_url(copy).database
        os.environ["MOLVIS_READER_URL"] = reader.set(database=database).render_as_string(False)
    yield home
    if copy:
        os.environ.pop("MOLVIS_READER_URL", None)
        _drop_database(copy)
    from registry.db.connection import stop_embedded
    from registry.db.settings import load_settings

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
    from registry.db import migrate
    from registry.db.connection import get_engine

    engine = get_engine()
    migrate.upgrade(engine=engine)
    return engine


@pytest.fixture
def engine(migrated_engine: Engine, molvis_home: Path) -> Engine:
    """The migrated test database, emptied (and no library index from an earlier test)."""
    with migrated_engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE"))
    shutil.rmtree(molvis_home / "library", ignore_errors=True)
    return migrated_engine


def count(engine: Engine, table: str) -> int:
    with engine.connect() as conn:
        return conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()


def snapshot(engine: Engine) -> dict[str, int]:
    """Row counts of every registry table."""
    return {t.strip(): count(engine, t.strip()) for t in TABLES.split(",")}


@dataclass
class Seeded:
    """A registry seeded by `seed_registry`: its engine and the MS/MS text it ingested."""

    engine: Engine
    mgf: str = ""


@pytest.fixture
def seed_registry(engine: Engine, tmp_path: Path):
    """The one seeded-registry fixture: call it with what the test needs, in the emptied test
    database. `massbank`: the first N MassBank spectra; `gnps`: the GNPS pesticides file;
    `ir`: NIST JCAMP files by name; `ccs_rows`: the first N CCS rows; `model`: 'shipped'
    (molvis-base) or 'random' (an untrained tiny model named ui-model), embedded."""
    from tests.builders import write

    def seed(
        massbank: int = 0,
        gnps: bool = False,
        ir: tuple[str, ...] = (),
        ccs_rows: int = 0,
        model: str | None = None,
    ) -> Seeded:
        seeded = Seeded(engine)
        if massbank:
            seeded.mgf = first_mgf_blocks(shared("massbank", "massbank_ms2.mgf.gz"), massbank)
            ingest(engine, "msms", write(tmp_path, "mb.mgf", seeded.mgf), "massbank")
        if gnps:
            ingest(engine, "msms", shared("gnps", "pesticides.mgf"), "gnps")
        if ir:
            from registry.ingest.parsers.ir import StructureIndex
            from registry.ingest.summary import IngestOptions

            options = IngestOptions(
                structure_index=StructureIndex.from_table(shared("ir", "index.tsv"))
            )
            for name in ir:
                ingest(engine, "ir", shared("ir", "jcamp", name), "nist", options)
        if ccs_rows:
            with gzip.open(shared("ccs", "ccs_combined.tsv.gz"), "rt") as handle:
                head = "".join(next(handle) for _ in range(ccs_rows + 1))
            ingest(engine, "ccs", write(tmp_path, "ccs.tsv", head), "ccs")
        if model:
            _seed_model(engine, tmp_path, model)
        return seeded

    return seed


def _seed_model(engine: Engine, tmp_path: Path, kind: str) -> None:
    from molvis.workflows.embedding import embed_backfill

    name = None
    if kind == "random":
        import torch

        from models.checkpoint import make_checkpoint, save_checkpoint
        from models.config import load_config
        from models.model import MultiModalModel
        from registry.db.connection import session_scope
        from registry.learned.versions import register_model

        torch.manual_seed(0)
        model = MultiModalModel(load_config(REPO / "models" / "configs" / "tiny.yaml"))
        split = {"train": [], "val": [], "test": []}
        checkpoint = make_checkpoint(model, split, {})
        path = save_checkpoint(checkpoint, tmp_path / "ui-model.pt")
        with session_scope(engine) as session:
            register_model(
                session,
                "ui-model",
                checkpoint["version"],
                str(path),
                model.config.to_dict(),
                {},
                True,
            )
        name = "ui-model"
    counts = embed_backfill(engine, name)
    assert counts["structure"] > 0


@pytest.fixture(autouse=True)
def _fresh_memo_caches() -> None:
    """Each test computes identities, adduct masses and fragments itself: a cache filled by an
    earlier test (or by the unmutated code under mutation testing) would hide a broken function."""
    from models.ccs_adducts import adduct_composition, adduct_key
    from registry.chem.adducts import parse_adduct
    from registry.chem.explain import candidate_ions
    from registry.chem.identity import identify

    candidate_ions.cache_clear()
    identify.cache_clear()
    parse_adduct.cache_clear()
    adduct_key.cache_clear()
    adduct_composition.cache_clear()
