"""Spectral library search as the library grows to 1M stored spectra: the product's flash
entropy index (registry.library.flash_index) over the real MassBank MS/MS spectra, replicated to reach
each size, queried with 1,000 real spectra (1 % intensity noise).

Replicas are not real spectra, said so beside every figure: replica r of a spectrum has its
precursor moved by a uniform offset in +-20 Da and every fragment m/z jittered by
N(0, 0.003 Da), so it stands at another precursor with real fragment statistics (peak counts,
m/z and intensity distributions), as a million-spectrum library of many compounds would.
Baselines in the same run: the real library alone (size 1x), and at every size ms_entropy's
own identity and hybrid searches on the same index (what the product's one compiled pass
replaced)."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from bench.common import SHARED, latency_stats, peak_rss_mb, timed, write_result
from registry.ingest.files import iter_members
from registry.ingest.normalize import normalize_unknown
from registry.ingest.parsers.msms import parse_msms
from registry.library.flash_index import LibraryOptions, clean_peaks, index_spectra, polarity

OFFSET_DA = 20.0
JITTER_DA = 0.003


def real_spectra(limit: int | None = None) -> list[dict]:
    """Cleaned MassBank spectra with a precursor (the first `limit`), as the index holds them."""
    spectra: list[dict] = []
    for member in iter_members(SHARED / "massbank" / "massbank_ms2.mgf.gz"):
        for parsed in parse_msms(member, require_structure=False):
            r = parsed.record and normalize_unknown(parsed.record)
            if r is None or not r.precursor_mz:
                continue
            peaks = clean_peaks(r.mz, r.intensity, r.precursor_mz)
            if len(spectra) == limit:
                return spectra
            if len(peaks):
                spectra.append(
                    {
                        "id": len(spectra) + 1,
                        "precursor_mz": float(r.precursor_mz),
                        "peaks": peaks,
                        "mode": polarity(r.ion_mode, r.adduct),
                    }
                )
    return spectra


def replicated(spectra: list[dict], size: int, seed: int) -> list[dict]:
    """The real spectra, then jittered replicas of them until `size` spectra."""
    rng = np.random.default_rng(seed)
    out = list(spectra)
    while len(out) < size:
        s = spectra[(len(out)) % len(spectra)]
        offset = float(rng.uniform(-OFFSET_DA, OFFSET_DA))
        mz = s["peaks"][:, 0] + rng.normal(0, JITTER_DA, len(s["peaks"])).astype(np.float32)
        precursor = max(s["precursor_mz"] + offset, float(mz.max()) + 2)
        peaks = clean_peaks(mz, s["peaks"][:, 1], precursor)  # re-sorted, close peaks merged
        if not len(peaks):
            continue
        out.append(
            {"id": len(out) + 1, "precursor_mz": precursor, "peaks": peaks, "mode": s["mode"]}
        )
    return out


def measure(spectra: list[dict], queries: list[dict], ppm: float) -> dict:
    """One library search per query (identity and analogue matches, one pass, ranked) and, as
    the baseline on the same index, ms_entropy's own identity search (matched peaks counted)
    followed by its hybrid search (scores only, not ranked)."""
    options = LibraryOptions()
    rss = peak_rss_mb()
    with timed() as build:
        index = index_spectra(spectra, "bench")
    tolerance = options.fragment_tolerance
    search_ms, stock_ms = [], []
    for q in queries:
        mz, peaks = q["precursor_mz"], q["peaks"]
        start = time.perf_counter()
        index.search(mz, peaks, q["mode"], ppm, options)
        search_ms.append(1000 * (time.perf_counter() - start))
        start = time.perf_counter()
        index.searcher.identity_search(
            mz, peaks, mz * ppm * 1e-6, tolerance, output_matched_peak_number=True
        )
        index.searcher.hybrid_search(mz, peaks, tolerance)
        stock_ms.append(1000 * (time.perf_counter() - start))
    row = {
        "spectra": len(spectra),
        "build_seconds": round(build["seconds"], 1),
        "peak_rss_growth_mb": round(peak_rss_mb() - rss),
        "search_ms": latency_stats(search_ms),
        "ms_entropy_ms": latency_stats(stock_ms),
        "p95_ratio": round(float(np.percentile(search_ms, 95) / np.percentile(stock_ms, 95)), 3),
    }
    print(row, flush=True)
    return row


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[250_000, 1_000_000])
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--ppm", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--limit", type=int, help="use only the first N real spectra")
    parser.add_argument("--output", type=Path)
    args = parser.parse_args(argv)
    spectra = real_spectra(args.limit)
    rng = np.random.default_rng(args.seed)
    queries = []
    for i in rng.choice(len(spectra), min(args.queries, len(spectra)), replace=False):
        s = spectra[i]
        peaks = s["peaks"].copy()
        peaks[:, 1] *= rng.normal(1.0, 0.01, len(peaks)).clip(0.5).astype(np.float32)
        queries.append({**s, "peaks": peaks / np.array([1, peaks[:, 1].sum()], np.float32)})
    rows = [measure(spectra, queries, args.ppm)]  # the baseline: the real library alone
    for size in sorted(s for s in args.sizes if s > len(spectra)):
        rows.append(measure(replicated(spectra, size, args.seed), queries, args.ppm))
    write_result(
        "library_scale",
        {
            "real_spectra": len(spectra),
            "replicas": f"precursor + U(-{OFFSET_DA}, {OFFSET_DA}) Da, fragments + "
            f"N(0, {JITTER_DA} Da): synthetic beyond the real spectra",
            "queries": len(queries),
            "ppm": args.ppm,
            "rows": rows,
        },
        args.output,
    )


if __name__ == "__main__":
    main()
