"""The compose stack itself, where a Docker engine runs: `docker compose up` with generated
secrets, the page's health and Dagster answering on this host, a run launched through the
webserver's GraphQL API succeeding, the reader refused a write, and nothing left after `down`.
Where no engine runs (this project's CI), the same steps run as processes in
test_deployment.py and the file is checked as text in test_compose.py."""

import secrets
import shutil
import subprocess
import time
import urllib.request
import uuid

import pytest

from tests.assets.test_deployment import _launch, _run_status
from tests.conftest import REPO


def _engine_runs() -> bool:
    if shutil.which("docker") is None:
        return False
    return subprocess.run(["docker", "info"], capture_output=True, timeout=60).returncode == 0


pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not _engine_runs(), reason="no Docker engine here: the stack runs as processes instead"
    ),
]


def _answers(url: str) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            return answer.read().decode()
    except OSError:
        return None


def _until(check, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(3)
    raise AssertionError(f"no {what} within {seconds:.0f} s")


def test_the_compose_stack_starts_serves_and_stops(tmp_path):
    env_file = tmp_path / "deploy.env"  # as `make deploy-env` writes .env, kept out of the tree
    reader = secrets.token_urlsafe(24)
    env_file.write_text(
        f"MOLVIS_DB_PASSWORD={secrets.token_urlsafe(24)}\nMOLVIS_READER_PASSWORD={reader}\n"
    )
    env_file.chmod(0o600)
    compose = ["docker", "compose", "-p", f"molvis-{uuid.uuid4().hex[:8]}"]
    compose += ["--env-file", str(env_file)]

    def run(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
        return subprocess.run(
            [*compose, *args], cwd=REPO, capture_output=True, text=True, timeout=timeout
        )

    try:
        up = run("up", "-d", "--build", timeout=3600)
        assert up.returncode == 0, up.stderr[-3000:]
        _until(lambda: _answers("http://127.0.0.1:8501/_stcore/health") == "ok", 300, "page")
        _until(lambda: _answers("http://127.0.0.1:3000/server_info") is not None, 300, "Dagster")
        run_id = _launch(3000, "library_index")
        status = {}

        def finished() -> bool:
            status["now"] = _run_status(3000, run_id)
            return status["now"] in ("SUCCESS", "FAILURE", "CANCELED")

        _until(finished, 600, "finished run")
        assert status["now"] == "SUCCESS"
        write = run(
            "exec", "-T", "db", "psql",
            f"postgresql://molvis_reader:{reader}@localhost:5432/molvis",
            "-c", "INSERT INTO source (name) VALUES ('written by the reader')",
        )  # fmt: skip
        assert write.returncode != 0 and "permission denied for table source" in write.stderr
    finally:
        down = run("down", "-v", "--remove-orphans")
    assert down.returncode == 0, down.stderr[-3000:]
    assert run("ps", "-a", "-q").stdout.strip() == ""
