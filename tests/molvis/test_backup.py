"""`molvis db backup FILE` and `molvis db restore FILE` against the real test server: the
registry comes back whole in another database (its reader's grants too), a database that holds
a registry is refused, a damaged file leaves the target as it was, and the file is the
owner's alone."""

import json
import os
import stat
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import create_engine, make_url, text

from tests.conftest import _maintenance, molvis


@contextmanager
def fresh_database(engine) -> Iterator[str]:
    """An empty database on the test server, dropped afterwards; yields its URL."""
    url = make_url(engine.url.render_as_string(hide_password=False))
    fresh = url.set(database=f"molvis_restore_{uuid.uuid4().hex[:8]}")
    admin = url.render_as_string(hide_password=False)
    with _maintenance(admin) as conn:
        conn.execute(f'CREATE DATABASE "{fresh.database}"')
    try:
        yield fresh.render_as_string(hide_password=False)
    finally:
        with _maintenance(admin) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{fresh.database}" WITH (FORCE)')


def molvis_at(url: str, home, *args: str) -> subprocess.CompletedProcess:
    env = os.environ | {"MOLVIS_DATABASE_URL": url, "MOLVIS_HOME": str(home)}
    command = [sys.executable, "-m", "molvis", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=300, env=env)


def test_a_backup_restores_whole_into_an_empty_database(seed_registry, engine, tmp_path):
    seed_registry(gnps=True)
    dump = tmp_path / "registry.dump"
    done = molvis("db", "backup", str(dump))
    assert done.returncode == 0, done.stderr
    assert dump.read_bytes()[:5] == b"PGDMP" and "readable by you only" in done.stdout
    assert stat.S_IMODE(dump.stat().st_mode) == 0o600
    assert not dump.with_name("registry.dump.partial").exists()
    before = json.loads(molvis("stats", "--json").stdout)
    home = tmp_path / "home"
    (home / "library" / "msms-old").mkdir(parents=True)  # another registry's index
    with fresh_database(engine) as url:
        done = molvis_at(url, home, "db", "restore", str(dump))
        assert done.returncode == 0, done.stderr
        assert json.loads(molvis_at(url, home, "stats", "--json").stdout) == before
        assert not (home / "library").exists()  # rebuilt by the first search
        restored = create_engine(make_url(url).set(drivername="postgresql+psycopg"))
        with restored.connect() as conn:
            grants = "SELECT has_table_privilege('molvis_reader', 'compound', 'SELECT')"
            assert conn.execute(text(grants)).scalar()
        restored.dispose()
        again = molvis_at(url, home, "db", "restore", str(dump))
        assert again.returncode == 2 and "already holds a registry" in again.stderr


def test_a_damaged_backup_leaves_the_database_as_it_was(engine, tmp_path):
    dump = tmp_path / "cut.dump"
    assert molvis("db", "backup", str(dump)).returncode == 0
    dump.write_bytes(dump.read_bytes()[: dump.stat().st_size // 2])
    with fresh_database(engine) as url:
        done = molvis_at(url, tmp_path / "home", "db", "restore", str(dump))
        assert done.returncode == 2 and "cut.dump" in done.stderr
        assert "Traceback" not in done.stderr
        restored = create_engine(make_url(url).set(drivername="postgresql+psycopg"))
        with restored.connect() as conn:
            tables = "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"
            assert conn.execute(text(tables)).scalar() == 0
        restored.dispose()
        nothing = molvis_at(url, tmp_path / "home", "db", "backup", str(tmp_path / "x.dump"))
        assert nothing.returncode == 2 and "no molvis schema" in nothing.stderr
        assert not (tmp_path / "x.dump").exists()
        missing = molvis_at(url, tmp_path / "home", "db", "restore", str(tmp_path / "no.dump"))
        assert missing.returncode == 2 and "no.dump: no such file" in missing.stderr
