"""Plant each known-plausible bug in molvis_search() and molvis_ccs_fits() (the SQL of the
newest migration that writes them whole), run the search tests against it, and report which
mutants survive.
mutmut mutates Python only; the ranking itself lives in SQL, so its mutants are listed here.

Run: python -m tests.mutation.sql_mutants (make mutate runs it). Exit 1 if any survives."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
MIGRATION = REPO / "migrations" / "versions" / "0012_ccs_prediction.py"
TESTS = ["tests/registry/test_search.py", "tests/registry/test_ccs_prediction.py"]

# name -> (text in the function, what the bug puts there)
MUTANTS = {
    "LIMIT k removed": ("ORDER BY r.pos LIMIT k;", "ORDER BY r.pos;"),
    "filtered path: ppm window 10x wider": (
        "neutral_mass * (1 - ppm * 1e-6) AND neutral_mass * (1 + ppm * 1e-6)",
        "neutral_mass * (1 - ppm * 1e-5) AND neutral_mass * (1 + ppm * 1e-5)",
    ),
    "fused score not divided by the weight sum": (
        "SELECT sum(t.wt * (1 - (e.embedding <=> t.q))) / sum(t.wt) AS fused",
        "SELECT sum(t.wt * (1 - (e.embedding <=> t.q))) AS fused",
    ),
    "model ranking reversed": (
        "coalesce(g.fused, 0) + library_weight * coalesce(g.lscore, 0) DESC,",
        "coalesce(g.fused, 0) + library_weight * coalesce(g.lscore, 0) ASC,",
    ),
    "open path: HNSW query vector ignores the weights": (
        "sum(q * array_fill(wt::real, ARRAY[vector_dims(q)])::vector)",
        "sum(q)",
    ),
    "open path: library-matched compounds not added": (
        "cand_ids := cand_ids || ARRAY(\n            SELECT c.id FROM compound c\n            WHERE left",
        "cand_ids := cand_ids || ARRAY(\n            SELECT c.id FROM compound c\n            WHERE false AND left",
    ),
    "CCS filter: tolerance ignored": (
        "AND abs(v.ccs - query_ccs) <= query_ccs * tolerance_pct / 100)",
        "AND TRUE)",
    ),
    "CCS filter: predicted values ignored": (
        "ELSE coalesce((SELECT abs(p.ccs - query_ccs)",
        "ELSE true OR coalesce((SELECT abs(p.ccs - query_ccs)",
    ),
    "CCS filter: a prediction beats a measurement": (
        "WHEN EXISTS (SELECT 1 FROM ccs_value v WHERE v.compound_id = cid",
        "WHEN false AND EXISTS (SELECT 1 FROM ccs_value v WHERE v.compound_id = cid",
    ),
    "CCS filter: the predictor's own tolerance ignored": (
        "greatest(ccs_tolerance_pct, p.tolerance_pct)",
        "ccs_tolerance_pct",
    ),
    "formula filter dropped": (
        "neutral_mass * (1 + ppm * 1e-6))\n              AND (formula IS NULL OR c.formula = formula)",
        "neutral_mass * (1 + ppm * 1e-6))",
    ),
    "confident match: matched peaks ignored": ("lib.lpeaks >= library_min_peaks", "TRUE"),
    "confident matches not ranked first": (
        "CASE WHEN g.confident THEN g.lscore END DESC NULLS LAST",
        "CASE WHEN g.confident THEN g.lscore END DESC NULLS FIRST",
    ),
    "library weight ignored below the thresholds": ("+ library_weight * coalesce(g.lscore, 0)", ""),
    "library-matched compounds outside the window dropped": (
        "IF neutral_mass IS NOT NULL AND library_keys IS NOT NULL THEN",
        "IF false THEN",
    ),
    "stereo variants not folded into one hit": (
        "SELECT DISTINCT ON (scored.sk) scored.*,",
        "SELECT scored.*,",
    ),
}


def run_tests() -> bool:
    """True when the search tests pass (the mutant survives)."""
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *TESTS],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    return result.returncode == 0


def main() -> int:
    original = MIGRATION.read_text()
    if not run_tests():
        print("the search tests fail on the unmutated function: fix them first")
        return 1
    survivors = []
    try:
        for name, (before, after) in MUTANTS.items():
            if original.count(before) != 1:
                print(f"cannot plant {name!r}: its text is not in the function once")
                return 1
            MIGRATION.write_text(original.replace(before, after))
            survived = run_tests()
            print(f"{'SURVIVED' if survived else 'killed  '}  {name}", flush=True)
            if survived:
                survivors.append(name)
    finally:
        MIGRATION.write_text(original)
    print(f"{len(MUTANTS) - len(survivors)} of {len(MUTANTS)} SQL mutants killed")
    return 1 if survivors else 0


if __name__ == "__main__":
    sys.exit(main())
