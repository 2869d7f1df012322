"""One unknown's MS/MS spectrum searched over a window of ~1,000 candidate structures (the
ranking issue's target: p95 <= 2 s a search), through the product's own search (`run_query`,
what `molvis search` and the page run for each query), warm, on this machine.

The registry: a scratch database on the configured server (and a scratch MOLVIS_HOME for its
library index) holding, for each query,
the `--window` MOSES test structures nearest its neutral mass and its own structure, ingested by
`molvis ingest structures --embed` (the shipped structure model). No MS/MS spectra are stored,
so no library holds a query's compound: the case the learned ranking exists for. Queries:
MassBank [M+H]+ spectra of test-split skeletons, spread over the mass range. Each query is
searched at the narrowest ppm window that holds its nearest candidates (the window's size in the
registry is counted and reported; the pool of 176k structures needs up to MAX_PPM for the
windows a 120M-structure library fills at 10 ppm). Timed per query: the default search (the learned ranker over
the fragment evidence of the hand order's first 100) and, as the baseline in the same run, the
hand order without fragment evidence.

Run: python -m bench.window_search [--queries 40] [--window 1000] [--library N] [--spectra N]"""

from __future__ import annotations

import argparse
import csv
import gzip
import itertools
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
from rdkit import Chem, RDLogger
from rdkit.Chem.Descriptors import ExactMolWt
from tqdm import tqdm

from bench.common import (
    SHARED,
    latency_stats,
    markdown_table,
    massbank_records,
    peak_rss_mb,
    scratch_database,
    write_result,
)
from models.data import SPLIT_SEED, split_of
from registry.db.connection import get_engine

MOLVIS = [sys.executable, "-m", "molvis"]
MAX_PPM = 200.0  # widest window searched: the MOSES test set is ~1 % of a real candidate library


def candidate_pool(limit: int | None = None) -> tuple[np.ndarray, list[str]]:
    """MOSES test structures (SMILES; the first `limit`) sorted by neutral monoisotopic mass."""
    RDLogger.DisableLog("rdApp.*")
    masses, smiles = [], []
    with gzip.open(SHARED / "library" / "test.csv.gz", "rt") as handle:
        for row in itertools.islice(csv.DictReader(handle), limit):
            mol = Chem.MolFromSmiles(row["SMILES"])
            if mol is not None:
                masses.append(ExactMolWt(mol))
                smiles.append(row["SMILES"])
    order = np.argsort(masses)
    return np.asarray(masses)[order], [smiles[i] for i in order]


def pick_queries(n: int, masses: np.ndarray, window: int, spectra: int) -> list:
    """n MassBank [M+H]+ test-split spectra, one per mass slice of the range where the
    `window` nearest candidates lie within MAX_PPM (the pool is sparse at its ends)."""
    dense = [m for m in masses[::50] if window_ppm(masses, m, window) <= MAX_PPM]
    edges = np.linspace(min(dense), max(dense), n + 1)
    picked: dict[int, object] = {}
    for record, mol in itertools.islice(massbank_records(), spectra):
        if record.adduct != "[M+H]+" or split_of(Chem.MolToInchiKey(mol), SPLIT_SEED) != "test":
            continue
        mass = ExactMolWt(mol)
        slot = int(np.searchsorted(edges, mass)) - 1
        if 0 <= slot < n and slot not in picked and window_ppm(masses, mass, window) <= MAX_PPM:
            picked[slot] = record
    return [picked[k] for k in sorted(picked)]


def nearest(masses: np.ndarray, mass: float, k: int) -> np.ndarray:
    """Positions of the k candidates nearest `mass`."""
    at = int(np.searchsorted(masses, mass))
    lo, hi = max(0, at - k), min(len(masses), at + k)
    return lo + np.argsort(np.abs(masses[lo:hi] - mass), kind="stable")[:k]


def window_ppm(masses: np.ndarray, mass: float, k: int) -> float:
    """The narrowest window around `mass` (ppm) that holds its k nearest candidates."""
    return float(np.abs(masses[nearest(masses, mass, k)] - mass).max() / mass * 1e6) * 1.0001


def build_registry(queries: list, masses: np.ndarray, smiles: list[str], window: int) -> list:
    """Ingest each query's nearest candidates and its own structure; (query, ppm) pairs."""
    from molvis.workflows.query import Query

    chosen: set[int] = set()
    searched = []
    for record in queries:
        query = Query(
            record.record_id or "query",
            msms=record,
            precursor_mz=record.precursor_mz,
            adduct=record.adduct,
        )
        mass = query.neutral_mass
        chosen.update(nearest(masses, mass, window).tolist())
        searched.append((query, window_ppm(masses, mass, window)))
    with tempfile.NamedTemporaryFile("w", suffix=".smi", delete=False) as out:
        out.write("smiles\tname\n")
        for i in sorted(chosen):
            out.write(f"{smiles[i]}\tmoses-{i}\n")
        for record, _ in zip(queries, searched, strict=True):
            out.write(f"{record.structure.text}\t{record.record_id}\n")
    subprocess.run(
        [*MOLVIS, "ingest", "structures", out.name, "--source", "bench-window", "--embed"],
        check=True,
    )
    os.unlink(out.name)
    return searched


def window_sizes(searched: list) -> list[int]:
    from sqlalchemy import text

    with get_engine().connect() as conn:
        return [
            conn.execute(
                text(
                    "SELECT count(*) FROM compound WHERE monoisotopic_mass "
                    "BETWEEN :m - :m * :ppm * 1e-6 AND :m + :m * :ppm * 1e-6"
                ),
                {"m": q.neutral_mass, "ppm": ppm},
            ).scalar_one()
            for q, ppm in searched
        ]


def time_searches(searched: list, options) -> tuple[list[float], list[str]]:
    """Per query: seconds of `run_query` (one warm-up query first) and the ranking used."""
    from molvis.workflows.library_match import Library
    from molvis.workflows.model_loading import load_model
    from molvis.workflows.search import run_query
    from registry.db.connection import session_scope
    from registry.db.settings import load_settings

    loaded = load_model(get_engine(), None)
    seconds, ranked_by = [], []
    with session_scope(get_engine()) as session:
        library = Library(session, load_settings().home, options.library)
        query, ppm = searched[0]
        run_query(session, loaded, query, replace(options, ppm=ppm), library)
        for query, ppm in tqdm(searched, desc="search", unit=" queries"):
            started = time.perf_counter()
            found = run_query(session, loaded, query, replace(options, ppm=ppm), library)
            seconds.append(time.perf_counter() - started)
            ranked_by.append(found.annotations[0]["ranked_by"] if found.annotations else "")
    return seconds, ranked_by


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--queries", type=int, default=40)
    parser.add_argument("--window", type=int, default=1000)
    parser.add_argument("--library", type=int, help="read only the first N MOSES structures")
    parser.add_argument("--spectra", type=int, default=60_000, help="MassBank records read")
    parser.add_argument("--output", type=Path)
    args = parser.parse_args(argv)
    from molvis.workflows.search import SearchOptions

    masses, smiles = candidate_pool(args.library)
    queries = pick_queries(args.queries, masses, args.window, args.spectra)
    with tempfile.TemporaryDirectory() as home, scratch_database() as engine:
        os.environ["MOLVIS_HOME"] = home  # the library index and models of this registry
        os.environ["MOLVIS_DATABASE_URL"] = engine.url.render_as_string(hide_password=False)
        started = time.perf_counter()
        searched = build_registry(queries, masses, smiles, args.window)
        load_seconds = time.perf_counter() - started
        sizes = window_sizes(searched)
        default = SearchOptions()
        runs = {
            "hand order, no fragment evidence (baseline)": replace(
                default, ranker="hand", fragments=False
            ),
            "default: learned ranker over fragment evidence": default,
        }
        results = {}
        for name, options in runs.items():
            seconds, ranked_by = time_searches(searched, options)
            results[name] = {
                "ms": latency_stats([1000 * s for s in seconds]),
                "ranked_by": sorted(set(ranked_by)),
            }
        get_engine().dispose()  # before the scratch database is dropped
    baseline, full = (r["ms"]["p95"] for r in results.values())
    write_result(
        "window_search",
        {
            "queries": len(searched),
            "window": args.window,
            "candidates": {"min": min(sizes), "median": int(np.median(sizes)), "max": max(sizes)},
            "ppm": latency_stats([ppm for _, ppm in searched]),
            "ingest_and_embed_seconds": round(load_seconds, 1),
            "runs": results,
            "p95_over_baseline": round(full / baseline, 2),
            "peak_rss_mb": round(peak_rss_mb(), 1),
        },
        args.output,
    )


def window_search_section(r: dict) -> list[str]:
    """The BENCHMARKS.md section of this benchmark."""
    c = r["candidates"]
    return [
        f"## One spectrum over a 1,000-candidate window ({r['machine']['date']}, "
        f"{r['machine']['cpus']} cores)",
        "",
        f"`python -m bench.window_search --window {r['window']}`: "
        f"{r['queries']} MassBank [M+H]+ spectra of test-split skeletons, each searched over "
        f"the MOSES test structures nearest its mass and its own structure (windows of "
        f"{c['min']:,}-{c['max']:,} candidates, median {c['median']:,}; no library spectra), "
        "through the product's search of one query, warm:",
        "",
        markdown_table(
            ["search", "mean ms", "p50 ms", "p95 ms", "ranked by"],
            [
                [
                    name,
                    *(f"{x['ms'][k]:,.0f}" for k in ("mean", "p50", "p95")),
                    ", ".join(x["ranked_by"]),
                ]
                for name, x in r["runs"].items()
            ],
        ),
        "",
        f"p95 of the default / the baseline: {r['p95_over_baseline']}x; peak RSS "
        f"{r['peak_rss_mb']:,} MB.",
        "",
    ]


if __name__ == "__main__":
    main()
