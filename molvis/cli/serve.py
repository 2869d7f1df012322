"""`molvis ui` (the Streamlit query page) and `molvis orchestrate` (Dagster's UI)."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import webbrowser
from pathlib import Path

UI_APP = Path(__file__).resolve().parents[2] / "ui" / "app.py"
DAGSTER_MODULE = "assets.definitions"
UPLOAD_LIMIT_MB = 50  # Streamlit refuses larger uploads; ui/app.py caps what a .gz expands to


def cmd_orchestrate(args: argparse.Namespace) -> int:
    from registry.settings import load_settings

    home = load_settings().home / "dagster"
    home.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "DAGSTER_HOME": str(home)}
    command = ["dagster", "dev", "-m", DAGSTER_MODULE, "-p", str(args.port)]
    return subprocess.call(command, env=env)


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
    server = subprocess.Popen(ui_command(args.port, args.host))
    if args.open:
        webbrowser.open(url)
    try:
        return server.wait()
    except KeyboardInterrupt:
        server.terminate()
        return 0


def add_parsers(sub) -> None:
    orchestrate = sub.add_parser("orchestrate", help="Dagster UI on this registry (dagster dev)")
    orchestrate.add_argument("--port", type=int, default=3000)
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
