"""Plant each known-plausible bug in molvis_search(), molvis_ccs_fits(),
molvis_filter_counts() and molvis_rerank() (their newest versions' files under migrations/sql/), run every test
that reaches them, and report which mutants survive.
mutmut mutates Python only; the ranking itself lives in SQL, so its mutants are listed here.
Mutants that change only speed (the window's vectors read from outside it, or looked up one
by one) give the same answers, so no test can kill them: they are not listed.

Run: python -m tests.mutation.sql_mutants (make mutate runs it). Exit 1 if any survives."""

from __future__ import annotations

import os
import sys

from migrations.functions import SQL, versions
from tests.mutation.planting import CannotPlant, planted, tests_pass

SEARCH = SQL / "molvis_search" / f"{max(versions('molvis_search'))}.sql"
CCS_FITS = SQL / "molvis_ccs_fits" / f"{max(versions('molvis_ccs_fits'))}.sql"
COUNTS = SQL / "molvis_filter_counts" / f"{max(versions('molvis_filter_counts'))}.sql"
RERANK = SQL / "molvis_rerank" / f"{max(versions('molvis_rerank'))}.sql"
FRESH_ONLY = ("MOLVIS_TEST_DATABASE_URL", "MOLVIS_TEST_TEMPLATE_URL", "MOLVIS_DATABASE_URL")
# Every test file that runs these functions, directly, through the search
# workflow, the command line or the page; the fast ones first: pytest -x stops at the first
# failure, so a killed mutant costs little and only a survivor runs them all.
TESTS = [
    "tests/registry/test_rerank.py",
    "tests/registry/test_search.py",
    "tests/registry/test_window_layout.py",
    "tests/registry/test_ccs_prediction.py",
    "tests/registry/test_migrations.py",
    "tests/molvis/test_evidence.py",
    "tests/molvis/test_query.py",
    "tests/molvis/test_identify.py",
    "tests/molvis/test_search_cli.py",
    "tests/molvis/test_ranking.py",
    "tests/ui/test_ui.py",
]

# name -> (migration file, text in the function, what the bug puts there)
MUTANTS = {
    "LIMIT k removed": (SEARCH, "ORDER BY pos LIMIT k", "ORDER BY pos"),
    "mass window 10x wider": (
        SEARCH,
        "lo float8 := neutral_mass * (1 - ppm * 1e-6);\n    hi float8 := neutral_mass * (1 + ppm * 1e-6);",
        "lo float8 := neutral_mass * (1 - ppm * 1e-5);\n    hi float8 := neutral_mass * (1 + ppm * 1e-5);",
    ),
    "mass window: fused score not divided by the weight sum": (
        SEARCH,
        "(1 - (e.embedding <=> $4)) * $5 / $6 AS fused",
        "(1 - (e.embedding <=> $4)) * $5 AS fused",
    ),
    "looked-up candidates: fused score not divided by the weight sum": (
        SEARCH,
        "SELECT (1 - (e.embedding <=> weighted)) * weighted_norm / weight_sum\n",
        "SELECT (1 - (e.embedding <=> weighted)) * weighted_norm\n",
    ),
    "rows tied at the k-th score cut before ranking": (
        SEARCH,
        ">= cut.s - 2e-6",
        "> cut.s",
    ),
    "model ranking reversed": (
        SEARCH,
        "library_weight * coalesce(g.lscore, 0)\n                   DESC, g.key) AS pos",
        "library_weight * coalesce(g.lscore, 0)\n                   ASC, g.key) AS pos",
    ),
    "query vector ignores the weights": (
        SEARCH,
        "sum(l2_normalize(q) * array_fill(wt::real, ARRAY[vector_dims(q)])::vector)",
        "sum(l2_normalize(q))",
    ),
    "open path: library-matched compounds not added": (
        SEARCH,
        "WHERE c.id = ANY (nearest) OR left(c.inchikey, 14) = ANY (skeletons);",
        "WHERE c.id = ANY (nearest);",
    ),
    "CCS filter: tolerance ignored": (
        CCS_FITS,
        "AND abs(v.ccs - query_ccs) <= query_ccs * tolerance_pct / 100)",
        "AND TRUE)",
    ),
    "CCS filter: a measured value at the tolerance edge left out": (
        CCS_FITS,
        "abs(v.ccs - query_ccs) <= query_ccs * tolerance_pct / 100)",
        "abs(v.ccs - query_ccs) < query_ccs * tolerance_pct / 100)",
    ),
    "CCS filter: a prediction of any adduct": (
        CCS_FITS,
        "AND p.adduct = query_adduct), true)",
        "), true)",
    ),
    "CCS filter: predicted values ignored": (
        CCS_FITS,
        "ELSE coalesce((SELECT abs(p.ccs - query_ccs)",
        "ELSE true OR coalesce((SELECT abs(p.ccs - query_ccs)",
    ),
    "CCS filter: a prediction beats a measurement": (
        CCS_FITS,
        "WHEN EXISTS (SELECT 1 FROM ccs_value v WHERE v.compound_id = cid",
        "WHEN false AND EXISTS (SELECT 1 FROM ccs_value v WHERE v.compound_id = cid",
    ),
    "CCS filter: the predictor's own tolerance ignored": (
        CCS_FITS,
        "greatest(molvis_ccs_fits.tolerance_pct, r.tolerance_pct)",
        "molvis_ccs_fits.tolerance_pct",
    ),
    "CCS filter: the query's tolerance no floor for the predictor's": (
        CCS_FITS,
        "greatest(molvis_ccs_fits.tolerance_pct, r.tolerance_pct)",
        "greatest(tolerance_pct, r.tolerance_pct)",
    ),
    "CCS filter: each prediction's own interval ignored": (
        CCS_FITS,
        "predicted_tolerance_pct, p.uncertainty_pct,",
        "predicted_tolerance_pct,",
    ),
    "CCS filter: a prediction's own interval beats the tolerance given": (
        CCS_FITS,
        "predicted_tolerance_pct, p.uncertainty_pct,",
        "p.uncertainty_pct, predicted_tolerance_pct,",
    ),
    "CCS filter: the search fills in the predicted tolerance itself": (
        SEARCH,
        "SELECT p.id, ccs_predicted_tolerance_pct",
        "SELECT p.id, coalesce(ccs_predicted_tolerance_pct, greatest(ccs_tolerance_pct, p.tolerance_pct))",
    ),
    "formula filter dropped": (
        SEARCH,
        "WHERE c.monoisotopic_mass BETWEEN $1 AND $2\n              AND ($7::text IS NULL OR c.formula = $7)",
        "WHERE c.monoisotopic_mass BETWEEN $1 AND $2",
    ),
    "filtered path: formula filter dropped": (
        SEARCH,
        "WHERE ($1::text IS NULL OR c.formula = $1)",
        "WHERE true",
    ),
    "mass window: source filter dropped": (
        SEARCH,
        "AND ($7::text IS NULL OR c.formula = $7)\n              AND ($8::text[] IS NULL OR EXISTS (",
        "AND ($7::text IS NULL OR c.formula = $7)\n              AND (true OR EXISTS (",
    ),
    "confident match: matched peaks ignored": (SEARCH, "lib.lpeaks >= library_min_peaks", "TRUE"),
    "confident matches not ranked first": (
        SEARCH,
        "CASE WHEN g.confident THEN g.lscore END DESC NULLS LAST",
        "CASE WHEN g.confident THEN g.lscore END DESC NULLS FIRST",
    ),
    "library weight ignored below the thresholds": (
        SEARCH,
        "coalesce(round(g.fused::numeric, 6), 0) + library_weight * coalesce(g.lscore, 0)",
        "coalesce(round(g.fused::numeric, 6), 0)",
    ),
    "cut before ranking: a row's library bonus ignored": (
        SEARCH,
        "OR coalesce(g.fused, 0) + library_weight * coalesce(g.lscore, 0) >= cut.s - 2e-6",
        "OR coalesce(g.fused, 0) >= cut.s - 2e-6",
    ),
    "library-matched compounds outside the window dropped": (
        SEARCH,
        "IF cardinality(skeletons) > 0 THEN",
        "IF false THEN",
    ),
    "stereo variants not folded into one hit": (
        SEARCH,
        "SELECT DISTINCT ON (scored.sk) scored.*",
        "SELECT scored.*",
    ),
    "a hit listed among its own variants": (
        SEARCH,
        "JOIN scored s ON s.sk = r.sk AND s.key <> r.key",
        "JOIN scored s ON s.sk = r.sk",
    ),
    "open path: 2k rows fetched once, whatever they fold to": (
        SEARCH,
        "EXIT WHEN groups >= k OR",
        "EXIT WHEN TRUE OR",
    ),
    "open path: rows counted instead of skeletons": (
        SEARCH,
        "count(DISTINCT left(c.inchikey, 14))",
        "count(*)",
    ),
    "filter counts: the mass window ignored": (
        COUNTS,
        "ELSE 'WHERE c.monoisotopic_mass BETWEEN $8 AND $9' END)",
        "ELSE '' END)",
    ),
    "filter counts: the source filter counted before the formula's": (
        COUNTS,
        "count(*) FILTER (WHERE f_ok AND s_ok),",
        "count(*) FILTER (WHERE s_ok),",
    ),
    "filter counts: the CCS filter ignored": (
        COUNTS,
        "count(*) FILTER (WHERE f_ok AND s_ok AND c_ok)",
        "count(*) FILTER (WHERE f_ok AND s_ok)",
    ),
    "filter counts: the predictor asked for ignored": (
        COUNTS,
        "WHERE (ccs_predictor_name IS NULL AND p.is_active) OR p.name = ccs_predictor_name;",
        "WHERE p.is_active;",
    ),
    "rerank: the lead over the other candidates ignored": (
        RERANK,
        "+ v.b * coalesce(",
        "+ 0 * coalesce(",
    ),
    "rerank: a candidate's lead counted against itself": (
        RERANK,
        "ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING",
        "ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW",
    ),
    "rerank: missing evidence counted as 1": (
        RERANK,
        "coalesce(r.x, 0) AS v",
        "coalesce(r.x, 1) AS v",
    ),
    "rerank: a value's and its lead's coefficients swapped": (
        RERANK,
        "(ranker -> 'coef' ->> (4 * ev.n - 4)::int)::float8 AS a",
        "(ranker -> 'coef' ->> (4 * ev.n - 3)::int)::float8 AS a",
    ),
    "rerank: whether a value is there ignored": (
        RERANK,
        "v.a * v.v + v.c * v.present",
        "v.a * v.v + 0 * v.present",
    ),
    "rerank: a missing value counted as there": (
        RERANK,
        "CASE WHEN r.x IS NULL THEN 0 ELSE 1 END AS present",
        "CASE WHEN r.x IS NULL AND false THEN 0 ELSE 1 END AS present",
    ),
    "rerank: the presence coefficient read from the lead's place": (
        RERANK,
        "(ranker -> 'coef' ->> (4 * ev.n - 2)::int)::float8 AS c",
        "(ranker -> 'coef' ->> (4 * ev.n - 3)::int)::float8 AS c",
    ),
    "rerank: a candidate's references ignored": (
        RERANK,
        "+ v.d * v.v * v.refs",
        "+ 0 * v.v * v.refs",
    ),
    "rerank: references counted for a ranker that reads no library score": (
        RERANK,
        "CASE WHEN ranker -> 'evidence' ? 'library_score'",
        "CASE WHEN true",
    ),
    "rerank: a NaN library score counted as references": (
        RERANK,
        "AND nullif(t.lib, 'NaN'::float8) IS NOT NULL",
        "AND t.lib IS NOT NULL",
    ),
    "rerank: the references coefficient read from the presence's place": (
        RERANK,
        "(ranker -> 'coef' ->> (4 * ev.n - 1)::int)::float8 AS d",
        "(ranker -> 'coef' ->> (4 * ev.n - 2)::int)::float8 AS d",
    ),
    "rerank: the scores summed in any order": (
        RERANK,
        "sum(p.s ORDER BY p.n)",
        "sum(p.s)",
    ),
    "rerank: confident library matches not first": (
        RERANK,
        "ORDER BY sh.sure DESC,",
        "ORDER BY",
    ),
    "rerank: worst score first": (RERANK, "sh.s DESC, sh.key", "sh.s ASC, sh.key"),
    "rerank: probabilities not normalised": (RERANK, "sh.z / sum(sh.z) OVER ()", "sh.z"),
    "rerank: a score far below the best underflows": (
        RERANK,
        "exp(greatest(sc.s - max(sc.s) OVER (), -700))",
        "exp(sc.s - max(sc.s) OVER ())",
    ),
}


def run_tests() -> bool:
    """True when the search tests pass (the mutant survives). Each run migrates a new embedded
    server: a given or template database is migrated already and would keep the old text."""
    return tests_pass(TESTS, {k: v for k, v in os.environ.items() if k not in FRESH_ONLY})


def main() -> int:
    if not run_tests():
        print("the search tests fail on the unmutated functions: fix them first")
        return 1
    survivors = []
    for name, (path, before, after) in MUTANTS.items():
        try:
            with planted(path, before, after):
                survived = run_tests()
        except CannotPlant as exc:
            print(f"cannot plant {name!r}: {exc}")
            return 1
        print(f"{'SURVIVED' if survived else 'killed  '}  {name}", flush=True)
        if survived:
            survivors.append(name)
    print(f"{len(MUTANTS) - len(survivors)} of {len(MUTANTS)} SQL mutants killed")
    return 1 if survivors else 0


if __name__ == "__main__":
    sys.exit(main())
