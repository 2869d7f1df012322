"""`molvis search`: read the unknown's measurements, build queries with the shared defaults,
rank candidate structures."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from molvis.cli.common import engine


def run_search(args: argparse.Namespace) -> list[dict]:
    """The `--json` list: one result per query."""
    from molvis.workflows.model_loading import load_model
    from molvis.workflows.query import QueryFields, build_queries, read_ir_file, read_msms_file
    from molvis.workflows.search import SearchOptions, parse_weights, result_dict, run_query
    from registry.db import session_scope

    options = SearchOptions(
        ppm=args.ppm,
        formula=args.formula,
        sources=args.source or None,
        k=args.top,
        weights=parse_weights(args.weight),
    )
    if args.ccs is not None and not args.ccs_adduct:
        raise ValueError("--ccs needs --ccs-adduct (the ion whose CCS was measured)")
    spectra, problems = [], []
    if args.msms:
        spectra, problems = read_msms_file(Path(args.msms))
        if not spectra:
            raise ValueError(f"{args.msms}: no usable spectrum ({'; '.join(problems[:3])})")
    ir = read_ir_file(Path(args.ir)) if args.ir else None
    fields = QueryFields(args.precursor_mz, args.adduct, args.ccs, args.ccs_adduct)
    queries = build_queries(spectra, ir, fields, Path(args.msms).name if args.msms else "query")
    for problem in problems:
        print(f"molvis: skipped {problem}", file=sys.stderr)
    loaded = load_model(engine(), args.model)
    with session_scope(engine()) as session:
        return [result_dict(run_query(session, loaded, q, options), q, loaded) for q in queries]


def cmd_search(args: argparse.Namespace) -> int:
    results = run_search(args)
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    for result in results:
        mass = f", neutral mass {result['neutral_mass']:.5f}" if result["neutral_mass"] else ""
        print(
            f"\n{result['query']}: {result['candidates']} candidates{mass}"
            + "".join(f" ({n})" for n in result["notes"])
        )
        for hit in result["hits"]:
            parts = " ".join(f"{k}={v:.3f}" for k, v in hit["scores"].items())
            print(
                f"{hit['rank']:3d}. {hit['score']:.3f}  {hit['inchikey']}  "
                f"{(hit['name'] or '')[:40]:40s}  {parts}  {hit['smiles']}"
            )
    return 0


def add_parsers(sub) -> None:
    p = sub.add_parser("search", help="rank candidate structures for an unknown")
    p.add_argument("--msms", metavar="FILE", help="MGF/MSP/MassBank file; one search per spectrum")
    p.add_argument("--ir", metavar="FILE", help="JCAMP-DX IR spectrum")
    p.add_argument("--ccs", type=float, metavar="VALUE", help="measured CCS in A^2")
    p.add_argument("--ccs-adduct", metavar="ADDUCT", help="ion of the CCS value, e.g. [M+H]+")
    p.add_argument("--precursor-mz", type=float, metavar="MZ", help="precursor m/z (overrides)")
    p.add_argument("--adduct", metavar="ADDUCT", help="precursor adduct, e.g. [M+H]+")
    p.add_argument("--ppm", type=float, default=10.0, help="neutral-mass window (default 10)")
    p.add_argument("--formula", help="keep only candidates of this formula")
    p.add_argument("--source", action="append", help="keep candidates from this source (repeat)")
    p.add_argument(
        "--weight", action="append", metavar="MOD=W", help="modality weight, e.g. ccs=0.5"
    )
    p.add_argument("--top", type=int, default=20, help="hits per query (default 20)")
    p.add_argument("--model", help="model name (default: the active one)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_search)
