"""Query latency and HNSW recall at 10k / 100k / 1M compounds, against a NumPy brute-force scan
of the same vectors in the same run. Embeddings are random unit vectors and masses uniform in
100-800 Da (said so in the results): embedding 1M real structures on a 2-core CPU would take
longer than the benchmark itself. Fingerprints are random bit strings of 30 % density."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from pgvector.psycopg import register_vector
from sqlalchemy import text

from bench.common import scratch_database, timed, write_result
from registry.embeddings import build_hnsw_index
from registry.search import SearchRequest, search

DIM = 256


def _load(engine, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, int]:
    vectors = rng.normal(size=(n, DIM)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    masses = rng.uniform(100, 800, n)
    raw = engine.raw_connection()
    try:
        conn = raw.driver_connection
        register_vector(conn)
        with conn.cursor() as cur:
            cur.execute(
                "INSERT INTO model (name, version, path, config, is_active) "
                "VALUES ('bench', 'v', '-', '{}', true) RETURNING id"
            )
            model_id = cur.fetchone()[0]
            with cur.copy(
                "COPY compound (id, inchikey, inchi, smiles, formula, monoisotopic_mass,"
                " fingerprint) FROM STDIN"
            ) as copy:
                for i in range(n):
                    key = f"{i:014d}".translate(str.maketrans("0123456789", "ABCDEFGHIJ"))
                    bits = "".join("1" if b else "0" for b in rng.random(2048) < 0.3)
                    copy.write_row(
                        (i + 1, f"{key}-UHFFFAOYSA-N", "-", "C", "C", float(masses[i]), bits)
                    )
            with cur.copy(
                "COPY structure_embedding (model_id, compound_id, embedding) "
                "FROM STDIN WITH (FORMAT BINARY)"
            ) as copy:
                copy.set_types(["int4", "int8", "vector"])
                for i in range(n):
                    copy.write_row((model_id, i + 1, vectors[i]))
        conn.commit()
    finally:
        raw.close()
    return vectors, masses, model_id


def _percentiles(samples: list[float]) -> dict[str, float]:
    ms = np.array(samples) * 1000
    return {
        "p50_ms": round(float(np.percentile(ms, 50)), 2),
        "p95_ms": round(float(np.percentile(ms, 95)), 2),
    }


def run_size(n: int, queries: int, ef_search: int, ppm: float, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    with scratch_database() as engine:
        with timed() as load_t:
            vectors, masses, model_id = _load(engine, n, rng)
        with engine.begin() as conn:
            conn.execute(text("SET maintenance_work_mem = '2GB'"))
            conn.execute(text("ANALYZE compound"))
            conn.execute(text("ANALYZE structure_embedding"))
        with timed() as build_t:
            with engine.begin() as conn:
                conn.execute(text("SET maintenance_work_mem = '2GB'"))
                from sqlalchemy.orm import Session

                with Session(bind=conn) as session:
                    index = build_hnsw_index(session, model_id)
        with engine.connect() as conn:
            index_mb = conn.execute(text(f"SELECT pg_relation_size('{index}')")).scalar() / 2**20
        with timed() as fp_build_t, engine.begin() as conn:
            conn.execute(text("SET maintenance_work_mem = '2GB'"))
            conn.execute(text("REINDEX INDEX ix_compound_fingerprint_hnsw"))
        qs = rng.normal(size=(queries, DIM)).astype(np.float32)
        qs /= np.linalg.norm(qs, axis=1, keepdims=True)
        fused, window, tanimoto, numpy_scan, recalls, window_sizes = [], [], [], [], [], []
        from sqlalchemy.orm import Session

        with Session(engine) as session:
            session.execute(text(f"SET hnsw.ef_search = {ef_search}"))
            for q in qs:
                start = time.perf_counter()
                result = search(session, SearchRequest({"msms": q}, k=20, model="bench"))
                fused.append(time.perf_counter() - start)
                start = time.perf_counter()
                exact = np.argsort(-(vectors @ q))[:20]
                numpy_scan.append(time.perf_counter() - start)
                got = {
                    int(h.inchikey[:14].translate(str.maketrans("ABCDEFGHIJ", "0123456789")))
                    for h in result.hits
                }
                recalls.append(len(got & set(exact.tolist())) / 20)
                mass = float(rng.choice(masses))
                start = time.perf_counter()
                filtered = search(
                    session,
                    SearchRequest({"msms": q}, neutral_mass=mass, ppm=ppm, k=20, model="bench"),
                )
                window.append(time.perf_counter() - start)
                window_sizes.append(filtered.candidates)
                start = time.perf_counter()
                session.execute(
                    text(
                        "SELECT id FROM compound ORDER BY fingerprint <%> "
                        "(SELECT fingerprint FROM compound WHERE id = :i) LIMIT 20"
                    ),
                    {"i": int(rng.integers(1, n + 1))},
                ).all()
                tanimoto.append(time.perf_counter() - start)
    return {
        "compounds": n,
        "queries": queries,
        "ef_search": ef_search,
        "load_seconds": round(load_t["seconds"], 1),
        "hnsw_build_seconds": round(build_t["seconds"], 1),
        "hnsw_size_mb": round(index_mb, 1),
        "fingerprint_hnsw_build_seconds": round(fp_build_t["seconds"], 1),
        "fused_hnsw": _percentiles(fused),
        "recall_at_20": round(float(np.mean(recalls)), 4),
        "mass_window": {
            **_percentiles(window),
            "ppm": ppm,
            "mean_candidates": round(float(np.mean(window_sizes)), 1),
        },
        "tanimoto_hnsw": _percentiles(tanimoto),
        "numpy_brute_force": _percentiles(numpy_scan),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--ef-search", type=int, default=100)
    parser.add_argument("--ppm", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", type=Path)
    args = parser.parse_args(argv)
    rows = []
    for n in args.sizes:
        rows.append(run_size(n, args.queries, args.ef_search, args.ppm, args.seed))
        print(rows[-1], flush=True)
    write_result(
        "query",
        {"vectors": "random unit vectors (not model embeddings)", "rows": rows},
        args.output,
    )


if __name__ == "__main__":
    main()
