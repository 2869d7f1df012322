"""`molvis library`: the MS/MS reference library index that every search matches against
(built from the registry's current spectra, rebuilt after each MS/MS ingest)."""

from __future__ import annotations

import argparse
import json
import sys

from molvis.cli.common import engine, require_schema


def refresh_library(quiet: bool, force: bool = False) -> dict:
    """Rebuild the saved index when the registry's spectra changed (always with `force`),
    with a progress bar on a terminal."""
    from tqdm import tqdm

    from molvis.workflows.ingest import refresh_library as refresh

    with tqdm(
        desc="library index", unit=" spectra", file=sys.stderr, disable=quiet or None, leave=False
    ) as bar:

        def progress(done: int, total: int) -> None:
            bar.total = total
            bar.update(done)

        return refresh(engine(), progress, force)


def cmd_library_build(args: argparse.Namespace) -> int:
    require_schema()
    report = refresh_library(args.json, force=args.force)
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
