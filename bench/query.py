"""Query latency and recall at 10k / 100k / 1M compounds, against a NumPy brute-force scan of
the same vectors in the same run.

The library is the first N structures of the MOSES candidate library (real drug-like
molecules) with the shipped model's structure embeddings, RDKit fingerprints and exact masses
computed as the registry computes them; queries are MS/MS spectra (MassBank) embedded by the
same model, the cross-modal queries users send. Computed arrays are cached (`--cache`), so a
second run only loads and queries. InChIKeys are stand-ins (InChI generation is the ingest
benchmark's business). `--vectors random` measures random unit vectors instead."""

from __future__ import annotations

import argparse
import gzip
import itertools
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from sqlalchemy import text
from sqlalchemy.orm import Session
from tqdm import tqdm

from bench.common import (
    SHARED,
    copy_compounds,
    index_of_inchikey,
    scratch_database,
    timed,
    write_result,
)
from migrations.functions import function_sql
from registry.db.settings import load_settings
from registry.learned.embeddings import build_structure_index
from registry.search.molvis_search import TANIMOTO_EF_SEARCH, SearchRequest, search

DIM = 256
CHECKPOINT = Path(__file__).resolve().parents[1] / "models" / "pretrained" / "molvis-base.pt"


@dataclass
class Library:
    """Per compound: SMILES, formula, exact mass, packed 2048-bit fingerprint, unit vector."""

    smiles: list[str]
    formulas: list[str]
    masses: np.ndarray
    fingerprints: np.ndarray  # (n, 256) uint8, np.packbits of the bit string
    vectors: np.ndarray  # (n, DIM) float32

    def head(self, n: int) -> Library:
        return Library(
            self.smiles[:n],
            self.formulas[:n],
            self.masses[:n],
            self.fingerprints[:n],
            self.vectors[:n],
        )


def _chemistry(smiles: list[str]) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Formula, exact mass and packed fingerprint of each SMILES (runs in worker processes)."""
    from rdkit import Chem
    from rdkit.Chem import rdMolDescriptors

    from registry.chem.identity import fingerprint_bits

    formulas, masses, prints = [], [], []
    for s in smiles:
        mol = Chem.MolFromSmiles(s)
        formulas.append(rdMolDescriptors.CalcMolFormula(mol))
        masses.append(rdMolDescriptors.CalcExactMolWt(mol))
        prints.append(np.packbits(np.frombuffer(fingerprint_bits(s).encode(), np.uint8) - 48))
    return formulas, np.array(masses), np.stack(prints)


def _library_smiles(n: int) -> list[str]:
    with gzip.open(SHARED / "library" / "train.csv.gz", "rt") as handle:
        next(handle)
        return [line.strip() for line in itertools.islice(handle, n)]


def _model_vectors(smiles: list[str], checkpoint: Path) -> np.ndarray:
    from models.checkpoint import load_checkpoint
    from models.embed import backfill
    from models.prefetch import default_workers

    model, _ = load_checkpoint(checkpoint)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    model.to(device)
    vectors = np.zeros((len(smiles), DIM), np.float32)

    def write(ids: list[int], batch_vectors: np.ndarray) -> None:
        vectors[ids] = batch_vectors

    batches = [list(enumerate(smiles))[i : i + 1024] for i in range(0, len(smiles), 1024)]
    with tqdm(total=len(smiles), desc="embed library", unit=" mol") as bar:
        counts = backfill(batches, model, write, device, bar.update, default_workers(device))
    if counts.skipped:
        raise ValueError(f"{counts.skipped} library structures could not be featurised")
    return vectors


def build_library(n: int, vectors: str, checkpoint: Path, cache: Path, seed: int) -> Library:
    """The first n library structures with their arrays, from the cache when present."""
    path = cache / f"library-{vectors}-{checkpoint.stem}-{n}.npz"
    smiles = _library_smiles(n)
    if path.exists():
        saved = np.load(path, allow_pickle=False)
        return Library(
            smiles,
            saved["formulas"].tolist(),
            saved["masses"],
            saved["fingerprints"],
            saved["vectors"],
        )
    chunks = [smiles[i : i + 2000] for i in range(0, n, 2000)]
    formulas: list[str] = []
    masses, prints = [], []
    with ProcessPoolExecutor() as pool:
        for f, m, p in tqdm(pool.map(_chemistry, chunks), total=len(chunks), desc="fingerprints"):
            formulas += f
            masses.append(m)
            prints.append(p)
    if vectors == "model":
        vecs = _model_vectors(smiles, checkpoint)
    else:
        vecs = np.random.default_rng(seed).normal(size=(n, DIM)).astype(np.float32)
        vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    library = Library(smiles, formulas, np.concatenate(masses), np.concatenate(prints), vecs)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(
        path,
        formulas=np.array(formulas),
        masses=library.masses,
        fingerprints=library.fingerprints,
        vectors=library.vectors,
    )
    return library


def query_vectors(n: int, vectors: str, checkpoint: Path, seed: int) -> np.ndarray:
    """MS/MS query embeddings of the first n MassBank spectra (or random unit vectors)."""
    if vectors == "random":
        qs = np.random.default_rng(seed + 1).normal(size=(n, DIM)).astype(np.float32)
        return qs / np.linalg.norm(qs, axis=1, keepdims=True)
    from models.checkpoint import load_checkpoint
    from models.data import msms_input
    from models.embed import embed_inputs
    from registry.ingest.files import iter_members
    from registry.ingest.normalize import normalize_unknown
    from registry.ingest.parsers.msms import parse_msms

    model, _ = load_checkpoint(checkpoint)
    records = []
    for member in iter_members(SHARED / "massbank" / "massbank_ms2.mgf.gz"):
        for parsed in parse_msms(member, require_structure=False):
            if parsed.record is not None and parsed.record.precursor_mz:
                records.append(normalize_unknown(parsed.record))
            if len(records) == n:
                break
        break
    inputs = [msms_input(r, model.config) for r in records]
    return embed_inputs(model, "msms", inputs, torch.device("cpu"))


def _load(engine, library: Library) -> int:
    """COPY the library into a scratch registry, its vectors in mass order as the backfill
    writes them (registry.learned.embeddings); returns the model id of its vectors."""
    from pgvector import Vector

    raw = engine.raw_connection()
    try:
        conn = raw.driver_connection
        with conn.cursor() as cur:
            cur.execute(
                "INSERT INTO model (name, version, path, config, is_active) "
                "VALUES ('bench', 'v', '-', '{}', true) RETURNING id"
            )
            model_id = cur.fetchone()[0]
            copy_compounds(
                cur,
                (
                    (
                        smiles,
                        library.formulas[i],
                        float(library.masses[i]),
                        (np.unpackbits(library.fingerprints[i]) + 48).tobytes().decode(),
                    )
                    for i, smiles in enumerate(library.smiles)
                ),
            )
            with cur.copy(
                "COPY structure_embedding (model_id, compound_id, embedding) "
                "FROM STDIN WITH (FORMAT BINARY)"
            ) as copy:
                copy.set_types(["int4", "int8", "bytea"])
                for i in np.argsort(library.masses, kind="stable"):
                    copy.write_row((model_id, int(i) + 1, Vector(library.vectors[i]).to_binary()))
        conn.commit()
    finally:
        raw.close()
    return model_id


def _percentiles(samples: list[float]) -> dict[str, float]:
    ms = np.array(samples) * 1000
    return {
        "p50_ms": round(float(np.percentile(ms, 50)), 2),
        "p95_ms": round(float(np.percentile(ms, 95)), 2),
    }


_POPCOUNT = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint16)
TANIMOTO_RECALL_PROBES = 50  # an exact NumPy Tanimoto scan of 1M fingerprints takes ~1 s


def _tanimoto(fingerprints: np.ndarray, query: np.ndarray) -> np.ndarray:
    """Tanimoto of a packed fingerprint against all of them, by a NumPy scan."""
    both = _POPCOUNT[fingerprints & query].sum(1)
    either = _POPCOUNT[fingerprints | query].sum(1)
    return np.where(either > 0, both / np.maximum(either, 1), 0.0)


def recall_at(k: int, exact_scores: np.ndarray, found: set[int]) -> float:
    """Share of the k hits (0-based ids) whose exact score reaches the k-th best exact score:
    ties at the cut (stereoisomers share a graph and so an embedding; fingerprints tie often)
    count as found whichever of them the index returns."""
    cut = np.partition(exact_scores, -k)[-k] - 1e-6
    return sum(1 for i in found if exact_scores[i] >= cut) / k


def _disk_mb(engine) -> dict[str, float]:
    """On-disk size of what a registry of this size holds: tables (heap + TOAST) and indexes."""
    with engine.connect() as conn:
        row = conn.execute(
            text("""SELECT pg_table_size('compound'), pg_indexes_size('compound'),
                           pg_table_size('structure_embedding'),
                           pg_indexes_size('structure_embedding'),
                           pg_relation_size('ix_compound_fingerprint_hnsw')""")
        ).one()
    names = ["compound", "compound_indexes", "structure_embedding", "structure_embedding_indexes"]
    sizes = dict(zip([*names, "fingerprint_hnsw"], row, strict=True))
    sizes["total"] = sum(row[:4])
    return {k: round(v / 2**20, 1) for k, v in sizes.items()}


# molvis_search() before the mass window was planned per call (0017): migrations/sql/molvis_search
BASELINE_SEARCH = "0015"


def window_ab(engine, queries: np.ndarray, masses: list[float], ppm: float, rounds: int = 2):
    """The same mass-window queries through the shipped molvis_search() and the baseline's
    text, in one scratch database: a warm-up pass first (the first pass over 600 random
    windows reads cold pages), then `rounds` alternating rounds of each, timed."""
    with engine.begin() as conn:
        shipped = conn.execute(
            text("SELECT pg_get_functiondef('molvis_search'::regproc)")
        ).scalar_one()
    texts = {"shipped": shipped, "baseline": function_sql("molvis_search", BASELINE_SEARCH)}

    def one_pass() -> list[float]:
        times = []
        with Session(engine) as session:
            for q, mass in zip(queries, masses, strict=True):
                request = SearchRequest(
                    {"msms": q}, neutral_mass=mass, ppm=ppm, k=20, model="bench"
                )
                start = time.perf_counter()
                search(session, request)
                times.append(time.perf_counter() - start)
        return times

    one_pass()
    times: dict[str, list[float]] = {"shipped": [], "baseline": []}
    try:
        for _ in range(rounds):
            for name in ("baseline", "shipped"):
                with engine.begin() as conn:
                    conn.execute(text(texts[name]))
                times[name] += one_pass()
    finally:
        with engine.begin() as conn:
            conn.execute(text(shipped))
    shipped_t, baseline_t = _percentiles(times["shipped"]), _percentiles(times["baseline"])
    return {
        "shipped": shipped_t,
        "baseline": {
            **baseline_t,
            "function": f"migrations/sql/molvis_search/{BASELINE_SEARCH}.sql",
        },
        "p95_ratio": round(shipped_t["p95_ms"] / baseline_t["p95_ms"], 2),
        "rounds": rounds,
    }


def vacuum_analyze(engine) -> None:
    """What autovacuum does soon after a bulk load: statistics, and the visibility map that
    lets the mass window read compounds from their index alone."""
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE compound"))
        conn.execute(text("VACUUM ANALYZE structure_embedding"))


def load_without_indexes(engine, library: Library) -> int:
    """COPY the library into a scratch registry with no HNSW index (each caller builds the
    ones it measures), vacuumed and analysed; returns the model id."""
    with engine.begin() as conn:
        conn.execute(text("DROP INDEX ix_compound_fingerprint_hnsw"))
    model_id = _load(engine, library)
    vacuum_analyze(engine)
    return model_id


def run_window_only(library: Library, queries: np.ndarray, ppm: float, seed: int) -> dict:
    """Only the warm mass-window A/B (no HNSW index is built: the window path uses none)."""
    rng = np.random.default_rng(seed)
    with scratch_database() as engine:
        load_without_indexes(engine, library)
        masses = [float(rng.choice(library.masses)) for _ in queries]
        return {
            "compounds": len(library.smiles),
            "ppm": ppm,
            **window_ab(engine, queries, masses, ppm),
        }


def run_size(
    library: Library, queries: np.ndarray, probes: list[int], ppm: float, seed: int
) -> dict:
    rng = np.random.default_rng(seed)
    n = len(library.smiles)
    with scratch_database() as engine:
        with engine.begin() as conn:
            # a bulk load fills the table first and builds its HNSW indexes afterwards:
            # inserting 1M rows under the fingerprint index took > 15 min, building it minutes
            fingerprint_index = conn.execute(
                text("SELECT indexdef FROM pg_indexes WHERE indexname = :n"),
                {"n": "ix_compound_fingerprint_hnsw"},
            ).scalar_one()
            conn.execute(text("DROP INDEX ix_compound_fingerprint_hnsw"))
        with timed() as load_t:
            model_id = _load(engine, library)
        vacuum_analyze(engine)
        with timed() as build_t, engine.begin() as conn:
            conn.execute(text("SET maintenance_work_mem = '4GB'"))
            with Session(bind=conn) as session:
                index = build_structure_index(session, model_id)
        with engine.connect() as conn:
            index_mb = conn.execute(text(f"SELECT pg_relation_size('{index}')")).scalar() / 2**20
        with timed() as fp_build_t, engine.begin() as conn:
            conn.execute(text("SET maintenance_work_mem = '4GB'"))
            conn.execute(text(fingerprint_index))
        disk = _disk_mb(engine)
        sweep = []
        with Session(engine) as session:
            for lists_scanned in probes:
                session.execute(text(f"SET molvis.probes = {lists_scanned}"))  # molvis_search's own
                fused, recalls = [], []
                for q in queries:
                    start = time.perf_counter()
                    result = search(session, SearchRequest({"msms": q}, k=20, model="bench"))
                    fused.append(time.perf_counter() - start)
                    got = {index_of_inchikey(h.inchikey) for h in result.hits}
                    recalls.append(recall_at(20, library.vectors @ q, got))
                sweep.append(
                    {
                        "probes": lists_scanned,
                        **_percentiles(fused),
                        "recall_at_20": round(float(np.mean(recalls)), 4),
                    }
                )
            numpy_scan, window, window_sizes, tanimoto, tanimoto_recall = [], [], [], [], []
            masses: list[float] = []
            found: list[tuple[int, set[int]]] = []
            session.execute(text("RESET molvis.probes"))  # the shipped default
            session.execute(text(f"SET hnsw.ef_search = {TANIMOTO_EF_SEARCH}"))
            # database queries only in this loop: with a NumPy scan of the 1M vectors and
            # fingerprints between them (2026-12-03), Tanimoto's p95 read 66-145 ms; apart,
            # 7.9 ms on the same index (2026-12-04)
            for q in queries:
                mass = float(rng.choice(library.masses))
                masses.append(mass)
                start = time.perf_counter()
                filtered = search(
                    session,
                    SearchRequest({"msms": q}, neutral_mass=mass, ppm=ppm, k=20, model="bench"),
                )
                window.append(time.perf_counter() - start)
                window_sizes.append(filtered.candidates)
                probe = int(rng.integers(1, n + 1))
                start = time.perf_counter()
                ids = session.execute(
                    text(
                        "SELECT id FROM compound ORDER BY fingerprint <%> "
                        "(SELECT fingerprint FROM compound WHERE id = :i) LIMIT 20"
                    ),
                    {"i": probe},
                ).scalars()
                found.append((probe, {i - 1 for i in ids}))
                tanimoto.append(time.perf_counter() - start)
        for q in queries:
            start = time.perf_counter()
            np.argsort(-(library.vectors @ q))[:20]
            numpy_scan.append(time.perf_counter() - start)
        for probe, got in found[:TANIMOTO_RECALL_PROBES]:
            exact = _tanimoto(library.fingerprints, library.fingerprints[probe - 1])
            tanimoto_recall.append(recall_at(20, exact, got))
        window_warm = window_ab(engine, queries, masses, ppm)
    return {
        "compounds": n,
        "queries": len(queries),
        "load_seconds": round(load_t["seconds"], 1),
        "structure_index_build_seconds": round(build_t["seconds"], 1),
        "structure_index_mb": round(index_mb, 1),
        "fingerprint_hnsw_build_seconds": round(fp_build_t["seconds"], 1),
        "open_query": sweep,
        "mass_window": {
            **_percentiles(window),
            "ppm": ppm,
            "mean_candidates": round(float(np.mean(window_sizes)), 1),
        },
        "tanimoto_hnsw": {
            **_percentiles(tanimoto),
            "ef_search": TANIMOTO_EF_SEARCH,
            "recall_at_20": round(float(np.mean(tanimoto_recall)), 4),
            "recall_probes": len(tanimoto_recall),
        },
        "numpy_brute_force": _percentiles(numpy_scan),
        "mass_window_warm": window_warm,  # shipped vs the previous function, warm, alternating
        "disk_mb": disk,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument(
        "--probes",
        type=int,
        nargs="+",
        default=[5, 10, 20, 40],
        help="molvis.probes values to sweep (recall and latency of each)",
    )
    parser.add_argument("--ppm", type=float, default=10.0)
    parser.add_argument(
        "--window-only",
        action="store_true",
        help="only the warm mass-window A/B against the previous function (query_window.json)",
    )
    parser.add_argument("--vectors", choices=["model", "random"], default="model")
    parser.add_argument("--checkpoint", type=Path, default=CHECKPOINT)
    parser.add_argument(
        "--cache",
        type=Path,
        default=load_settings().home / "bench-cache",
        help="where computed library arrays are kept between runs",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", type=Path)
    args = parser.parse_args(argv)
    library = build_library(max(args.sizes), args.vectors, args.checkpoint, args.cache, args.seed)
    queries = query_vectors(args.queries, args.vectors, args.checkpoint, args.seed)
    rows = []
    for n in sorted(args.sizes):
        if args.window_only:
            rows.append(run_window_only(library.head(n), queries, args.ppm, args.seed))
        else:
            rows.append(run_size(library.head(n), queries, args.probes, args.ppm, args.seed))
        print(rows[-1], flush=True)
    if args.window_only:
        write_result("query_window", {"rows": rows}, args.output)
        return
    described = {
        "model": f"structure embeddings of MOSES library compounds by {args.checkpoint.name}; "
        "queries: MassBank MS/MS embeddings",
        "random": "random unit vectors (not model embeddings)",
    }
    write_result("query", {"vectors": described[args.vectors], "rows": rows}, args.output)


if __name__ == "__main__":
    main()
