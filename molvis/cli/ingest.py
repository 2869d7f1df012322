"""`molvis ingest KIND PATH...`: load files into the registry, one transaction per file."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from molvis.cli.common import EXIT_FAILED, CliError, ProgressBars, engine, require_schema
from registry.ingest.files import STDIN


def _print_summary(console, summary, args: argparse.Namespace, verbose: bool) -> None:
    if summary.status == "failed":
        console.print(f"[red]error:[/red] {summary.error}", highlight=False)
    elif not args.json and (verbose or summary.rejected):
        console.print(
            f"{summary.file}: {summary.status}: read {summary.read}, compounds new "
            f"{summary.compounds_new} / existing {summary.compounds_existing}, inserted "
            f"{summary.inserted}, duplicates {summary.duplicates}, rejected "
            f"{summary.rejected} ({summary.seconds:.1f} s)",
            highlight=False,
        )
        for example in summary.reject_examples[: args.show_rejects]:
            console.print(f"  rejected {example}", highlight=False, markup=False)


def cmd_ingest(args: argparse.Namespace) -> int:
    """`-` among the paths reads standard input, spooled to a private temporary file whose
    name tells its format (MS/MS files are told by their first line)."""
    if STDIN not in args.paths:
        return _ingest(args, [Path(p) for p in args.paths])
    with tempfile.TemporaryDirectory(prefix="molvis-stdin-") as folder:
        data = sys.stdin.buffer.read()
        spooled = Path(folder) / ("standard-input" + stdin_suffix(args.kind, data[:4096]))
        spooled.write_bytes(data)
        return _ingest(args, [spooled if p == STDIN else Path(p) for p in args.paths])


def stdin_suffix(kind: str, head: bytes) -> str:
    """The file-name suffix that makes the reader of `kind` read what standard input holds."""
    text = head.decode("utf-8", "replace").lstrip()
    first = text.splitlines()[0] if text else ""
    if kind == "ir":
        return ".jdx"
    if kind == "ccs":
        return ".tsv" if "\t" in first else ".csv"
    if kind == "structures":
        if "M  END" in text or "$$$$" in text:
            return ".sdf"
        if text.startswith("InChI="):
            return ".inchi"
        if "\t" in first and "smiles" in first.lower():
            return ".tsv"
        if "," in first and "smiles" in first.lower():
            return ".csv"
        return ".smi"
    return ""  # MS/MS: MGF, MSP or MassBank told by the first line


def _ingest(args: argparse.Namespace, paths: list[Path]) -> int:
    from rich.console import Console

    from molvis.workflows.ingest import IngestHooks, ingest_files, ingest_options
    from registry.ingest.formats import KINDS, files_for

    require_schema()
    console = Console(stderr=True, soft_wrap=True)
    try:
        options = ingest_options(
            args.licence, args.origin, args.columns, args.structure_index, not args.no_fingerprints
        )
        files, skipped = files_for(args.kind, paths)
    except (ValueError, FileNotFoundError) as exc:
        raise CliError(str(exc)) from exc
    for path in skipped:
        console.print(f"[dim]skipped {path} (not a {args.kind} file by its name)[/dim]")
    if not files:
        console.print(
            f"[red]error:[/red] no {args.kind} files in {', '.join(args.paths)} "
            f"(inside folders molvis takes {', '.join(KINDS[args.kind].suffixes)}"
            " and archives)",
            highlight=False,
        )
    with ProgressBars(quiet=args.json) as bars:
        hooks = IngestHooks(
            file_bar=bars.file,
            file_done=lambda s: _print_summary(console, s, args, verbose=len(files) <= 20),
            library=bars.library,
            embedded=bars.embedded,
        )
        report = ingest_files(
            engine(), args.kind, files, args.source, options, args.workers, args.embed, hooks=hooks
        )
    summaries = report.files
    if not args.json and len(summaries) > 1:
        console.print(
            f"{len(summaries)} files: read {sum(s.read for s in summaries)}, inserted "
            f"{sum(s.inserted for s in summaries)}, duplicates {sum(s.duplicates for s in summaries)}"
            f", rejected {sum(s.rejected for s in summaries)}, failed "
            f"{sum(s.status == 'failed' for s in summaries)}",
            highlight=False,
        )
    if report.fingerprints and not args.json:
        console.print(f"fingerprints computed for {report.fingerprints} new compounds")
    if report.library is not None and not args.json:
        library = report.library
        console.print(f"library index: {library['spectra']} spectra ({library['seconds']} s)")
    if args.json:
        print(json.dumps(report.as_dict(), indent=2))
    return EXIT_FAILED if report.failed else 0


def add_parsers(sub) -> None:
    ingest = sub.add_parser("ingest", help="load files of one kind into the registry")
    ingest.add_argument("kind", choices=["msms", "ir", "ccs", "structures"])
    ingest.add_argument(
        "paths", nargs="+", metavar="PATH", help="file, folder or archive; - reads standard input"
    )
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
    ingest.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="processes that normalise and fingerprint ahead of the writer (default, for "
        "files of 1 MB and more: one per core for structures, one for MS/MS and CCS)",
    )
    ingest.add_argument(
        "--embed",
        action="store_true",
        help="then embed the new structures with the active model and build its index "
        "(a candidate library searchable in one command)",
    )
    ingest.set_defaults(func=cmd_ingest)
