"""How well the combinatorial fragmenter ranks candidates for spectra of compounds it has never
seen, beside the random expectation and the structure-prior control, and what scoring a window
costs.

Queries: MassBank [M+H]+ / [M-H]- spectra of test-split skeletons (the structure models' split,
`models.data.split_of`), whose precursor agrees with their own structure within the window.
Candidates: every MassBank compound (measured) and the MOSES test structures (library) within
`--ppm` of the query's neutral mass; hits on the first InChIKey block. The fragmenter has no
fitted weight (MetFrag's exponents, the issue's bond penalty), so no validation split is used.
Sets as in `molvis evaluate`: the window, its size buckets, measured compounds only, and the
truth's formula; the structure prior puts measured compounds first in random order, and
"measured first, then fragmenter" reads the spectrum within the prior's two parts (MetFrag
likewise weighs a candidate's references beside its fragments).

Run: python -m bench.fragments [--queries 300] [--depths 1 2]"""

from __future__ import annotations

import argparse
import csv
import gzip
import random
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
from rdkit import Chem, RDLogger
from rdkit.Chem.Descriptors import ExactMolWt
from rdkit.Chem.rdMolDescriptors import CalcMolFormula
from tqdm import tqdm

from bench.common import SHARED, latency_stats, markdown_table, massbank_records, write_result
from models.data import SPLIT_SEED, split_of
from registry.chem.adducts import neutral_mass
from registry.chem.explain import candidate_ions, explain

BUCKETS = ((2, 9), (10, 99), (100, None))
KS = (1, 5)


def _structure(mol: Chem.Mol) -> tuple[str, str, float, str]:
    return Chem.MolToInchiKey(mol), Chem.MolToSmiles(mol), ExactMolWt(mol), CalcMolFormula(mol)


def load_spectra(limit: int | None) -> tuple[list, dict]:
    """MassBank spectra with a structure ([M+H]+/[M-H]-) and the measured compounds by skeleton."""
    spectra, compounds = [], {}
    for record, mol in massbank_records():
        key, smiles, mass, formula = _structure(mol)
        compounds.setdefault(key[:14], (key, smiles, mass, formula, True))
        spectra.append((record, key, smiles, mass))
        if limit and len(spectra) >= limit:
            break
    return spectra, compounds


def load_library(limit: int | None, name: str = "test.csv.gz") -> dict:
    """MOSES structures of one file of the shared library (the first `limit`), by skeleton."""
    library = {}
    with gzip.open(SHARED / "library" / name, "rt") as handle:
        for n, row in enumerate(csv.DictReader(handle)):
            if limit and n >= limit:
                break
            mol = Chem.MolFromSmiles(row["SMILES"])
            if mol is not None:
                found = _structure(mol)
                library.setdefault(found[0][:14], (*found, False))
    return library


def window_of(masses: np.ndarray, mass: float, ppm: float) -> tuple[int, int]:
    tolerance = mass * ppm * 1e-6
    return (
        int(np.searchsorted(masses, mass - tolerance, "left")),
        int(np.searchsorted(masses, mass + tolerance, "right")),
    )


def rank_of(scores: np.ndarray, truth: int) -> int:
    """1 + candidates scoring above the truth + half of those tied with it (ties shared)."""
    above = int(np.sum(scores > scores[truth]))
    tied = int(np.sum(scores == scores[truth])) - 1
    return 1 + above + tied // 2


def top_k_rows(sizes: dict[str, list], ranks: dict[tuple[str, str], list[int]]) -> list[dict]:
    """Per candidate set (`sizes`: its (candidates, measured candidates) per query): the
    queries, mean candidates, the random and structure-prior top-k and each ranking's
    (`ranks`: (set, ranking) -> the truth's rank per query)."""
    rows = []
    for name, shapes in sizes.items():
        n = np.array([s for s, _ in shapes], float)
        m = np.maximum(np.array([s for _, s in shapes], float), 1)
        row = {"candidate_set": name, "n_queries": len(shapes), "mean_candidates": n.mean()}
        for k in KS:
            row[f"random_top{k}"] = float(np.mean(np.minimum(k, n) / n))
            row[f"prior_top{k}"] = float(np.mean(np.minimum(k, m) / m))
        for (set_name, ranker), found in ranks.items():
            if set_name == name:
                for k in KS:
                    row[f"{ranker} top{k}"] = float(np.mean(np.array(found) <= k))
        rows.append(row)
    return rows


def fragments_section(r: dict) -> list[str]:
    """The BENCHMARKS.md section of this benchmark (bench.report puts it in)."""

    def pct(x: float | None) -> str:
        return "-" if x is None else f"{100 * x:.1f}"

    rankers = sorted({k[: -len(" top1")] for row in r["rows"] for k in row if k.endswith(" top1")})
    rankers = [x for x in rankers if x not in ("random", "prior")]
    header = ["candidate set", "queries", "mean candidates", "random", "structure prior"]
    rows = [
        [
            row["candidate_set"],
            row["n_queries"],
            f"{row['mean_candidates']:.1f}",
            pct(row["random_top1"]),
            pct(row["prior_top1"]),
        ]
        + [pct(row.get(f"{x} top1")) for x in rankers]
        for row in r["rows"]
    ]
    timing = r["timing"]
    spent = "; ".join(
        f"{depth}: a window p50 / p95 {t['window_ms']['p50']:.0f} / {t['window_ms']['p95']:.0f} ms,"
        f" a candidate {t['per_candidate_ms']['p50']:.1f} / {t['per_candidate_ms']['p95']:.1f} ms"
        for depth, t in timing.items()
    )
    return [
        "## In-silico fragmentation (the unknown no library holds)",
        "",
        f"`python -m bench.fragments --queries {r['queries_asked']}` "
        f"(`bench/results/fragments.json`): {r['queries']} MassBank spectra of test-split "
        f"skeletons whose window holds 2+ candidates; candidates: {r['pool']['measured']:,} "
        f"MassBank compounds and {r['pool']['library']:,} MOSES test structures within "
        f"{r['ppm']:g} ppm. Top-1 accuracy, %, beside the random expectation and the structure "
        "prior (measured compounds first, a spectrum-blind ranking):",
        "",
        markdown_table(header + rankers, rows),
        "",
        f"Time to explain every candidate of a window (2 cores): {spent}.",
        "",
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--depths", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--ppm", type=float, default=10.0)
    parser.add_argument("--spectra", type=int, help="read only the first N MassBank spectra")
    parser.add_argument("--library", type=int, help="read only the first N MOSES structures")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", type=Path)
    args = parser.parse_args(argv)
    RDLogger.DisableLog("rdApp.*")
    spectra, measured = load_spectra(args.spectra)
    pool = load_library(args.library) | measured
    keys = sorted(pool, key=lambda k: pool[k][2])
    masses = np.array([pool[k][2] for k in keys])
    queries = []
    for record, key, _, mass in spectra:
        implied = neutral_mass(record.precursor_mz, record.adduct)
        if split_of(key, SPLIT_SEED) != "test" or not implied:
            continue
        if abs(implied - mass) > mass * args.ppm * 1e-6:
            continue  # the record's precursor disagrees with its own structure
        queries.append((record, key, implied))
    rng = random.Random(args.seed)
    queries = rng.sample(queries, min(args.queries, len(queries)))
    ranks: dict[tuple[str, str], list[int | None]] = defaultdict(list)
    sizes: dict[str, list[tuple[int, int]]] = defaultdict(list)
    seconds: dict[int, list[float]] = defaultdict(list)
    per_candidate: dict[int, list[float]] = defaultdict(list)
    for record, key, implied in tqdm(queries, desc="queries"):
        lo, hi = window_of(masses, implied, args.ppm)
        window = [keys[i] for i in range(lo, hi)]
        truth = window.index(key[:14]) if key[:14] in window else None
        if truth is None or len(window) < 2:
            continue
        scores = {}
        for depth in args.depths:
            candidate_ions.cache_clear()  # time the fragmentation, not the cache
            started = time.perf_counter()
            found = [
                explain(
                    pool[k][1],
                    record.adduct,
                    record.mz,
                    record.intensity,
                    record.precursor_mz,
                    depth,
                )
                for k in window
            ]
            took = time.perf_counter() - started
            seconds[depth].append(took)
            per_candidate[depth].append(took / len(window))
            scores[f"fragmenter d{depth}"] = np.array([f.score for f in found])
            scores[f"explained intensity d{depth}"] = np.array(
                [f.explained_intensity for f in found]
            )
        is_measured = np.array([pool[k][4] for k in window])
        for depth in args.depths:  # the prior's order, the fragmenter's within each part
            scores[f"measured first, then fragmenter d{depth}"] = (
                is_measured + scores[f"fragmenter d{depth}"] / 2
            )
        formula = pool[key[:14]][3]
        subsets = {"window": np.arange(len(window))}
        for b_lo, b_hi in BUCKETS:
            if len(window) >= b_lo and (b_hi is None or len(window) <= b_hi):
                subsets[f"window {b_lo}-{b_hi or ''}".rstrip("-") + ("+" if not b_hi else "")] = (
                    np.arange(len(window))
                )
        subsets["measured_only"] = np.flatnonzero(is_measured)
        subsets["same_formula"] = np.array(
            [i for i, k in enumerate(window) if pool[k][3] == formula]
        )
        for name, members in subsets.items():
            where = int(np.flatnonzero(members == truth)[0])
            sizes[name].append((len(members), int(is_measured[members].sum())))
            for ranker, values in scores.items():
                ranks[(name, ranker)].append(rank_of(values[members], where))
    if not sizes:
        raise SystemExit("no query's window held 2+ candidates: read more spectra or structures")
    rows = top_k_rows(sizes, ranks)
    timing = {
        f"depth {d}": {
            "window_ms": latency_stats([1000 * s for s in seconds[d]]),
            "per_candidate_ms": latency_stats([1000 * s for s in per_candidate[d]]),
        }
        for d in args.depths
    }
    result = {
        "queries_asked": args.queries,
        "queries": len(sizes["window"]),
        "ppm": args.ppm,
        "pool": {"measured": len(measured), "library": len(pool) - len(measured)},
        "rows": rows,
        "timing": timing,
    }
    for row in rows:
        print(row)
    print(timing)
    write_result("fragments", result, args.output)


if __name__ == "__main__":
    main()
