"""`molvis search`: read the unknown's measurements, build queries with the shared defaults,
match them against the reference library and rank candidate structures; `--out` writes a
batch (an LC-MS run's spectra) as TSV, CSV or JSON, one row per query and hit."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from pathlib import Path

from molvis.cli.common import CliError, engine


def _options(args: argparse.Namespace):
    from molvis.workflows.search import SearchOptions, parse_weights
    from registry.library.flash_index import LibraryOptions

    return SearchOptions(
        ppm=args.ppm,
        formula=args.formula,
        sources=args.source or None,
        k=args.top,
        weights=parse_weights(args.weight),
        ccs_tolerance_pct=args.ccs_tol,
        ccs_predicted_tolerance_pct=args.ccs_predicted_tol,
        fragments=not args.no_fragments,
        ranker=args.ranker,
        library=LibraryOptions(
            fragment_tolerance=args.fragment_tol,
            min_score=args.min_library_score,
            min_matched_peaks=args.min_peaks,
            weight=args.library_weight,
        ),
    )


def _queries(args: argparse.Namespace) -> tuple[list, list[str]]:
    from molvis.workflows.consensus import merge_repeated_scans
    from molvis.workflows.query import QueryFields, build_queries, read_ir_file, read_msms_file

    if args.ccs is not None and not args.ccs_adduct:
        raise ValueError("--ccs needs --ccs-adduct (the ion whose CCS was measured)")
    spectra, problems = [], []
    if args.msms:
        spectra, problems = read_msms_file(Path(args.msms))
        if not spectra:
            raise ValueError(f"{args.msms}: no usable spectrum ({'; '.join(problems[:3])})")
        if not args.keep_scans:
            spectra = merge_repeated_scans(spectra)
    ir = read_ir_file(Path(args.ir)) if args.ir else None
    fields = QueryFields(args.precursor_mz, args.adduct, args.ccs, args.ccs_adduct)
    queries = build_queries(spectra, ir, fields, Path(args.msms).name if args.msms else "query")
    for problem in problems:
        print(f"molvis: skipped {problem}", file=sys.stderr)
    return queries, problems


def iter_results(args: argparse.Namespace, progress: bool) -> Iterator[dict]:
    """One `--json` result per query, as each query is answered, then one entry per record of
    the file that was not searched (`query`: where, `skipped`: why, no hits)."""
    from tqdm import tqdm

    from molvis.workflows.library_match import Library
    from molvis.workflows.model_loading import load_model
    from molvis.workflows.query import skipped_entry
    from molvis.workflows.search import result_dict, run_query
    from registry.db.connection import session_scope
    from registry.db.settings import load_settings

    options = _options(args)
    queries, problems = _queries(args)
    loaded = load_model(engine(), args.model)
    with session_scope(engine()) as session:
        library = (
            None if args.no_library else Library(session, load_settings().home, options.library)
        )
        for query in tqdm(
            queries,
            desc="search",
            unit=" queries",
            file=sys.stderr,
            disable=not progress or None,
            leave=False,
        ):
            yield result_dict(run_query(session, loaded, query, options, library), loaded)
    yield from map(skipped_entry, problems)


def write_out(path: Path, results: Iterator[dict]) -> tuple[int, int]:
    """Stream results to a .tsv, .csv or .json file; (queries searched, hits) written."""
    import csv

    from molvis.workflows.export import COLUMNS, table_rows

    kind = path.suffix.lower()
    if kind not in (".tsv", ".csv", ".json"):
        raise CliError(f"--out {path}: give a .tsv, .csv or .json file name")
    queries = hits = rows = 0
    with open(path, "w", newline="") as handle:
        if kind == ".json":
            handle.write("[")
        else:
            writer = csv.DictWriter(handle, COLUMNS, delimiter="\t" if kind == ".tsv" else ",")
            writer.writeheader()
        for result in results:
            rows += 1
            queries += "skipped" not in result
            hits += len(result["hits"])
            if kind == ".json":
                handle.write(("," if rows > 1 else "") + "\n" + json.dumps(result))
            else:
                writer.writerows(table_rows(rows, result))
        if kind == ".json":
            handle.write("\n]\n")
    return queries, hits


def _print(result: dict) -> None:
    if "skipped" in result:
        print(f"\n{result['query']}: skipped ({result['skipped']})")
        return
    mass = f", neutral mass {result['neutral_mass']:.5f}" if result["neutral_mass"] else ""
    print(
        f"\n{result['query']}: {result['candidates']} "
        f"candidate{'' if result['candidates'] == 1 else 's'}{mass}"
        + "".join(f" ({n})" for n in result["notes"])
    )
    confidence = result["confidence"]
    if confidence["top_hit_probability"] is not None:
        best, analogue = confidence["best_library_score"], confidence["best_analogue_score"]
        at = f"best library match {best:.2f}" if best is not None else "no library match"
        other = f", best analogue {analogue:.2f}" if analogue is not None else ""
        print(
            f"     top hit right with probability {confidence['top_hit_probability']:.2f} "
            f"({at} at this precursor{other})"
        )
    for hit in result["hits"]:
        library = hit["evidence"]["library"]
        lib = f"lib={library['score']:.3f}/{library['matched_peaks']}pk " if library else ""
        parts = " ".join(f"{k}={v:.3f}" for k, v in hit["scores"].items())
        score = f"{hit['score']:.3f}" if hit["score"] is not None else "  -  "
        p = f"p={hit['probability']:.2f}" if hit["probability"] is not None else ""
        print(
            f"{hit['rank']:3d}. {score}  L{hit['level'] or '-':<2s} {p:6s} {hit['inchikey']}  "
            f"{(hit['name'] or '')[:36]:36s}  {lib}{parts}  {hit['smiles']}"
        )
    for a in result["analogues"][:3]:
        print(
            f"     analogue {a['score']:.3f}: {a['name'] or a['inchikey']} "
            f"({a['adduct']}, precursor {a['precursor_mz']:.4f}, {a['record_id']})"
        )


def cmd_search(args: argparse.Namespace) -> int:
    if args.out:
        queries, hits = write_out(Path(args.out), iter_results(args, progress=True))
        summary = {"out": args.out, "queries": queries, "hits": hits}
        print(json.dumps(summary) if args.json else f"{queries} queries, {hits} hits -> {args.out}")
        return 0
    results = list(iter_results(args, progress=False))
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    for result in results:
        _print(result)
    return 0


def add_parsers(sub) -> None:
    p = sub.add_parser("search", help="identify an unknown: library matches, then the model")
    p.add_argument(
        "--msms",
        metavar="FILE",
        help="MGF/MSP/MassBank file or mzML/mzXML run; one search per MS2 spectrum",
    )
    p.add_argument(
        "--keep-scans",
        action="store_true",
        help="search each MS2 scan of a run alone (default: repeated scans of one precursor "
        "within 0.01 Da and 12 s merged into one consensus query)",
    )
    p.add_argument("--ir", metavar="FILE", help="JCAMP-DX IR spectrum")
    p.add_argument("--ccs", type=float, metavar="VALUE", help="measured CCS in A^2")
    p.add_argument("--ccs-adduct", metavar="ADDUCT", help="ion of the CCS value, e.g. [M+H]+")
    p.add_argument(
        "--ccs-tol",
        type=float,
        default=3.0,
        metavar="PCT",
        help="CCS window around the query for measured candidate values (default 3 %%)",
    )
    p.add_argument(
        "--ccs-predicted-tol",
        type=float,
        metavar="PCT",
        help="CCS window for predicted values (default: the CCS predictor's own tolerance)",
    )
    p.add_argument("--precursor-mz", type=float, metavar="MZ", help="precursor m/z (overrides)")
    p.add_argument("--adduct", metavar="ADDUCT", help="precursor adduct, e.g. [M+H]+")
    p.add_argument(
        "--ppm",
        type=float,
        default=10.0,
        help="neutral-mass window and library precursor tolerance (default 10)",
    )
    p.add_argument("--formula", help="keep only candidates of this formula")
    p.add_argument("--source", action="append", help="keep candidates from this source (repeat)")
    p.add_argument(
        "--weight", action="append", metavar="MOD=W", help="modality weight, e.g. ccs=0.5"
    )
    p.add_argument("--top", type=int, default=20, help="hits per query (default 20)")
    p.add_argument("--model", help="model name (default: the active one)")
    p.add_argument(
        "--fragment-tol",
        type=float,
        default=0.02,
        metavar="DA",
        help="library matching: fragment tolerance in Da (default 0.02)",
    )
    p.add_argument(
        "--min-library-score",
        type=float,
        default=0.7,
        metavar="S",
        help="entropy similarity of a confident library match (default 0.7)",
    )
    p.add_argument(
        "--min-peaks",
        type=int,
        default=6,
        metavar="N",
        help="matched peaks of a confident library match (default 6)",
    )
    p.add_argument(
        "--library-weight",
        type=float,
        default=0.25,
        metavar="W",
        help="--ranker hand: below the thresholds, rank by model score + W x library score "
        "(default 0.25)",
    )
    p.add_argument(
        "--ranker",
        choices=("learned", "hand"),
        default="learned",
        help="learned (default): the model's ranker over all the evidence, fitted on validation "
        "windows; hand: model score + W x library score, the order before it",
    )
    p.add_argument("--no-library", action="store_true", help="rank by the model alone")
    p.add_argument(
        "--no-fragments",
        action="store_true",
        help="leave out each hit's in-silico fragment evidence (faster for large batches; "
        "the hand order then ranks)",
    )
    p.add_argument("--out", metavar="FILE", help="write all results to a .tsv, .csv or .json file")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_search)
