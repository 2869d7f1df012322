"""Render BENCHMARKS.md from the JSON results in bench/results/ (run after `make bench`)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from bench.ccs import ccs_section
from bench.common import RESULTS, markdown_table
from bench.device import device_section
from bench.forward_model import forward_model_section
from bench.fragments import fragments_section
from bench.identification_report import identification_section
from bench.ranker import ranker_section
from bench.run_search import run_search_section
from bench.scale_report import (
    index_sweep_section,
    library_load_section,
    library_scale_section,
)
from bench.window_search import window_search_section
from molvis.cli.models import SET_RATES

ROOT = Path(__file__).resolve().parent.parent


def _load(results: Path, name: str) -> dict | None:
    path = results / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def render(notes: str, results: Path = RESULTS) -> str:
    parts = [
        "# Benchmarks",
        "",
        "Rendered by `python -m bench.report` from `bench/results/*.json`"
        " (written by `make bench`; each script alone: `python -m bench.NAME --help`).",
        "",
    ]
    if notes:
        parts += [notes, ""]
    if r := _load(results, "ingest"):
        parts += [
            f"## Ingestion ({r['machine']['date']}, {r['machine']['cpus']} cores, "
            f"n = {r['n']} per format)",
            "",
            markdown_table(
                [
                    "format",
                    "workers",
                    "records",
                    "parse/s",
                    "parse+RDKit/s",
                    "end-to-end/s",
                    "end-to-end vs parse",
                    "vs parse+RDKit",
                ],
                [
                    [
                        x["format"],
                        f"{x.get('workers', 0)}"
                        + (" (auto)" if x.get("workers_asked") == "auto" else ""),
                        x["records"],
                        x["parse_per_s"],
                        x["parse_normalize_per_s"],
                        x["end_to_end_per_s"],
                        x["end_to_end_vs_parse"],
                        x["end_to_end_vs_parse_normalize"],
                    ]
                    for x in r["rows"]
                ],
            ),
            "",
        ]
    if r := _load(results, "fingerprints"):
        parts += [
            "## Fingerprints",
            "",
            markdown_table(
                ["molecules", "RDKit bare/s", "ours incl. write/s", "ours vs bare (time)"],
                [
                    [
                        r["molecules"],
                        r["rdkit_bare_per_s"],
                        r["ours_with_write_per_s"],
                        r["ours_vs_bare"],
                    ]
                ],
            ),
            "",
        ]
    if r := _load(results, "embed"):
        parts += [
            "## Structure-embedding backfill (shipped model)",
            "",
            markdown_table(
                [
                    "compounds",
                    "batch",
                    "featurisation processes",
                    "device",
                    "molecules/s",
                    "peak RSS MB (main)",
                    "peak RSS MB (a worker)",
                ],
                [
                    [
                        x["n"],
                        x["batch_size"],
                        x.get("workers", 0),
                        x["device"],
                        x["per_s"],
                        x["peak_rss_mb"],
                        x.get("worker_peak_rss_mb") or "-",
                    ]
                    for x in r["rows"]
                ],
            ),
            "",
        ]
    if r := _load(results, "query"):
        parts += [
            f"## Query latency ({r['vectors']}; {r['rows'][0]['queries']} queries)",
            "",
            markdown_table(
                [
                    "compounds",
                    "mass window, first pass p50/p95 ms (mean candidates)",
                    "warm: shipped / previous function p95 ms",
                    "Tanimoto HNSW p50/p95 ms",
                    "Tanimoto recall@20 (ef_search)",
                    "NumPy brute force p50/p95 ms",
                    "load s",
                    "structure index build s",
                    "structure index MB",
                    "fingerprint HNSW build s",
                    "tables + indexes MB",
                ],
                [
                    [
                        x["compounds"],
                        f"{x['mass_window']['p50_ms']} / {x['mass_window']['p95_ms']} "
                        f"({x['mass_window']['mean_candidates']})",
                        f"{x['mass_window_warm']['shipped']['p95_ms']} / "
                        f"{x['mass_window_warm']['baseline']['p95_ms']}"
                        if "mass_window_warm" in x
                        else "-",
                        f"{x['tanimoto_hnsw']['p50_ms']} / {x['tanimoto_hnsw']['p95_ms']}",
                        f"{x['tanimoto_hnsw']['recall_at_20']} ({x['tanimoto_hnsw']['ef_search']})",
                        f"{x['numpy_brute_force']['p50_ms']} / {x['numpy_brute_force']['p95_ms']}",
                        x["load_seconds"],
                        x["structure_index_build_seconds"],
                        x["structure_index_mb"],
                        x["fingerprint_hnsw_build_seconds"],
                        x.get("disk_mb", {}).get("total", "-"),
                    ]
                    for x in r["rows"]
                ],
            ),
            "",
            "Open query (`molvis_search`, no filter, k = 20; IVFFlat) by `molvis.probes`;"
            " recall@20 against the exact NumPy ranking of the same vectors, ties at the cut"
            " counted as found:",
            "",
            markdown_table(
                ["compounds", "probes", "p50 ms", "p95 ms", "recall@20"],
                [
                    [x["compounds"], y["probes"], y["p50_ms"], y["p95_ms"], y["recall_at_20"]]
                    for x in r["rows"]
                    for y in x["open_query"]
                ],
            ),
            "",
        ]
    if r := _load(results, "query_window"):
        parts += [
            "Mass window, warm (`bench.query --window-only`): a warm-up pass over the same "
            "windows, then alternating rounds of the shipped function and the previous one "
            f"(`{r['rows'][0]['baseline']['function']}`, on the same tables and indexes):",
            "",
            markdown_table(
                ["compounds", "shipped p50 / p95 ms", "previous p50 / p95 ms", "p95 ratio"],
                [
                    [
                        x["compounds"],
                        f"{x['shipped']['p50_ms']} / {x['shipped']['p95_ms']}",
                        f"{x['baseline']['p50_ms']} / {x['baseline']['p95_ms']}",
                        x["p95_ratio"],
                    ]
                    for x in r["rows"]
                ],
            ),
            "",
        ]
    if r := _load(results, "index_sweep"):
        parts += ["## Index sweep at 1M compounds (HNSW, IVFFlat)", ""]
        parts += index_sweep_section(r, "shared_buffers sized to the machine (4 GB)")
        if before := _load(results, "index_sweep_128mb"):
            parts += index_sweep_section(before, "shared_buffers 128 MB (initdb's)")
        if lists := _load(results, "index_sweep_ivf_lists"):
            parts += index_sweep_section(lists, "IVFFlat lists (migration 0016: rows / 500)")
    for name in ("library_load", "library_load_moses"):  # the 100k A/B; the latest 1.94M run
        if r := _load(results, name):
            parts += library_load_section(r)
    if r := _load(results, "library_scale"):
        parts += library_scale_section(r)
    if r := _load(results, "accuracy"):
        rows = [
            [
                x["query"] + (" (spectrum-blind)" if x.get("control") else ""),
                x["candidate_set"],
                x["n_queries"],
                round(x["mean_candidates"], 1),
                *(
                    f"{100 * x[k]:.1f}"
                    for k in ("top1", "top5", "top10", "top20", "random_top1", "random_top20")
                ),
            ]
            for x in r["results"] + r["controls"]
        ]
        parts += [
            f"## Retrieval accuracy ({r['model']} {r['version']}, {r['ppm']} ppm)",
            "",
            markdown_table(
                [
                    "query",
                    "candidates",
                    "n",
                    "mean cand.",
                    "top1 %",
                    "top5 %",
                    "top10 %",
                    "top20 %",
                    "random top1 %",
                    "random top20 %",
                ],
                rows,
            ),
            "",
            f"The report's top-5: {100 * r['report_top5']:.3f} %.",
            "",
        ]
        if r.get("candidate_sets"):
            sim = r.get("test_to_train_similarity") or {}
            parts += [
                "### Candidate sets beside random and the structure prior",
                "",
                "Hits on the first InChIKey block. `prior`: the analytic measured-first ranking "
                "(measured candidates above library ones, random among themselves).",
                "",
                markdown_table(
                    [
                        "query",
                        "set",
                        "n",
                        "mean cand.",
                        "truth in %",
                        "top1 %",
                        "top5 %",
                        "top20 %",
                        "random top1 %",
                        "random top5 %",
                        "prior top1 %",
                        "prior top5 %",
                    ],
                    [
                        [
                            x["query"] + (" (spectrum-blind)" if x.get("control") else ""),
                            x["candidate_set"],
                            x["n_queries"],
                            round(x["mean_candidates"], 1),
                            *(f"{100 * x[k]:.1f}" for k in SET_RATES),
                        ]
                        for x in r["candidate_sets"]
                    ],
                ),
                "",
            ]
            if sim:
                parts += [
                    f"Test compounds' Tanimoto to their nearest training compound (Morgan r2): "
                    f"median {sim['p50']}, p10 {sim['p10']}, p90 {sim['p90']}; "
                    f"{100 * sim['fraction_at_least_0.7']:.0f} % at >= 0.7, "
                    f"{100 * sim['fraction_below_0.4']:.0f} % below 0.4.",
                    "",
                ]
    if r := _load(results, "library"):
        x, b = r["search"], r["batch"]
        parts += [
            f"## Spectral library search ({r['machine']['date']}, {x['spectra_indexed']} "
            f"indexed spectra, {x['queries']} queries)",
            "",
            markdown_table(
                ["method", "mean ms", "p50 ms", "p95 ms"],
                [
                    [name, v["mean"], v["p50"], v["p95"]]
                    for name, v in (
                        (
                            "flash entropy library search (identity and hybrid analogue "
                            "matches, one pass)",
                            x["flash_search_ms"],
                        ),
                        (
                            f"matchms CosineGreedy, identity-window pairs "
                            f"({x['mean_window_pairs']} per query)",
                            x["matchms_cosine_greedy_ms"],
                        ),
                    )
                ],
            ),
            "",
            f"CosineGreedy (identity window only) / flash search: "
            f"{x['cosine_over_flash_search']}x; the best "
            f"spectrum of both is of one compound for {100 * x['top1_same_compound_as_cosine']:.1f}"
            f" % of the queries; index build {x['index_build_seconds']} s. Batch: "
            f"{b['queries']} spectra through `molvis search --out` in {b['seconds']} s "
            f"({b['ms_per_query']} ms per query, model load included).",
            "",
        ]
    for name, plot in (
        ("calibration_open_world", "docs/calibration.png"),
        ("calibration_open_world_learned", "docs/calibration_learned.png"),
    ):
        if r := _load(results, name):
            parts += identification_section(r, name, plot)
    if r := _load(results, "fragments"):
        parts += fragments_section(r)
    if r := _load(results, "forward_model"):
        parts += forward_model_section(r)
    if r := _load(results, "ranker"):
        parts += ranker_section(r)
    if r := _load(results, "window_search"):
        parts += window_search_section(r)
    if r := _load(results, "run_search"):
        parts += run_search_section(r)
    if r := _load(results, "ccs"):
        parts += ccs_section(r)
    if r := _load(results, "device_h200"):
        parts += device_section(r, _load(results, "device_cpu"))
    return "\n".join(parts)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--notes", type=Path, help="markdown to put under the title")
    args = parser.parse_args(argv)
    notes = args.notes.read_text() if args.notes else ""
    (ROOT / "BENCHMARKS.md").write_text(render(notes))


if __name__ == "__main__":
    main()
