"""The library row of `molvis evaluate --library` as a table, with the calibration's checks."""

from __future__ import annotations

from typing import Any

LIBRARY_SETS = {
    "self": "library holds the query's own spectrum",
    "others": "own spectrum left out, other spectra of the compound kept",
    "none": "every spectrum of the compound left out",
    "model": "the model alone (no library)",
}


def print_library(lib: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(
        title=f"library + model on {lib['queries']} held-out MS/MS spectra (own "
        f"spectrum at library rank 1: {100 * lib['self_spectrum_rank1']:.1f}%, "
        f"{100 * lib['self_spectrum_rank1_indexed']:.1f}% of the "
        f"{100 * lib['indexed']:.1f}% the index holds)"
    )
    for col in ("set", "n", "mean cand.", "top1", "top5", "top20", "rnd top1"):
        table.add_column(col, justify="left" if col == "set" else "right")
    for r in lib["rows"]:
        table.add_row(
            f"{r['set']}: {LIBRARY_SETS[r['set']]}",
            str(r["n"]),
            f"{r['mean_candidates']:.1f}",
            *(f"{100 * r[k]:.1f}%" for k in ("top1", "top5", "top20", "random_top1")),
        )
    Console(width=150).print(table)
    cal = lib["calibration"]
    print(
        f"hit probability (open world, library coverage prior {cal['coverage']:g}): expected "
        f"calibration error {cal['ece_all_hits']:.3f} (all hits), {cal['ece_top1']:.3f} "
        f"(rank-1 hits); fitted on {cal['fitted_on']}"
    )
    for world, w in cal["worlds"].items():
        if w["queries"]:
            print(
                f"  compound {world}: {w['queries']} queries, mean top-hit probability "
                f"{w['mean_top_probability']:.3f}, top hit right {w['top_hit_rate']:.3f}"
            )
    for row in cal["fdr"]:
        fdr = "-" if row["fdr"] is None else f"{row['fdr']:.3f}"
        print(
            f"  top hits with p >= {row['threshold']:g}: {100 * row['reported']:.1f}% of "
            f"queries, false discovery rate {fdr}"
        )
