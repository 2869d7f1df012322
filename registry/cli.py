"""The `molvis` command line: the one face that reaches every part of molvis."""

from __future__ import annotations

import argparse
import json
import os
import sys
import warnings
from pathlib import Path

EXIT_USAGE = 2
EXIT_FAILED = 1


class CliError(Exception):
    """A problem to report to the user in one line."""


def _engine():
    from registry.db import get_engine

    return get_engine()


def cmd_db(args: argparse.Namespace) -> int:
    from registry import migrate
    from registry.db import database_url, libpq_url, stop_embedded

    if args.action == "url":
        print(libpq_url(database_url()))
    elif args.action == "upgrade":
        migrate.upgrade(args.revision or "head")
        print(f"database at revision {migrate.current_revision()}")
    elif args.action == "downgrade":
        migrate.downgrade(args.revision or "base")
        print(f"database at revision {migrate.current_revision() or 'base (empty)'}")
    elif args.action == "stop":
        print("embedded server stopped" if stop_embedded() else "no embedded server running")
    elif args.action == "reader-password":
        from registry.db import READER_ROLE, session_scope

        if not args.revision:
            raise CliError("give the password: molvis db reader-password SECRET")
        with session_scope() as session:
            quoted = (
                session.connection()
                .exec_driver_sql("SELECT quote_literal(%s)", (args.revision,))
                .scalar()
            )
            session.connection().exec_driver_sql(
                f"ALTER ROLE {READER_ROLE} WITH LOGIN PASSWORD {quoted}"
            )
        print(f"password set for {READER_ROLE}")
    return 0


def _require_schema() -> None:
    from registry import migrate

    if migrate.current_revision() is None:
        raise CliError("the database has no molvis schema yet: run `molvis db upgrade` first")


def cmd_ingest(args: argparse.Namespace) -> int:
    from rich.console import Console
    from tqdm import tqdm

    from registry.ingest import IngestOptions, files_for, ingest_file
    from registry.parsers import ParseError
    from registry.parsers.ir import StructureIndex
    from registry.parsers.tables import parse_column_overrides

    _require_schema()
    console = Console(stderr=True, soft_wrap=True)
    options = IngestOptions(licence=args.licence, origin=args.origin)
    try:
        options.columns = parse_column_overrides(args.columns)
        if args.structure_index:
            options.structure_index = StructureIndex.from_table(Path(args.structure_index))
        files, skipped = files_for(args.kind, [Path(p) for p in args.paths])
    except (ValueError, FileNotFoundError, ParseError) as exc:
        raise CliError(str(exc)) from exc
    engine = _engine()
    summaries = []
    verbose = len(files) <= 20
    for path in skipped:
        console.print(f"[dim]skipped {path} (not a {args.kind} file by its name)[/dim]")
    for path in files:
        with tqdm(
            desc=path.name[:40],
            unit=" rec",
            file=sys.stderr,
            disable=args.json or None,
            leave=False,
        ) as bar:
            summary = ingest_file(engine, args.kind, path, args.source, options, bar.update)
        summaries.append(summary)
        if summary.status == "failed":
            console.print(f"[red]error:[/red] {summary.error}", highlight=False)
        elif not args.json and (verbose or summary.rejected):
            console.print(
                f"{path}: {summary.status}: read {summary.read}, compounds new "
                f"{summary.compounds_new} / existing {summary.compounds_existing}, inserted "
                f"{summary.inserted}, duplicates {summary.duplicates}, rejected "
                f"{summary.rejected} ({summary.seconds:.1f} s)",
                highlight=False,
            )
            for example in summary.reject_examples[: args.show_rejects]:
                console.print(f"  rejected {example}", highlight=False, markup=False)
    if not args.json and len(summaries) > 1:
        console.print(
            f"{len(summaries)} files: read {sum(s.read for s in summaries)}, inserted "
            f"{sum(s.inserted for s in summaries)}, duplicates {sum(s.duplicates for s in summaries)}"
            f", rejected {sum(s.rejected for s in summaries)}, failed "
            f"{sum(s.status == 'failed' for s in summaries)}",
            highlight=False,
        )
    if not args.no_fingerprints and any(s.status == "loaded" for s in summaries):
        from registry.db import session_scope
        from registry.fingerprints import fill_missing

        with session_scope(engine) as session:
            filled = fill_missing(session)
        if filled and not args.json:
            console.print(f"fingerprints computed for {filled} new compounds")
    if args.json:
        print(json.dumps({"files": [s.as_dict() for s in summaries]}, indent=2))
    return EXIT_FAILED if any(s.status == "failed" for s in summaries) or not files else 0


def cmd_stats(args: argparse.Namespace) -> int:
    from registry.db import session_scope
    from registry.stats import registry_stats

    _require_schema()
    with session_scope(_engine()) as session:
        stats = registry_stats(session)
    if args.json:
        print(json.dumps(stats, indent=2))
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table(title="molvis registry")
    table.add_column("what")
    table.add_column("count", justify="right")
    for key, value in stats.items():
        if key != "per_source":
            table.add_row(key.replace("_", " "), f"{value:,}")
    console = Console()
    console.print(table)
    if stats["per_source"]:
        per = Table(title="per source")
        for col in ("name", "msms_spectra", "ir_spectra", "ccs_values", "rejected_records"):
            per.add_column(col.replace("_", " "), justify="left" if col == "name" else "right")
        for row in stats["per_source"]:
            per.add_row(row["name"], *(f"{row[c]:,}" for c in list(row)[1:]))
        console.print(per)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="molvis", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    db = sub.add_parser("db", help="database: upgrade, downgrade, url, stop, reader-password")
    db.add_argument("action", choices=["upgrade", "downgrade", "url", "stop", "reader-password"])
    db.add_argument(
        "revision",
        nargs="?",
        help="target revision (default head / base); the password for reader-password",
    )
    db.set_defaults(func=cmd_db)

    ingest = sub.add_parser("ingest", help="load files of one kind into the registry")
    ingest.add_argument("kind", choices=["msms", "ir", "ccs", "structures"])
    ingest.add_argument("paths", nargs="+", metavar="PATH", help="file, folder or archive")
    ingest.add_argument("--source", required=True, help="source name, e.g. massbank-2025.05")
    ingest.add_argument("--licence", help="licence of the source (stored with it)")
    ingest.add_argument("--origin", help="where the source comes from (URL, DOI, lab)")
    ingest.add_argument(
        "--structure-index",
        metavar="TABLE",
        help="IR: CSV/TSV mapping file/cas/nist_id to smiles/inchi",
    )
    ingest.add_argument(
        "--columns",
        metavar="FIELD=COL,...",
        help="CCS: map fields (smiles, inchi, inchikey, adduct, mz, ccs, method, "
        "drift_gas, name, id) to column headers",
    )
    ingest.add_argument("--json", action="store_true", help="print the per-file summary as JSON")
    ingest.add_argument(
        "--show-rejects",
        type=int,
        default=3,
        metavar="N",
        help="print up to N rejected records per file (default 3)",
    )
    ingest.add_argument(
        "--no-fingerprints",
        action="store_true",
        help="do not compute fingerprints of new compounds now",
    )
    ingest.set_defaults(func=cmd_ingest)

    stats = sub.add_parser("stats", help="registry counts")
    stats.add_argument("--json", action="store_true")
    stats.set_defaults(func=cmd_stats)

    from registry import cli_models, cli_search

    cli_models.add_parsers(sub)
    cli_search.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    warnings.filterwarnings("ignore", module="platformdirs")
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (CliError, LookupError, ValueError, FileNotFoundError) as exc:
        print(f"molvis: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("molvis: interrupted; the current file was rolled back", file=sys.stderr)
        return 130
    except Exception as exc:
        if os.environ.get("MOLVIS_DEBUG"):
            raise
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        print(
            f"molvis: error: {type(exc).__name__}: {first} (set MOLVIS_DEBUG=1 for the traceback)",
            file=sys.stderr,
        )
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
