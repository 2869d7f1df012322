"""`molvis ui` and `molvis orchestrate` stop every child on SIGTERM and SIGINT; Dagster is found
in molvis's own environment; the command line's habits (--version, a closed pipe, `-`)."""

import argparse
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

import molvis.cli.serve as molvis_serve
from molvis.cli.serve import dagster_command
from tests.conftest import molvis


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _listening(port: int, seconds: float) -> bool:
    deadline = time.time() + seconds
    while time.time() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return True
        time.sleep(0.3)
    return False


def _closed(port: int, seconds: float) -> bool:
    """Nothing accepts on `port` within `seconds` (a killed server's last threads may still be
    closing its socket after its main thread shows as a zombie)."""
    deadline = time.time() + seconds
    while time.time() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) != 0:
                return True
        time.sleep(0.2)
    return False


def _running(process: psutil.Process) -> bool:
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _gone(processes: list[psutil.Process], seconds: float) -> list[psutil.Process]:
    """The processes still running after at most `seconds`. A zombie counts as stopped: once
    its parent is gone nobody here may reap it, so waiting for it to vanish took the whole
    time (its last threads may still be closing its files: `_closed` checks the port)."""
    deadline = time.monotonic() + seconds
    while True:
        alive = [p for p in processes if _running(p)]
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.2)


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_to_molvis_stops_its_servers_children(tmp_path, sig):
    """The server molvis starts (here a shell that starts a grandchild, as `dagster dev`
    starts its webserver and daemon) is stopped with all its children."""
    script = (
        "import sys; from molvis.cli.serve import serve; "
        "sys.exit(serve(['sh', '-c', 'sleep 300 & sleep 300; wait']))"
    )
    parent = subprocess.Popen([sys.executable, "-c", script])
    proc = psutil.Process(parent.pid)
    deadline = time.time() + 20
    while len(proc.children(recursive=True)) < 3 and time.time() < deadline:
        time.sleep(0.1)
    children = proc.children(recursive=True)
    assert len(children) == 3  # sh and its two sleeps
    os.kill(parent.pid, sig)
    assert parent.wait(20) == 0
    assert _gone(children, 15) == []


@pytest.mark.parametrize("death_signal, heard", [(signal.SIGTERM, "TERM\n"), (signal.SIGKILL, "")])
def test_molvis_killed_outright_sends_its_server_the_chosen_signal(tmp_path, death_signal, heard):
    """SIGTERM lets a server (as `dagster dev`) run its own shutdown; SIGKILL stops it at once."""
    heard_file = tmp_path / "heard"
    server = (
        "import signal, sys, time\n"
        "def term(*_):\n"
        f"    open({str(heard_file)!r}, 'w').write('TERM\\n'); sys.exit(0)\n"
        "signal.signal(signal.SIGTERM, term)\n"
        f"open({str(heard_file)!r}, 'w').write('')\n"
        "time.sleep(300)\n"
    )
    script = (
        "import sys; from molvis.cli.serve import serve; "
        f"sys.exit(serve([sys.executable, '-c', {server!r}], death_signal={int(death_signal)}))"
    )
    parent = subprocess.Popen([sys.executable, "-c", script])
    deadline = time.time() + 20
    while not heard_file.exists() and time.time() < deadline:
        time.sleep(0.1)
    children = psutil.Process(parent.pid).children()
    assert len(children) == 1
    parent.kill()
    parent.wait(10)
    assert _gone(children, 15) == []
    assert heard_file.read_text() == heard


def test_the_page_is_killed_with_molvis_not_left_to_its_own_shutdown(monkeypatch):
    seen: dict = {}
    monkeypatch.setattr(
        "molvis.cli.serve.serve", lambda command, **kw: seen.update(command=command, **kw) or 0
    )
    assert molvis_serve.cmd_ui(argparse.Namespace(host="127.0.0.1", port=8599, open=False)) == 0
    assert seen["death_signal"] == signal.SIGKILL and "streamlit" in seen["command"]


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_molvis_ui_leaves_no_child_serving_after_sigterm_or_sigkill(molvis_home, sig):
    """SIGKILL runs no handler of molvis's: the page stops because the kernel tells it its
    parent died (Linux)."""
    port = _free_port()
    parent = subprocess.Popen(
        [sys.executable, "-m", "molvis", "ui", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert _listening(port, 90), "the page never listened"
        children = psutil.Process(parent.pid).children(recursive=True)
        assert children
        parent.send_signal(sig)
        assert parent.wait(30) == (0 if sig == signal.SIGTERM else -signal.SIGKILL)
        assert _gone(children, 15) == []
        assert _closed(port, 10)
    finally:
        if parent.poll() is None:
            parent.kill()


def test_dagster_is_found_beside_molvis_python(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    found = Path(dagster_command())
    assert found.parent == Path(sys.executable).parent and found.name == "dagster"


def test_version():
    done = molvis("--version")
    assert done.returncode == 0 and done.stdout.startswith("molvis ")
