"""`molvis search`: parse the unknown's measurements, embed them with the model, rank in SQL."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from registry.adducts import UnknownAdductError, normalize_adduct, parse_adduct
from registry.db import get_engine, session_scope
from registry.parsers import ParseError
from registry.records import IrRecord, MsmsRecord

DEFAULT_ADDUCT = {"positive": "[M+H]+", "negative": "[M-H]-"}


@dataclass
class Query:
    """One unknown: its title, measurements and the filters they imply."""

    title: str
    msms: MsmsRecord | None = None
    ir: IrRecord | None = None
    ccs: float | None = None
    ccs_adduct: str | None = None
    precursor_mz: float | None = None
    adduct: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def neutral_mass(self) -> float | None:
        if self.precursor_mz is None or not self.adduct:
            return None
        return parse_adduct(self.adduct).neutral_mass(self.precursor_mz)


def read_msms_queries(path: Path) -> tuple[list[MsmsRecord], list[str]]:
    """Query spectra of an MGF/MSP/MassBank file (no structure needed) and one-line problems."""
    from registry.parsers.msms import parse_msms
    from registry.sources import iter_members

    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    records, problems = [], []
    for member in iter_members(path):
        for parsed in parse_msms(member, require_structure=False):
            if parsed.record is None:
                problems.append(f"{parsed.location}: {parsed.reason}")
            else:
                records.append(parsed.record)
    return records, problems


def read_ir_query(path: Path) -> IrRecord:
    from registry.parsers.ir import parse_jcamp
    from registry.sources import iter_members

    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    for member in iter_members(path):
        for parsed in parse_jcamp(member, require_structure=False):
            if parsed.record is None:
                raise ParseError(parsed.location, parsed.reason or "unreadable IR spectrum")
            return parsed.record
    raise ParseError(str(path), "no IR spectrum")


def build_queries(args: argparse.Namespace) -> tuple[list[Query], list[str]]:
    """One query per MS/MS spectrum (batch search), else a single query from IR/CCS/mass."""
    problems: list[str] = []
    adduct = normalize_adduct(args.adduct) if args.adduct else None
    if args.adduct and adduct is None:
        raise ValueError(f"unknown adduct {args.adduct!r} (e.g. [M+H]+, [M-H]-, [M+Na]+)")
    ccs_adduct = normalize_adduct(args.ccs_adduct) if args.ccs_adduct else None
    if args.ccs is not None and not ccs_adduct:
        raise ValueError("--ccs needs --ccs-adduct (the ion whose CCS was measured)")
    ir = read_ir_query(Path(args.ir)) if args.ir else None
    spectra: list[MsmsRecord | None] = [None]
    if args.msms:
        spectra, problems = read_msms_queries(Path(args.msms))
        if not spectra:
            raise ValueError(f"{args.msms}: no usable spectrum ({'; '.join(problems[:3])})")
    queries = []
    for n, spectrum in enumerate(spectra, start=1):
        title = (
            spectrum.record_id
            if spectrum and spectrum.record_id
            else f"{Path(args.msms).name}#{n}"
            if spectrum
            else "query"
        )
        q = Query(title, msms=spectrum, ir=ir, ccs=args.ccs, ccs_adduct=ccs_adduct)
        q.precursor_mz = args.precursor_mz or (spectrum.precursor_mz if spectrum else None)
        q.adduct = adduct or (spectrum.adduct if spectrum else None) or ccs_adduct
        if q.adduct:
            try:
                parse_adduct(q.adduct)
            except UnknownAdductError:
                q.notes.append(f"adduct {q.adduct!r} unknown: no mass window")
                q.adduct = None
        if q.precursor_mz and not q.adduct and spectrum and spectrum.ion_mode in DEFAULT_ADDUCT:
            q.adduct = DEFAULT_ADDUCT[spectrum.ion_mode]
            q.notes.append(f"no adduct given: assumed {q.adduct}")
        if spectrum is not None and spectrum.precursor_mz is None:
            spectrum.precursor_mz = q.precursor_mz
        queries.append(q)
    if not any(q.msms or q.ir or q.ccs is not None for q in queries):
        raise ValueError("give a measurement to search with: --msms, --ir or --ccs")
    return queries, problems


def run_search(args: argparse.Namespace) -> list[dict]:
    from assets.jobs import load_model
    from models.query import ccs_vector, ir_vector, msms_vector
    from registry.search import SearchRequest, search

    queries, problems = build_queries(args)
    for problem in problems:
        print(f"molvis: skipped {problem}", file=sys.stderr)
    info, model, _, device = load_model(args.model)
    weights = _weights(args.weight)
    results = []
    with session_scope(get_engine()) as session:
        for q in queries:
            vectors: dict[str, np.ndarray] = {}
            if q.msms is not None:
                vectors["msms"] = msms_vector(model, q.msms, device)
            if q.ir is not None:
                vectors["ir"] = ir_vector(model, q.ir, device)
            if q.ccs is not None:
                ion_mz = q.precursor_mz if q.adduct == q.ccs_adduct else None
                vectors["ccs"] = ccs_vector(model, q.ccs, ion_mz, q.ccs_adduct, device)
            request = SearchRequest(
                vectors=vectors,
                weights=weights,
                neutral_mass=q.neutral_mass,
                ppm=args.ppm,
                formula=args.formula,
                ccs=q.ccs,
                ccs_adduct=q.ccs_adduct,
                sources=args.source or None,
                k=args.top,
                model=info.name,
            )
            result = search(session, request, q.title).as_dict()
            result["model"] = info.name
            result["neutral_mass"] = q.neutral_mass
            result["notes"] = q.notes
            results.append(result)
    return results


def _weights(items: list[str] | None) -> dict[str, float]:
    weights = {}
    for item in items or []:
        name, sep, value = item.partition("=")
        if not sep or name not in ("msms", "ir", "ccs"):
            raise ValueError(f"--weight {item!r} is not msms=W, ir=W or ccs=W")
        weights[name] = float(value)
    return weights


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


def add_parser(sub) -> None:
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
