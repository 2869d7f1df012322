"""`molvis ui` (the Streamlit query page) and `molvis orchestrate` (Dagster's UI)."""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import webbrowser
from pathlib import Path

from molvis.cli.common import CliError

UI_APP = Path(__file__).resolve().parents[2] / "ui" / "app.py"
DAGSTER_MODULE = "assets.definitions"
UPLOAD_LIMIT_MB = 50  # Streamlit refuses larger uploads; ui/app.py caps what a .gz expands to
PR_SET_PDEATHSIG = 1  # prctl(2): the signal a process gets when its parent dies


def dagster_command() -> str:
    """Dagster's command from molvis's own environment (beside this Python), else from PATH:
    `molvis` run by its full path finds it without an activated environment."""
    beside = Path(sys.executable).parent / "dagster"
    if beside.is_file():
        return str(beside)
    found = shutil.which("dagster")
    if found is None:
        raise CliError("dagster is not installed in molvis's environment (pip install -e .)")
    return found


def _stop_with_parent(death_signal: int) -> None:
    """In the server, before it starts (Linux): `death_signal` when molvis dies, even by
    SIGKILL, which runs no handler of molvis's; elsewhere nothing."""
    if sys.platform.startswith("linux"):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, death_signal)


def serve(
    command: list[str], env: dict[str, str] | None = None, death_signal: int = signal.SIGTERM
) -> int:
    """Run a server and its children as one process group; SIGTERM or SIGINT (Ctrl-C) to
    molvis stops the whole group (SIGKILL after 10 s), so no child keeps serving; molvis
    killed outright sends the server `death_signal` (Linux): SIGTERM lets `dagster dev` stop
    its own children, SIGKILL stops a server that has nothing to flush at once."""
    server = subprocess.Popen(
        command,
        env=env,
        start_new_session=True,
        preexec_fn=lambda: _stop_with_parent(death_signal),
    )

    def stop(signum: int, _frame) -> None:
        raise KeyboardInterrupt

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        return server.wait()
    except KeyboardInterrupt:
        _stop_group(server)
        return 0
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _stop_group(server: subprocess.Popen) -> None:
    for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
        try:
            os.killpg(server.pid, sig)
        except ProcessLookupError:
            return
        try:
            server.wait(wait)
        except subprocess.TimeoutExpired:
            continue
        try:  # the leader is gone; its children may still be stopping
            os.killpg(server.pid, 0)
        except ProcessLookupError:
            return


def cmd_orchestrate(args: argparse.Namespace) -> int:
    from registry.db.settings import load_settings

    home = load_settings().home / "dagster"
    home.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "DAGSTER_HOME": str(home)}
    command = [dagster_command(), "dev", "-m", DAGSTER_MODULE, "-p", str(args.port)]
    command += ["-h", args.host]
    return serve(command, env)


def ui_command(port: int, host: str) -> list[str]:
    """The Streamlit command line of the query page: bound to `host`, uploads capped."""
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(UI_APP),
        "--server.port",
        str(port),
        "--server.address",
        host,
        "--server.maxUploadSize",
        str(UPLOAD_LIMIT_MB),
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
    ]


def cmd_ui(args: argparse.Namespace) -> int:
    local = args.host in ("127.0.0.1", "localhost", "::1")
    url = f"http://{'localhost' if local else args.host}:{args.port}/"
    if not local:
        print(
            f"molvis: the UI listens on {args.host}: anyone who reaches this machine can use it "
            "(it has no login); it reads the registry with the read-only role",
            file=sys.stderr,
        )
    print(f"molvis UI at {url} (Ctrl-C stops it)", file=sys.stderr)
    if args.open:
        webbrowser.open(url)
    # the page holds nothing to flush: killed with molvis, not left to Streamlit's slow shutdown
    return serve(ui_command(args.port, args.host), death_signal=signal.SIGKILL)


def add_parsers(sub) -> None:
    orchestrate = sub.add_parser("orchestrate", help="Dagster UI on this registry (dagster dev)")
    orchestrate.add_argument("--port", type=int, default=3000)
    orchestrate.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)"
    )
    orchestrate.set_defaults(func=cmd_orchestrate)

    ui = sub.add_parser("ui", help="the Streamlit query page (read-only connection)")
    ui.add_argument("--port", type=int, default=8501)
    ui.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1: this machine only; 0.0.0.0 opens it)",
    )
    ui.add_argument("--open", action="store_true", help="open the page in a browser")
    ui.set_defaults(func=cmd_ui)
