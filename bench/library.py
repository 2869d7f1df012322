"""Spectral library search: the flash entropy index over the registry's stored spectra against
matchms CosineGreedy on the same pairs, in the same process; and a batch search of N query
spectra through `molvis search --out` with the active model.

Runs on the configured registry (the `make demo` one: 76k spectra). The queries are stored
spectra with 1 % m/z-independent intensity noise and their own spectrum left out of the index
search, so each is an unknown whose compound the library may still hold."""

from __future__ import annotations

import argparse
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from matchms.similarity import CosineGreedy
from sqlalchemy import text

from bench.common import latency_stats, peak_rss_mb, timed, write_result
from registry.db.connection import get_engine, session_scope
from registry.db.settings import load_settings
from registry.library.classical import matchms_spectrum
from registry.library.flash_index import LibraryOptions, build_index, clean_peaks
from registry.read.measurements import read_measurements


def stored_spectra(session, n: int, seed: int) -> list:
    ids = (
        session.execute(
            text("SELECT id FROM msms_spectrum WHERE superseded_by IS NULL AND precursor_mz > 0")
        )
        .scalars()
        .all()
    )
    chosen = random.Random(seed).sample(list(ids), min(n, len(ids)))
    return read_measurements(session, "msms", "t.id = ANY(:ids)", {"ids": chosen})


def search_speed(n: int, ppm: float, seed: int) -> dict:
    """ms per query: a library search (identity and hybrid analogue matches in one pass over
    the whole index), and matchms CosineGreedy over the identity window's pairs (the stored
    spectra within ppm)."""
    options = LibraryOptions()
    with session_scope(get_engine()) as session:
        with timed() as build:
            index = build_index(session)
        queries = stored_spectra(session, n, seed)
        rng = np.random.default_rng(seed)
        prepared = []
        for q in queries:
            noisy = q.intensity * rng.normal(1.0, 0.01, q.intensity.size).clip(0.5)
            prepared.append((q, clean_peaks(q.mz, noisy, q.precursor_mz), noisy))
        lo = min(q.precursor_mz for q in queries) * (1 - 2e-5)
        stored = {
            r.measurement_id: r
            for r in read_measurements(
                session, "msms", "t.precursor_mz BETWEEN :lo AND :hi", {"lo": lo, "hi": 1e9}
            )
        }
    order = np.argsort(index.searcher.precursor_mz_array)
    sorted_mz = index.searcher.precursor_mz_array[order]
    search_ms, cosine_ms, pairs, agree = [], [], 0, 0
    scorer = CosineGreedy(tolerance=options.fragment_tolerance)
    for q, peaks, noisy in prepared:
        own = frozenset({q.measurement_id})
        start = time.perf_counter()
        matches, _ = index.search(q.precursor_mz, peaks, 0, ppm, options, own)
        search_ms.append(1000 * (time.perf_counter() - start))
        tol = q.precursor_mz * ppm * 1e-6
        a, b = np.searchsorted(sorted_mz, [q.precursor_mz - tol, q.precursor_mz + tol])
        window = [int(index.ids[i]) for i in order[a:b] if int(index.ids[i]) != q.measurement_id]
        query = matchms_spectrum(q.mz, noisy, q.precursor_mz)
        start = time.perf_counter()
        cosines = {}
        for sid in window:
            ref = stored[sid]
            cosines[sid] = float(
                scorer.pair(query, matchms_spectrum(ref.mz, ref.intensity, ref.precursor_mz))[
                    "score"
                ]
            )
        cosine_ms.append(1000 * (time.perf_counter() - start))
        pairs += len(window)
        if matches and cosines:  # both best spectra of one compound
            best_cosine = stored[max(cosines, key=cosines.get)].compound
            agree += best_cosine == stored[matches[0].spectrum_id].compound
    return {
        "spectra_indexed": index.spectra,
        "index_build_seconds": round(build["seconds"], 2),
        "queries": len(prepared),
        "mean_window_pairs": round(pairs / max(len(prepared), 1), 1),
        "flash_search_ms": latency_stats(search_ms),
        "matchms_cosine_greedy_ms": latency_stats(cosine_ms),
        "cosine_over_flash_search": round(np.mean(cosine_ms) / np.mean(search_ms), 1),
        "top1_same_compound_as_cosine": round(agree / max(len(prepared), 1), 3),
        "peak_rss_mb": round(peak_rss_mb()),
    }


def batch(n: int, seed: int) -> dict:
    """`molvis search --msms run.mgf --out results.tsv` over n stored spectra written as an MGF
    without structures: wall time of the whole command (model load included)."""
    with session_scope(get_engine()) as session:
        queries = stored_spectra(session, n, seed)
    lines = []
    for q in queries:
        lines += ["BEGIN IONS", f"TITLE=q{q.measurement_id}", f"PEPMASS={q.precursor_mz}"]
        lines += [f"ADDUCT={q.adduct}"] if q.adduct else []
        lines += [f"IONMODE={q.ion_mode}"] if q.ion_mode else []
        lines += [f"{m:.5f} {i:.2f}" for m, i in zip(q.mz, q.intensity, strict=True)]
        lines += ["END IONS", ""]
    with tempfile.TemporaryDirectory() as tmp:
        run = Path(tmp) / "run.mgf"
        run.write_text("\n".join(lines))
        out = Path(tmp) / "results.tsv"
        start = time.perf_counter()
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "molvis",
                "search",
                "--msms",
                str(run),
                "--out",
                str(out),
                "--json",
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        seconds = time.perf_counter() - start
    return {
        "queries": n,
        "seconds": round(seconds, 1),
        "ms_per_query": round(1000 * seconds / n, 1),
        "summary": done.stdout.strip(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--ppm", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", type=Path)
    args = parser.parse_args()
    payload = {
        "registry": str(load_settings().home),
        "search": search_speed(args.queries, args.ppm, args.seed),
        "batch": batch(args.batch, args.seed),
    }
    write_result("library", payload, args.output)


if __name__ == "__main__":
    main()
