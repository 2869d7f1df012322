"""The `molvis` command line: the one face that reaches every part of molvis. Each command
group lives in its own module; this one wires them and turns errors into one line."""

from __future__ import annotations

import argparse
import json
import os
import sys
import warnings

from molvis.cli import ccs, db, embed, ingest, library, models, search, serve, spectra
from molvis.cli.common import EXIT_FAILED, EXIT_USAGE, CliError

GROUPS = (db, ingest, library, models, embed, ccs, spectra, search, serve)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="molvis",
        description="molvis: compound registry with MS/MS, IR and CCS embedding search",
    )
    parser.add_argument("--version", action="version", version=f"molvis {_version()}")
    sub = parser.add_subparsers(dest="command", required=True)
    for group in GROUPS:
        group.add_parsers(sub)
    return parser


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("molvis")
    except PackageNotFoundError:
        return "unknown (not installed)"


def main(argv: list[str] | None = None) -> int:
    warnings.filterwarnings("ignore", module="platformdirs")
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (CliError, LookupError, ValueError, FileNotFoundError) as exc:
        return _fail(args, str(exc), EXIT_USAGE)
    except BrokenPipeError:
        # the reader went away (`molvis stats --json | head`): end quietly, as Unix tools do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except KeyboardInterrupt:
        return _fail(args, "interrupted; the current file was rolled back", 130)
    except Exception as exc:
        if os.environ.get("MOLVIS_DEBUG"):
            raise
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        message = f"{type(exc).__name__}: {first} (set MOLVIS_DEBUG=1 for the traceback)"
        return _fail(args, message, EXIT_FAILED)


def _fail(args: argparse.Namespace, message: str, code: int) -> int:
    """One line on stderr; with --json also {"error": ...} on stdout, so it stays JSON."""
    print(f"molvis: error: {message}", file=sys.stderr)
    if getattr(args, "json", False):
        print(json.dumps({"error": message}))
    return code


if __name__ == "__main__":
    sys.exit(main())
