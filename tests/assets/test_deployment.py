"""The deployment as the compose file runs it, as processes, on a server reached by URL alone:
molvis's database owned by a role that is no superuser (DEPLOY.md's administrator statements
done first), migrated, loaded and embedded by it; the Dagster webserver and one daemon on the
instance of assets/deploy/dagster.yaml, its storage in a PostgreSQL database of its own
(Dagster's tables and Alembic history beside molvis's in one database stopped both at start:
'Can't locate revision ... 0018_open_query_k_skeletons'); the page with the reader's URL alone.
Nothing is left running afterwards."""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import psutil
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.conftest import REPO

DEPLOY = REPO / "assets" / "deploy"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _end_group(group: int) -> None:
    """Stop what is left of a process group (a server's children outlive a SIGTERM to it)."""
    try:
        os.killpg(group, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _still_running(variable: str, value: str, seconds: float = 15) -> list[str]:
    """Processes started for this test (`variable` = `value` in their environment, which every
    child inherits: Dagster's code servers and runs, the page's Streamlit) still running after
    `seconds`."""
    deadline = time.monotonic() + seconds
    while True:
        left = []
        for proc in psutil.process_iter():
            try:
                if proc.status() == psutil.STATUS_ZOMBIE:
                    continue
                if proc.environ().get(variable) == value:
                    left.append(" ".join(proc.cmdline())[:120])
            except psutil.Error:
                continue
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.5)


@pytest.fixture(scope="module")
def owned_registry(migrated_engine, tmp_path_factory) -> str:
    """A database as DEPLOY.md has an administrator prepare it (a login role that owns it and
    is no superuser, pgvector installed in it), then migrated, loaded and embedded by that role
    through `molvis` with its URL alone; the owner's URL."""
    tag = uuid.uuid4().hex[:8]
    role = database = f"deploy_{tag}"
    admin = create_engine(migrated_engine.url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE ROLE {role} LOGIN NOSUPERUSER PASSWORD 'pw-{tag}'"))
        conn.execute(text(f"CREATE DATABASE {database} OWNER {role}"))
    extension = create_engine(migrated_engine.url.set(database=database))
    with extension.begin() as conn:
        conn.execute(text("CREATE EXTENSION vector"))
    extension.dispose()
    url = migrated_engine.url.set(username=role, password=f"pw-{tag}", database=database)
    owner = url.render_as_string(hide_password=False)
    env = {**os.environ, "MOLVIS_DATABASE_URL": owner}
    env["MOLVIS_HOME"] = str(tmp_path_factory.mktemp("owned-home"))
    gnps = REPO / "tests" / "data" / "gnps_pesticides_3.mgf"
    try:
        for args in (
            ["db", "upgrade"],
            ["ingest", "msms", str(gnps), "--source", "lab"],
            ["embed"],
        ):
            done = subprocess.run(
                [sys.executable, "-m", "molvis", *args],
                cwd=REPO, env=env, capture_output=True, text=True, timeout=600,
            )  # fmt: skip
            assert done.returncode == 0, f"molvis {args[0]}: {done.stderr[-2000:]}"
        yield owner
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)"))
            conn.execute(text(f"REASSIGN OWNED BY {role} TO CURRENT_USER"))
            conn.execute(text(f"DROP OWNED BY {role}"))
            conn.execute(text(f"DROP ROLE {role}"))
        admin.dispose()


def _wait(check, seconds: float, what: str, procs: list[subprocess.Popen], logs: Path) -> None:
    """Until `check()` holds; a process that exits first fails the test with its log's end."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for proc in procs:
            if proc.poll() is not None:
                name = Path(proc.args[0]).name
                log = logs / f"{name}.log"
                tail = log.read_text()[-3000:] if log.exists() else ""
                raise AssertionError(f"{name} exited ({proc.returncode}) before {what}:\n{tail}")
        if check():
            return
        time.sleep(1)
    raise AssertionError(f"no {what} within {seconds:.0f} s")


def _graphql(port: int, query: str, variables: dict) -> dict:
    body = json.dumps({"query": query, "variables": variables}).encode()
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql", body, {"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.loads(answer.read())["data"]


def _launch(port: int, job: str) -> str:
    """A run of `job` launched through the webserver's GraphQL API, as its UI launches one."""
    found = _graphql(
        port,
        """mutation($p: ExecutionParams!) { launchRun(executionParams: $p) {
             __typename ... on LaunchRunSuccess { run { runId } }
             ... on PythonError { message } } }""",
        {
            "p": {
                "selector": {
                    "repositoryLocationName": "assets.definitions",
                    "repositoryName": "__repository__",
                    "jobName": job,
                },
                "runConfigData": {},
            }
        },
    )["launchRun"]
    assert found["__typename"] == "LaunchRunSuccess", found
    return found["run"]["runId"]


def _run_status(port: int, run_id: str) -> str:
    query = "query($id: ID!) { runOrError(runId: $id) { ... on Run { status } } }"
    return _graphql(port, query, {"id": run_id})["runOrError"]["status"]


@pytest.fixture
def dagster_database(migrated_engine):
    """A database of its own on the test server, as the compose init script creates it."""
    name = f"dagster_{uuid.uuid4().hex[:8]}"
    admin = create_engine(migrated_engine.url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name}"))
    url = migrated_engine.url.set(
        database=name, drivername="postgresql"
    )  # psycopg2, as dagster-postgres uses
    yield url.render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE {name} WITH (FORCE)"))
    admin.dispose()


@pytest.mark.slow
def test_the_webserver_and_one_daemon_start_on_their_own_database(
    dagster_database, owned_registry, tmp_path
):
    """Both start, the daemons beat, and a run launched through the webserver's GraphQL API
    (the library index job, on the owner's registry) is queued, launched by the daemon and
    succeeds; stopped, they leave no process behind."""
    home = tmp_path / "dagster"
    home.mkdir()
    for name in ("dagster.yaml", "workspace.yaml"):
        shutil.copy(DEPLOY / name, home / name)
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "DAGSTER_POSTGRES_URL": dagster_database,
        "MOLVIS_DATABASE_URL": owned_registry,
        "MOLVIS_HOME": str(tmp_path / "home"),
        "PYTHONPATH": str(REPO),
    }
    bin_dir = Path(sys.executable).parent
    port = _free_port()
    workspace = str(home / "workspace.yaml")
    logs = [open(tmp_path / f"{n}.log", "w") for n in ("dagster-webserver", "dagster-daemon")]  # noqa: SIM115
    procs = [
        subprocess.Popen(
            [bin_dir / "dagster-webserver", "-h", "127.0.0.1", "-p", str(port), "-w", workspace],
            cwd=REPO, env=env, stdout=logs[0], stderr=subprocess.STDOUT, start_new_session=True,
        ),
        subprocess.Popen(
            [bin_dir / "dagster-daemon", "run", "-w", workspace],
            cwd=REPO, env=env, stdout=logs[1], stderr=subprocess.STDOUT, start_new_session=True,
        ),
    ]  # fmt: skip
    try:

        def serving() -> bool:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/server_info", timeout=2):
                    return True
            except OSError:
                return False

        _wait(serving, 180, "the webserver answered", procs, tmp_path)
        dagster = create_engine(dagster_database)

        def heartbeats() -> set[str]:
            with dagster.connect() as conn:
                found = conn.execute(text("SELECT daemon_type FROM daemon_heartbeats")).scalars()
                return set(found)

        _wait(lambda: {"SCHEDULER", "SENSOR", "QUEUED_RUN_COORDINATOR"} <= heartbeats(), 180,
              "the scheduler, sensor and run-queue daemons beat", procs, tmp_path)  # fmt: skip
        dagster.dispose()
        run_id = _launch(port, "library_index")  # through the webserver, queued for the daemon
        status = {}

        def finished() -> bool:
            status["now"] = _run_status(port, run_id)
            return status["now"] in ("SUCCESS", "FAILURE", "CANCELED")

        _wait(finished, 240, "the run finished", procs, tmp_path)
        assert status["now"] == "SUCCESS"
        index = json.loads((tmp_path / "home" / "library" / "msms.json").read_text())
        assert index["spectra"] == 3  # the run read the owner's registry
        molvis_db = create_engine(owned_registry)
        with molvis_db.connect() as conn:  # Dagster's tables stayed out of molvis's
            tables = set(
                conn.execute(
                    text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
                ).scalars()
            )
        molvis_db.dispose()
        assert "runs" not in tables and "daemon_heartbeats" not in tables
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
            _end_group(proc.pid)  # the code servers each of them started
        for log in logs:
            log.close()
    assert _still_running("DAGSTER_HOME", str(home)) == []


@pytest.mark.slow
def test_the_page_starts_with_the_reader_s_url_alone_and_the_reader_cannot_write(
    owned_registry, tmp_path
):
    """As compose runs it: `molvis ui` with MOLVIS_READER_URL and MOLVIS_HOME only (no writer's
    URL) on the owner's registry answers its health check; the reader's role is refused a
    write there; stopped, the page leaves no process behind."""
    from sqlalchemy.exc import ProgrammingError

    from registry.db.connection import reader_database_url

    database = make_url(owned_registry).database
    reader = make_url(reader_database_url()).set(database=database)
    reader = reader.render_as_string(hide_password=False)
    env = {k: v for k, v in os.environ.items() if k != "MOLVIS_DATABASE_URL"}
    env |= {"MOLVIS_READER_URL": reader, "MOLVIS_HOME": str(tmp_path / "home")}
    port = _free_port()
    log = open(tmp_path / "molvis.log", "w")  # noqa: SIM115
    page = subprocess.Popen(
        [sys.executable, "-m", "molvis", "ui", "--port", str(port)],
        cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:

        def healthy() -> bool:
            try:
                url = f"http://127.0.0.1:{port}/_stcore/health"
                with urllib.request.urlopen(url, timeout=2) as answer:
                    return answer.read() == b"ok"
            except OSError:
                return False

        _wait(healthy, 120, "the page answered its health check", [page], tmp_path)
    finally:
        page.terminate()
        page.wait(30)
        log.close()
    assert not (tmp_path / "home" / "pgdata").exists()  # no embedded server was started
    assert _still_running("MOLVIS_HOME", str(tmp_path / "home")) == []
    as_reader = create_engine(reader)
    with as_reader.connect() as conn, pytest.raises(ProgrammingError, match="denied"):
        conn.execute(text("INSERT INTO source (name) VALUES ('written by the reader')"))
    as_reader.dispose()
