"""`molvis library`: the MS/MS reference library index that every search matches against
(built from the registry's current spectra, rebuilt after each MS/MS ingest)."""

from __future__ import annotations

import argparse
import json

from molvis.cli.common import ProgressBars, engine, require_schema


def cmd_library_build(args: argparse.Namespace) -> int:
    from molvis.workflows.ingest import refresh_library

    require_schema()
    with ProgressBars(quiet=args.json) as bars:
        report = refresh_library(engine(), bars.library, args.force)
    if args.json:
        print(json.dumps(report))
    elif report["rebuilt"]:
        print(f"library index: {report['spectra']} spectra indexed ({report['seconds']} s)")
    else:
        print(f"library index is current ({report['spectra']} spectra)")
    return 0


def add_parsers(sub) -> None:
    p = sub.add_parser("library", help="the MS/MS reference library index")
    lib = p.add_subparsers(dest="library_command", required=True)
    build = lib.add_parser("build", help="index the registry's spectra (when they changed)")
    build.add_argument("--force", action="store_true", help="rebuild even when current")
    build.add_argument("--json", action="store_true")
    build.set_defaults(func=cmd_library_build)
