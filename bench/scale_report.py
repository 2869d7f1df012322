"""BENCHMARKS.md sections of the scale benchmarks: the index sweep (HNSW, IVFFlat), a structure
library from file to searchable, and library search to 1M spectra (bench.report puts them in)."""

from __future__ import annotations

from bench.common import markdown_table


def index_sweep_section(run: dict, title: str) -> list[str]:
    """One table per sweep run: a row per variant and (ef_search or probes, fetch) point."""
    rows = []
    for variant in run["rows"]:
        for point in variant["sweep"]:
            rows.append(
                [
                    variant["variant"],
                    variant["build_seconds"] if variant["build_seconds"] is not None else "-",
                    variant["size_mb"] if variant["size_mb"] is not None else "-",
                    point["ef_search"] if "ef_search" in point else "-",
                    point.get("probes", "-"),
                    point.get("fetch", "-"),
                    point["p50_ms"],
                    point["p95_ms"],
                    point["recall_at_20"],
                ]
            )
    parts = [f"### {title}", ""]
    if run.get("note"):
        parts += [run["note"], ""]
    header = ["index", "build s", "MB", "ef_search", "probes", "fetch", "p50 ms", "p95 ms"]
    header.append("recall@20")
    return [*parts, markdown_table(header, rows), ""]


def library_load_section(run: dict) -> list[str]:
    rows = [
        [
            x["compounds"],
            x["workers"],
            "yes" if x["embed"] else "no",
            x["ingest_seconds"],
            x["ingest_per_s"],
            x.get("embed_and_index_seconds", "-"),
            x["command_seconds"],
            x["file_to_searchable_per_s"] if x["embed"] else "-",
            ", ".join(x["rebuilt_indexes"]) or "-",
            x["peak_rss_mb"],
        ]
        for x in run["rows"]
    ]
    header = [
        "structures",
        "workers",
        "--embed",
        "ingest s",
        "ingest /s",
        "embed + index s",
        "command s",
        "file to searchable /s",
        "indexes rebuilt",
        "peak RSS MB",
    ]
    return [
        f"## A structure library from file to searchable ({run['machine']['date']}, "
        f"{run['cores']} cores)",
        "",
        markdown_table(header, rows),
        "",
        _moses_line(run),
        "",
    ]


def _moses_line(run: dict) -> str:
    """The 1.94M MOSES figure, measured or (older runs) extrapolated, said which."""
    if run.get("moses") == "measured":
        return f"All 1.94M MOSES structures, file to searchable: {run['moses_minutes']} min (measured)."
    minutes = run.get("moses_minutes", run.get("moses_minutes_extrapolated"))
    how = run.get("moses", run.get("extrapolation"))
    return f"1.94M MOSES structures at the measured rate: {minutes} min (**{how}**)."


def library_scale_section(run: dict) -> list[str]:
    rows = [
        [
            x["spectra"],
            x["build_seconds"],
            x["peak_rss_growth_mb"],
            x["search_ms"]["mean"],
            x["search_ms"]["p50"],
            x["search_ms"]["p95"],
            x["ms_entropy_ms"]["mean"],
            x["ms_entropy_ms"]["p95"],
            f"{x['p95_ratio']}x",
        ]
        for x in run["rows"]
    ]
    header = [
        "spectra",
        "build s",
        "RSS growth MB",
        "search mean ms",
        "search p50 ms",
        "search p95 ms",
        "ms_entropy mean ms",
        "ms_entropy p95 ms",
        "p95 ratio",
    ]
    return [
        f"## Spectral library search to 1M spectra ({run['machine']['date']}, "
        f"{run['queries']} queries, {run['ppm']} ppm)",
        "",
        f"The first row is the {run['real_spectra']} real MassBank spectra; beyond them, "
        f"replicas: {run['replicas']}. A search is the product's: identity and analogue "
        "matches in one compiled pass, ranked. The baseline, on the same index and queries: "
        "ms_entropy's own identity search (matched peaks counted), then its hybrid search "
        "(scores only, not ranked).",
        "",
        markdown_table(header, rows),
        "",
    ]
