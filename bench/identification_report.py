"""The BENCHMARKS.md section of `molvis evaluate --library`: identification with the library
beside its random expectation, and the open-world calibration (bench.report puts it in)."""

from __future__ import annotations

from bench.common import markdown_table

SETS = {
    "self": "the query's own spectrum",
    "others": "other spectra of the compound (own left out)",
    "none": "no spectrum of the compound",
    "model": "model alone (no library)",
}


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f} %"


def identification_section(r: dict, name: str, plot: str) -> list[str]:
    """The section of one `molvis evaluate --library` run (`name`: its results file) in the
    order it searched (`ranker`: hand unless the run says learned)."""
    cal = r["calibration"]
    worlds = cal["worlds"]
    ranker = r.get("ranker") or "hand"
    return [
        f"## Identification confidence (open world, {ranker} order)",
        "",
        f"`molvis evaluate --model {r['model']} --library --library-queries {r['queries']} "
        f"--coverage {cal['coverage']:g} --ranker {ranker}` on "
        f"{r.get('registry', 'the `make demo` registry')}, {r['ppm']:g} ppm, "
        f"{r['queries']} test-split spectra (`bench/results/{name}.json`; the "
        f"calibration fitted on {cal['fitted_on']['queries']} validation-split spectra searched "
        f"in the same order).",
        "",
        markdown_table(
            ["library holds", "n", "top-1", "top-5", "top-20", "random top-1", "mean cand."],
            [
                [
                    SETS[x["set"]],
                    x["n"],
                    _pct(x["top1"]),
                    _pct(x["top5"]),
                    _pct(x["top20"]),
                    _pct(x["random_top1"]),
                    f"{x['mean_candidates']:.1f}",
                ]
                for x in r["rows"]
            ],
        ),
        "",
        "Each test spectrum searched twice for the calibration: its compound present (own "
        "spectrum left out) and absent (every spectrum of the compound and its structure "
        "removed); the worlds weighted by the coverage prior.",
        "",
        markdown_table(
            ["compound", "queries with a hit", "mean top-hit probability", "top hit right"],
            [
                [
                    name,
                    w["queries"],
                    f"{w['mean_top_probability']:.3f}",
                    f"{w['top_hit_rate']:.3f}",
                ]
                for name, w in (
                    ("present", worlds["present"]),
                    ("absent", worlds["absent"]),
                    ("the mix (weighted)", {**cal["mix"], "queries": "-"}),
                )
            ],
        ),
        "",
        f"Expected calibration error over the mix: {cal['ece_all_hits']:.3f} (all hits), "
        f"{cal['ece_top1']:.3f} (rank-1 hits; target <= 0.05). Reliability curve: "
        f"`{plot}`.",
        "",
        markdown_table(
            ["top-hit probability >=", "queries reported", "false discovery rate"],
            [[x["threshold"], _pct(x["reported"]), _pct(x["fdr"])] for x in cal["fdr"]]
            + [
                [
                    "level 2a (confident library match)",
                    _pct(cal["fdr_library_confident"]["reported"]),
                    _pct(cal["fdr_library_confident"]["fdr"]),
                ]
            ],
        ),
        "",
    ]
