"""Fit the learned ranker (models/ranker.py) on validation windows and measure it on test windows,
beside the random expectation, the structure prior, the spectrum-blind control of the same ranker,
today's hand order, each evidence alone, and the ranker with each evidence group left out.

Queries: MassBank [M+H]+ / [M-H]- spectra whose precursor agrees with their structure (as in
bench.fragments), of validation-split skeletons for fitting and test-split skeletons for
testing (`models.data.split_of`, the structure models' split). Candidates, as a user's candidate
library gives them: real structures within `--ppm` of the query's neutral mass, from two pools
kept apart: fitting windows draw on MOSES *train* structures and the MassBank compounds of
non-test skeletons; test windows on MOSES *test* structures and every MassBank compound. No
test skeleton and no test-window decoy reaches the fit (asserted below).

A query whose compound has a measured CCS of its ion (`ccs/ccs_combined.tsv.gz`, the median)
carries it, and each candidate's CCS deviation is from the shipped CCS predictor's value (trained
on training-split structures); the rows "with CCS" compare the ranker with and without it.

The library: every MassBank spectrum but the query's own. For half of the queries (a coin per
skeleton) the other spectra of the query's compound are taken out too: the unknown no library
holds, for which the test rows are given apart ("unknown"). A candidate's library score is its
best entropy similarity to its own reference spectra of the query's polarity and precursor
window, as the library search computes it.

As in the search, the ranker re-ranks a window's first RERANK candidates of today's hand order;
windows are fitted on that part. Half of the validation queries fit the weights, the other
half the temperature; the figures are on test windows only.

Run: python -m bench.ranker [--queries 500] [--ship]"""

from __future__ import annotations

import argparse
import csv
import gzip
import hashlib
import json
import random
import time
from collections import defaultdict
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from rdkit import RDLogger
from tqdm import tqdm

from bench.common import SHARED, latency_stats, markdown_table, write_result
from bench.fragments import (
    BUCKETS,
    load_library,
    load_spectra,
    rank_of,
    top_k_rows,
    window_of,
)
from models.calibration import reliability
from models.candidate_sets import MEASURED_MIN, MEASURED_SET
from models.data import SPLIT_SEED, split_of
from models.ranker import EVIDENCE, GROUPS, SPECTRAL, Ranker, Window, fit, softmax
from molvis.workflows.fragment_evidence import DEPTH, predicted_similarity
from molvis.workflows.query import Query
from molvis.workflows.ranking import RERANK
from registry.chem.adducts import neutral_mass
from registry.chem.explain import explain
from registry.chem.identity import fingerprint_bits
from registry.library.flash_index import (
    LibraryOptions,
    clean_peaks,
    entropy_similarity,
    polarity,
)

SHIP = Path(__file__).resolve().parents[1] / "models" / "pretrained" / "molvis-base.ranker.json"
DOCS = Path(__file__).resolve().parents[1] / "docs"
LIBRARY = LibraryOptions()  # GNPS's thresholds of a confident match, as the search's
HAND_LIBRARY_WEIGHT = LIBRARY.weight  # today's hand order: model score + 0.25 x library score


@dataclass
class Scored:
    """One query's window: evidence values per candidate (EVIDENCE order, NaN where a candidate
    has none), whether each is measured, its formula and the truth's row."""

    key: str
    keys: list[str]
    values: np.ndarray
    truth: int
    measured: np.ndarray
    formulas: list[str]
    confident: np.ndarray  # a confident library match (entropy >= 0.7, 6+ matched peaks)
    unknown: bool  # the library holds no spectrum of the query's compound
    has_ccs: bool  # the query carries its compound's measured CCS
    seconds: float


def columns_of(ranker: Ranker, values: np.ndarray) -> np.ndarray:
    """The ranker's evidence columns of full EVIDENCE-ordered values."""
    return values[:, [EVIDENCE.index(e) for e in ranker.evidence]]


def hand_scores(values: np.ndarray) -> np.ndarray:
    model = np.nan_to_num(values[:, EVIDENCE.index("model_score")], nan=0.0)
    library = np.nan_to_num(values[:, EVIDENCE.index("library_score")], nan=0.0)
    return model + HAND_LIBRARY_WEIGHT * library


def matched_peaks(query: np.ndarray, ref) -> int:
    """Query peaks (cleaned) with a reference peak (cleaned) within the fragment tolerance."""
    reference = np.sort(clean_peaks(ref.mz, ref.intensity, ref.precursor_mz)[:, 0])
    if not len(query) or not len(reference):
        return 0
    at = np.clip(np.searchsorted(reference, query[:, 0]), 1, len(reference) - 1)
    nearest = np.minimum(
        np.abs(reference[at] - query[:, 0]), np.abs(reference[at - 1] - query[:, 0])
    )
    if len(reference) == 1:
        nearest = np.abs(reference[0] - query[:, 0])
    return int(np.sum(nearest <= LIBRARY.fragment_tolerance))


def first_stage(values: np.ndarray, confident: np.ndarray) -> np.ndarray:
    """Today's order of the whole window, as molvis_search() gives it: confident library matches
    first by library score, then model score + 0.25 x library score."""
    library = np.nan_to_num(values[:, EVIDENCE.index("library_score")], nan=0.0)
    return hand_scores(values) + confident * (1e3 + library)


def without_ccs(scored: Scored) -> Scored:
    """The same window searched without the query's CCS."""
    values = scored.values.copy()
    values[:, EVIDENCE.index("ccs_deviation_pct")] = np.nan
    return replace(scored, values=values, has_ccs=False)


def measured_ccs() -> dict[tuple[str, str], float]:
    """(skeleton, adduct) -> the median measured CCS of the [M+H]+ / [M-H]- ions."""
    values: dict[tuple[str, str], list[float]] = defaultdict(list)
    with gzip.open(SHARED / "ccs" / "ccs_combined.tsv.gz", "rt") as handle:
        for row in csv.DictReader(handle, delimiter="\t"):
            if row["adduct"] in ("[M+H]+", "[M-H]-") and row["inchikey"] and row["ccs"]:
                values[(row["inchikey"][:14], row["adduct"])].append(float(row["ccs"]))
    return {k: float(np.median(v)) for k, v in values.items()}


def unknown_coin(key: str) -> bool:
    return hashlib.sha256(f"library:{key[:14]}".encode()).digest()[0] % 2 == 0


class Evidence:
    """Computes a window's evidence: the shipped structure model's cosine, the fragmenter's and
    the forward model's scores, the library score and the mass error."""

    def __init__(self, spectra: list, ppm: float):
        import torch

        from models.ccs import load_predictor
        from models.checkpoint import load_checkpoint
        from models.evaluate import model_embedder
        from molvis.workflows.fragment_evidence import shipped_forward_model
        from molvis.workflows.model_loading import PRETRAINED_DIR

        torch.set_num_threads(2)
        self.path = PRETRAINED_DIR / "molvis-base.pt"
        self.model, self.checkpoint = load_checkpoint(self.path, "cpu")
        self.embedder = model_embedder(self.model, torch.device("cpu"))
        self.forward = shipped_forward_model()
        self.cache: dict[str, np.ndarray] = {}
        self.ppm = ppm
        self.ccs_of = measured_ccs()
        self.ccs_model = load_predictor(PRETRAINED_DIR / "ccs" / "molvis-ccs.pt")[0]
        self.predicted: dict[tuple[str, str], float] = {}
        self.references: dict[str, list] = defaultdict(list)
        for record, key, _, _ in spectra:
            self.references[key[:14]].append(record)

    def cosines(self, record, smiles: list[str], keys: list[str]) -> np.ndarray:
        import torch

        from models.evaluate import embed_structures
        from models.query import msms_vector

        missing = [(k, s) for k, s in zip(keys, smiles, strict=True) if k not in self.cache]
        if missing:
            vectors = embed_structures(self.embedder, [s for _, s in missing]).numpy()
            self.cache.update({k: v for (k, _), v in zip(missing, vectors, strict=True)})
        query = msms_vector(self.model, record, torch.device("cpu"))
        query = np.asarray(query, dtype=float)
        query = query / max(np.linalg.norm(query), 1e-12)
        return np.array([float(self.cache[k] @ query) for k in keys])

    def ccs_deviations(self, record, key: str, pool: dict, window: list[str]) -> np.ndarray:
        """|query CCS - predicted CCS| in % per candidate; NaN without a measured query CCS."""
        from models.ccs import featurize
        from models.ccs_inputs import Ion

        query = self.ccs_of.get((key[:14], record.adduct))
        if query is None:
            return np.full(len(window), np.nan)
        missing = [k for k in window if (k, record.adduct) not in self.predicted]
        if missing:
            ions = [
                Ion(
                    fingerprint_bits(pool[k][1]),
                    pool[k][3],
                    pool[k][2],
                    record.adduct,
                    smiles=pool[k][1],
                )
                for k in missing
            ]
            values = self.ccs_model.predict(featurize(ions, self.ccs_model.config))
            self.predicted.update(
                {(k, record.adduct): float(v) for k, v in zip(missing, values, strict=True)}
            )
        predicted = np.array([self.predicted[(k, record.adduct)] for k in window])
        return np.abs(query - predicted) / predicted * 100

    def library(self, record, skeleton: str, left_out: set[int]) -> tuple[float, int]:
        """The best entropy similarity of the query to the candidate's reference spectra (its
        polarity, precursor within the window) and that match's matched peaks; NaN, 0 without
        references."""
        mode = polarity(record.ion_mode, record.adduct)
        tolerance = record.precursor_mz * self.ppm * 1e-6
        best, peaks = np.nan, 0
        query = clean_peaks(record.mz, record.intensity, record.precursor_mz)
        for ref in self.references.get(skeleton, []):
            if id(ref) in left_out or polarity(ref.ion_mode, ref.adduct) != mode:
                continue
            if ref.precursor_mz is None or abs(ref.precursor_mz - record.precursor_mz) > tolerance:
                continue
            score = entropy_similarity(
                (record.mz, record.intensity),
                record.precursor_mz,
                (ref.mz, ref.intensity),
                ref.precursor_mz,
            )
            if np.isnan(best) or score > best:
                best, peaks = score, matched_peaks(query, ref)
        return best, peaks

    def spectral(self, record, smiles: str) -> tuple[float, float, float]:
        """The fragment evidence the search gives a hit: fragmenter score, explained intensity
        and the forward model's predicted similarity (molvis/workflows/fragment_evidence.py)."""
        query = Query("q", msms=record, precursor_mz=record.precursor_mz, adduct=record.adduct)
        try:
            found = explain(
                smiles, record.adduct, record.mz, record.intensity, record.precursor_mz, DEPTH
            )
        except ValueError:
            return np.nan, np.nan, np.nan
        similarity = predicted_similarity(self.forward, smiles, query)
        return found.score, found.explained_intensity, similarity


def score_window(
    evidence: Evidence, record, key: str, implied: float, pool: dict, window: list[str]
) -> Scored:
    started = time.perf_counter()
    unknown = unknown_coin(key)
    own = evidence.references[key[:14]]
    left_out = {id(r) for r in own} if unknown else {id(record)}
    values = np.full((len(window), len(EVIDENCE)), np.nan)
    values[:, 0] = evidence.cosines(record, [pool[k][1] for k in window], window)
    values[:, 6] = evidence.ccs_deviations(record, key, pool, window)
    confident = np.zeros(len(window), dtype=bool)
    for i, k in enumerate(window):
        values[i, 4], peaks = evidence.library(record, k, left_out)
        confident[i] = values[i, 4] >= LIBRARY.min_score and peaks >= LIBRARY.min_matched_peaks
        values[i, 5] = abs(pool[k][2] - implied) / implied * 1e6
    first = np.argsort(-first_stage(values, confident), kind="stable")
    for i in first[:RERANK]:
        values[i, 1:4] = evidence.spectral(record, pool[window[i]][1])
    return Scored(
        key,
        window,
        values,
        window.index(key[:14]),
        np.array([pool[k][4] for k in window]),
        [pool[k][3] for k in window],
        confident,
        unknown,
        not np.isnan(values[0, 6]),
        time.perf_counter() - started,
    )


def windows_of(queries, pool: dict, evidence: Evidence, ppm: float, desc: str) -> list[Scored]:
    keys = sorted(pool, key=lambda k: pool[k][2])
    masses = np.array([pool[k][2] for k in keys])
    out = []
    for record, key, implied in tqdm(queries, desc=desc):
        lo, hi = window_of(masses, implied, ppm)
        window = [keys[i] for i in range(lo, hi)]
        if key[:14] in window and len(window) >= 2:
            out.append(score_window(evidence, record, key, implied, pool, window))
    return out


def save_windows(path: Path, windows: dict[str, list[Scored]], meta: dict) -> None:
    """The scored windows as gzipped JSON (NaN as null), so the tables can be redrawn without
    scoring every candidate again (`--windows`)."""

    def plain(s: Scored) -> dict:
        values = [[None if np.isnan(v) else float(v) for v in row] for row in s.values]
        return {
            "key": s.key,
            "keys": s.keys,
            "values": values,
            "truth": s.truth,
            "measured": s.measured.tolist(),
            "formulas": s.formulas,
            "confident": s.confident.tolist(),
            "unknown": s.unknown,
            "has_ccs": s.has_ccs,
            "seconds": s.seconds,
        }

    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wt") as handle:
        json.dump(
            {"meta": meta} | {name: [plain(s) for s in found] for name, found in windows.items()},
            handle,
        )


def load_windows(path: Path) -> tuple[dict[str, list[Scored]], dict]:
    with gzip.open(path, "rt") as handle:
        data = json.load(handle)
    meta = data.pop("meta")
    return {
        name: [
            Scored(
                d["key"],
                d["keys"],
                np.array([[np.nan if v is None else v for v in row] for row in d["values"]]),
                d["truth"],
                np.array(d["measured"], dtype=bool),
                d["formulas"],
                np.array(d["confident"], dtype=bool),
                d["unknown"],
                d["has_ccs"],
                d["seconds"],
            )
            for d in found
        ]
        for name, found in data.items()
    }, meta


def reranked(scored: Scored) -> np.ndarray:
    """The rows the ranker sees: the window's first RERANK of today's order."""
    order = np.argsort(-first_stage(scored.values, scored.confident), kind="stable")
    return np.sort(order[:RERANK])


def as_fit_window(scored: Scored) -> Window | None:
    """The window as the ranker is fitted and checked on it: its re-ranked rows, when they hold
    the truth and no confident library match (which ranks first whatever the ranker says)."""
    rows = reranked(scored)
    where = np.flatnonzero(rows == scored.truth)
    if not len(where) or scored.confident.any():
        return None
    return Window(scored.values[rows], int(where[0]), tuple(scored.keys[i] for i in rows))


def ranked_scores(ranker: Ranker, scored: Scored, library_first: bool = True) -> np.ndarray:
    """The ranker's order of the whole window: its scores on the first RERANK, the rest below;
    confident library matches first unless `library_first` is off (a spectrum-blind order)."""
    out = np.full(len(scored.values), -np.inf)
    rows = reranked(scored)
    out[rows] = ranker.scores(columns_of(ranker, scored.values[rows]))
    library = np.nan_to_num(scored.values[:, EVIDENCE.index("library_score")], nan=0.0)
    return out + library_first * scored.confident * (1e6 + 1e3 * library)


def subsets(scored: Scored) -> dict[str, np.ndarray]:
    n = len(scored.values)
    everything = np.arange(n)
    out = {"window": everything}
    for b_lo, b_hi in BUCKETS:
        if n >= b_lo and (b_hi is None or n <= b_hi):
            out[f"window {b_lo}-{b_hi}" if b_hi else f"window {b_lo}+"] = everything
    out["measured_only"] = np.flatnonzero(scored.measured)
    if len(out["measured_only"]) >= MEASURED_MIN:
        out[MEASURED_SET] = out["measured_only"]
    formula = scored.formulas[scored.truth]
    out["same_formula"] = np.array([i for i, f in enumerate(scored.formulas) if f == formula])
    return out


def table(test: list[Scored], rankers: dict) -> list[dict]:
    """Top-k of each ranking on each candidate set, with random and the structure prior."""
    ranks: dict[tuple[str, str], list[int]] = defaultdict(list)
    sizes: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for scored in test:
        orders = {name: score(scored) for name, score in rankers.items()}
        cases = ["all", "unknown" if scored.unknown else "in library"]
        for case in cases + (["with CCS"] if scored.has_ccs else []):
            for name, members in subsets(scored).items():
                set_name = name if case == "all" else f"{name} ({case})"
                where = int(np.flatnonzero(members == scored.truth)[0])
                sizes[set_name].append((len(members), int(scored.measured[members].sum())))
                for ranker, values in orders.items():
                    ranks[(set_name, ranker)].append(rank_of(values[members], where))
    return top_k_rows(sizes, ranks)


def calibration_of(ranker: Ranker, test: list[Scored]) -> dict:
    """Reliability of the ranker's probabilities on test windows whose reranked part holds the
    truth: every candidate's, and the top hit's."""
    every_p, every_y, top_p, top_y = [], [], [], []
    for scored in test:
        window = as_fit_window(scored)
        if window is None:
            continue
        p = softmax(ranker.scores(columns_of(ranker, window.values)))
        y = np.arange(len(p)) == window.truth
        every_p += p.tolist()
        every_y += y.tolist()
        best = int(np.argmax(p))
        top_p.append(float(p[best]))
        top_y.append(bool(y[best]))
    ece, bins = reliability(every_p, every_y)
    ece_top, bins_top = reliability(top_p, top_y)
    return {
        "ece": ece,
        "bins": bins,
        "ece_top1": ece_top,
        "bins_top1": bins_top,
        "windows": len(top_p),
    }


def plot_reliability(calibration: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    ax.plot([0, 1], [0, 1], color="grey", lw=1, ls="--", label="perfect")
    for key, label in (("bins", "every candidate"), ("bins_top1", "top hit")):
        bins = calibration[key]
        ax.plot(
            [b["predicted"] for b in bins],
            [b["observed"] for b in bins],
            marker="o",
            label=f"{label} (ECE {calibration['ece' if key == 'bins' else 'ece_top1']:.3f})",
        )
    ax.set_xlabel("the ranker's probability")
    ax.set_ylabel("share right")
    ax.set_title("Learned ranker on test windows")
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def split_queries(spectra, ppm: float, split: str, limit: int, seed: int) -> list:
    out = []
    for record, key, _, mass in spectra:
        implied = neutral_mass(record.precursor_mz, record.adduct)
        if split_of(key, SPLIT_SEED) != split or not implied:
            continue
        if abs(implied - mass) <= mass * ppm * 1e-6:
            out.append((record, key, implied))
    return random.Random(seed).sample(out, min(limit, len(out)))


def score_windows(args: argparse.Namespace) -> dict[str, list[Scored]]:
    """Every validation and test window, each candidate's evidence computed."""
    spectra, measured = load_spectra(args.spectra)
    test_library = load_library(args.library, "test.csv.gz")
    test_pool = test_library | measured
    fit_pool = {  # no test-split skeleton and no test-pool decoy reaches a fitting window
        k: v
        for k, v in (load_library(args.library or 176_074, "train.csv.gz") | measured).items()
        if split_of(k, SPLIT_SEED) != "test" and k not in test_library
    }
    evidence = Evidence(spectra, args.ppm)
    val = split_queries(spectra, args.ppm, "val", args.queries, args.seed)
    test = split_queries(spectra, args.ppm, "test", args.queries, args.seed)
    fitting = windows_of(val, fit_pool, evidence, args.ppm, "validation windows")
    testing = windows_of(test, test_pool, evidence, args.ppm, "test windows")
    meta = {"pool": {"fit": len(fit_pool), "test": len(test_pool)}}
    meta["model_version"] = evidence.checkpoint["version"]
    meta["forward_model_version"] = evidence.forward.version if evidence.forward else ""
    return {"fitting": fitting, "testing": testing}, meta


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--queries", type=int, default=500, help="per split")
    parser.add_argument("--ppm", type=float, default=10.0)
    parser.add_argument("--library", type=int, help="read only the first N MOSES structures")
    parser.add_argument("--spectra", type=int, help="read only the first N MassBank spectra")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--ship", action="store_true", help=f"write the ranker to {SHIP.name}")
    parser.add_argument("--output", type=Path)
    parser.add_argument(
        "--windows", type=Path, help="scored windows: read when the file exists, else written"
    )
    args = parser.parse_args(argv)
    RDLogger.DisableLog("rdApp.*")
    if args.windows and args.windows.exists():
        windows, meta = load_windows(args.windows)
    else:
        windows, meta = score_windows(args)
        if args.windows:
            save_windows(args.windows, windows, meta)
    fitting, testing = windows["fitting"], windows["testing"]
    half = len(fitting) // 2
    fit_windows = [w for w in map(as_fit_window, fitting[:half]) if w]
    calibration_windows = [w for w in map(as_fit_window, fitting[half:]) if w]
    version = meta["model_version"]
    fitted_on = {
        "windows": len(fit_windows),
        "calibration_windows": len(calibration_windows),
        "split": "val",
        "pool": "MOSES train + MassBank non-test skeletons",
        "ppm": args.ppm,
    }

    def ranker_of(kinds) -> Ranker:
        return fit(
            fit_windows,
            calibration_windows,
            kinds,
            "molvis-base",
            version,
            fitted_on=fitted_on,
            forward_model=meta.get("forward_model_version", ""),
        )

    learned = ranker_of(EVIDENCE)
    rankers = {
        "hand (today)": lambda s: first_stage(s.values, s.confident),
        "model score": lambda s: np.nan_to_num(s.values[:, 0], nan=0.0),
        "fragmenter": lambda s: np.nan_to_num(s.values[:, 1], nan=-1.0),
        "forward model": lambda s: np.nan_to_num(s.values[:, 3], nan=-1.0),
        "learned": lambda s: ranked_scores(learned, s),
    }
    blind = ranker_of([e for e in EVIDENCE if e not in SPECTRAL])
    rankers["spectrum-blind (same ranker)"] = lambda s: ranked_scores(blind, s, False)
    for group, kinds in GROUPS.items():
        left = ranker_of([e for e in EVIDENCE if e not in kinds])
        rankers[f"learned without {group}"] = lambda s, r=left: ranked_scores(r, s)
    rankers["learned, the query's CCS left out"] = lambda s: ranked_scores(learned, without_ccs(s))
    rankers["learned + measured prior"] = lambda s: s.measured * 1e6 + ranked_scores(learned, s)
    rows = table(testing, rankers)
    calibration = calibration_of(learned, testing)
    learned.metrics = {"ece_test": calibration["ece"], "ece_test_top1": calibration["ece_top1"]}
    figures = args.output.parent if args.output else DOCS  # a small run keeps docs/ as it is
    figures.mkdir(parents=True, exist_ok=True)
    plot_reliability(calibration, figures / "ranker_reliability.png")
    if args.ship:
        import json

        SHIP.write_text(json.dumps(learned.to_dict(), indent=1) + "\n")
    result = {
        "queries_asked": args.queries,
        "fit_windows": len(fit_windows),
        "calibration_windows": len(calibration_windows),
        "test_windows": len(testing),
        "ppm": args.ppm,
        "rerank": RERANK,
        "pool": meta["pool"],
        "ranker": learned.to_dict(),
        "spectral": list(SPECTRAL),
        "rows": rows,
        "calibration": calibration,
        "window_seconds": latency_stats([1000 * s.seconds for s in testing]),
    }
    for row in rows:
        if row["candidate_set"] in (
            "window 10-99",
            "window 10-99 (unknown)",
            "measured_only",
            MEASURED_SET,
        ):
            print({k: round(v, 3) if isinstance(v, float) else v for k, v in row.items()})
    print("ECE", calibration["ece"], calibration["ece_top1"])
    write_result("ranker", result, args.output)


def ranker_section(r: dict) -> list[str]:
    """The BENCHMARKS.md section of this benchmark (bench.report puts it in)."""

    def pct(x: float | None) -> str:
        return "-" if x is None else f"{100 * x:.1f}"

    names = [k[: -len(" top1")] for k in r["rows"][0] if k.endswith(" top1")]
    names = [n for n in names if n not in ("random", "prior")]
    shown = (
        "window 10-99",
        "window 10-99 (unknown)",
        "window 10-99 (in library)",
        "window 100+",
        "measured_only",
        "measured_only (unknown)",
        MEASURED_SET,
        f"{MEASURED_SET} (unknown)",
        "same_formula",
        "window (with CCS)",
    )
    out = [
        "## Learned ranking of all the evidence",
        "",
        f"`python -m bench.ranker --queries {r['queries_asked']}` (`bench/results/ranker.json`):"
        f" fitted on {r['fit_windows']} validation windows (temperature on "
        f"{r['calibration_windows']} others; MOSES train structures and MassBank compounds of "
        f"non-test skeletons), tested on {r['test_windows']} windows of test-split spectra "
        f"(MOSES test structures and every MassBank compound within {r['ppm']:g} ppm). "
        '"unknown": the library holds no other spectrum of the query\'s compound. '
        "Top-1 / top-5 accuracy, %:",
        "",
    ]
    by_name = {row["candidate_set"]: row for row in r["rows"]}
    columns = [by_name[name] for name in shown if name in by_name]
    header = ["ranking"] + [f"{row['candidate_set']} ({row['n_queries']})" for row in columns]
    rows = []
    for name, label in [("random", "random"), ("prior", "structure prior")] + [
        (n, n) for n in names
    ]:
        cells = []
        for row in columns:
            key = f"{name}_top" if name in ("random", "prior") else f"{name} top"
            cells.append(f"{pct(row[key + '1'])} / {pct(row[key + '5'])}")
        rows.append([label] + cells)
    out += [markdown_table(header, rows), ""]
    c = r["calibration"]
    out += [
        "Confident library matches rank first in today's order and the learned one (as in the "
        "search), not in the spectrum-blind control. "
        f"Calibration on the test windows whose re-ranked part holds the truth and no confident "
        f"library match ({c['windows']}):"
        f" expected calibration error {c['ece']:.3f} over every candidate's probability, "
        f"{c['ece_top1']:.3f} over the top hit's (`docs/ranker_reliability.png`). Scoring a "
        f"window's evidence (2 cores): p50 / p95 {r['window_seconds']['p50']:.0f} / "
        f"{r['window_seconds']['p95']:.0f} ms.",
        "",
    ]
    return out


if __name__ == "__main__":
    main()
