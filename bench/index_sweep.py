"""Which index answers the open (unfiltered) query and the Tanimoto query at 1M compounds:
HNSW parameters (m, ef_construction) and hnsw.ef_search, storage (vector vs halfvec), an
IVFFlat index (lists) and ivfflat.probes, over-fetch then exact re-rank, each measured for
p50/p95 latency and recall@20 against an exact NumPy ranking of the same vectors (ties at the
cut counted as found).

Structure queries are the cross-modal ones users send (MassBank MS/MS embeddings against MOSES
structure embeddings, bench.query's library and cache). Each variant is built, swept and
dropped in one scratch database, so every row shares the load, the machine and the run."""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sqlalchemy import text

from bench.common import scratch_database, timed, write_result
from bench.query import (
    CHECKPOINT,
    TANIMOTO_RECALL_PROBES,
    _percentiles,
    _tanimoto,
    build_library,
    load_without_indexes,
    query_vectors,
    recall_at,
)
from registry.db.settings import load_settings
from registry.learned.embeddings import vector_literal

K = 20


@dataclass(frozen=True)
class Variant:
    """One index: HNSW over 'vector' or 'halfvec' (structure vectors) or 'bit' (fingerprints)
    with m and ef_construction, or 'ivf': IVFFlat over halfvec with `lists` lists."""

    storage: str
    m: int = 0
    ef_construction: int = 0
    lists: int = 0

    @classmethod
    def parse(cls, spec: str) -> Variant:
        storage, *options = spec.split(":")
        if storage == "ivf":
            return cls(storage, lists=int(options[0].removeprefix("lists")))
        m, ef = options
        return cls(storage, int(m.removeprefix("m")), int(ef.removeprefix("ef")))

    @property
    def name(self) -> str:
        if self.storage == "ivf":
            return f"ivf:lists{self.lists}"
        return f"{self.storage}:m{self.m}:ef{self.ef_construction}"

    @property
    def expression(self) -> str:
        return {
            "vector": "embedding",
            "halfvec": "(embedding::halfvec(256))",
            "ivf": "(embedding::halfvec(256))",
            "bit": "fingerprint",
        }[self.storage]

    def ddl(self) -> str:
        if self.storage == "ivf":
            return (
                "CREATE INDEX ix_sweep ON structure_embedding USING ivfflat "
                f"({self.expression} halfvec_ip_ops) WITH (lists = {self.lists}) "
                "WHERE model_id = 1"
            )
        with_ = f"WITH (m = {self.m}, ef_construction = {self.ef_construction})"
        if self.storage == "bit":
            return f"CREATE INDEX ix_sweep ON compound USING hnsw (fingerprint bit_jaccard_ops) {with_}"
        ops = "halfvec_ip_ops" if self.storage == "halfvec" else "vector_ip_ops"
        return (
            f"CREATE INDEX ix_sweep ON structure_embedding USING hnsw ({self.expression} {ops}) "
            f"{with_} WHERE model_id = 1"
        )


def _structure_sql(variant: Variant, fetch: int) -> str:
    """The index's `fetch` nearest, re-ranked by the exact (float32) inner product."""
    cast = "::halfvec(256)" if variant.storage in ("halfvec", "ivf") else ""
    return f"""
        SELECT compound_id FROM (
            SELECT compound_id, embedding FROM structure_embedding WHERE model_id = 1
            ORDER BY {variant.expression} <#> CAST(:q AS vector){cast} LIMIT {fetch}) s
        ORDER BY embedding <#> CAST(:q AS vector) LIMIT {K}"""


def exact_cuts(vectors: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """Each query's K-th best exact inner product, computed once for every variant and point
    (a 1M x 256 product reads 1 GB: 200 of them per sweep point took minutes)."""
    return np.array([np.partition(vectors @ q, -K)[-K] - 1e-6 for q in queries])


def sweep_structures(conn, variant: Variant, vectors, queries, cuts, points, fetches) -> list[dict]:
    """Latency and recall@K (a hit counts when its exact score reaches the query's cut, so
    ties at the cut count as found, as bench.query.recall_at does); `points` are
    ivfflat.probes for an IVFFlat index, hnsw.ef_search otherwise."""
    rows = []
    setting = "probes" if variant.storage == "ivf" else "ef_search"
    gucs = {"probes": "ivfflat.probes", "ef_search": "hnsw.ef_search"}
    for point in points:
        conn.execute(text(f"SET {gucs[setting]} = {point}"))
        for fetch in fetches:
            if fetch > point and setting == "ef_search":  # HNSW returns at most ef_search rows
                continue
            sql = text(_structure_sql(variant, fetch))
            times, recalls = [], []
            for q, cut in zip(queries, cuts, strict=True):
                literal = vector_literal(q)
                start = time.perf_counter()
                ids = conn.execute(sql, {"q": literal}).scalars().all()
                times.append(time.perf_counter() - start)
                found = vectors[np.array(ids, dtype=np.int64) - 1] @ q if ids else np.array([])
                recalls.append(float((found >= cut).sum()) / K)
            rows.append(
                {
                    setting: point,
                    "fetch": fetch,
                    **_percentiles(times),
                    "recall_at_20": round(float(np.mean(recalls)), 4),
                }
            )
            print(variant.name, rows[-1], flush=True)
    return rows


def sweep_fingerprints(conn, fingerprints, probes, efs) -> list[dict]:
    sql = text(
        "SELECT id FROM compound ORDER BY fingerprint <%> "
        f"(SELECT fingerprint FROM compound WHERE id = :i) LIMIT {K}"
    )
    rows = []
    for ef in efs:
        conn.execute(text(f"SET hnsw.ef_search = {ef}"))
        times, found = [], []
        for probe in probes:
            start = time.perf_counter()
            ids = conn.execute(sql, {"i": int(probe)}).scalars().all()
            times.append(time.perf_counter() - start)
            found.append({i - 1 for i in ids})
        # the exact scans after the timed queries: run between them (a gigabyte of NumPy
        # temporaries each), they gave earlier runs a p95 of 92-145 ms against a 4-11 ms median
        recalls = [
            recall_at(K, _tanimoto(fingerprints, fingerprints[probe - 1]), got)
            for probe, got in zip(probes[:TANIMOTO_RECALL_PROBES], found, strict=False)
        ]
        rows.append(
            {
                "ef_search": ef,
                **_percentiles(times),
                "recall_at_20": round(float(np.mean(recalls)), 4),
                "recall_probes": len(recalls),
            }
        )
        print("fingerprint", rows[-1], flush=True)
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument(
        "--variants",
        nargs="+",
        default=[
            "vector:m16:ef64",
            "halfvec:m16:ef64",
            "halfvec:m32:ef128",
            "halfvec:m48:ef200",
            "bit:m16:ef64",
            "bit:m32:ef128",
        ],
        help="STORAGE:mM:efEF (HNSW over vector, halfvec or bit) or ivf:listsN (IVFFlat)",
    )
    parser.add_argument(
        "--probes", type=int, nargs="+", default=[5, 10, 20, 40], help="ivfflat.probes values"
    )
    parser.add_argument(
        "--ef-search", type=int, nargs="+", default=[200, 400, 800, 1000], help="at most 1000"
    )
    parser.add_argument(
        "--fetch", type=int, nargs="+", default=[20, 40, 100], help="rows the index returns"
    )
    parser.add_argument("--checkpoint", type=Path, default=CHECKPOINT)
    parser.add_argument("--cache", type=Path, default=load_settings().home / "bench-cache")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", type=Path)
    args = parser.parse_args(argv)
    library = build_library(args.size, "model", args.checkpoint, args.cache, args.seed)
    queries = query_vectors(args.queries, "model", args.checkpoint, args.seed)
    probes = np.random.default_rng(args.seed).integers(1, args.size + 1, args.queries)
    cuts = exact_cuts(library.vectors, queries)
    rows = []
    with scratch_database() as engine:
        if load_without_indexes(engine, library) != 1:
            raise RuntimeError("the sweep's index DDL assumes model id 1 in a fresh database")
        for variant in map(Variant.parse, args.variants):
            with engine.connect() as conn:
                conn.execute(text("SET maintenance_work_mem = '4GB'"))
                with timed() as build:
                    conn.execute(text(variant.ddl()))
                    conn.commit()
                size = conn.execute(text("SELECT pg_relation_size('ix_sweep')")).scalar()
                if variant.storage == "bit":
                    sweep = sweep_fingerprints(conn, library.fingerprints, probes, args.ef_search)
                else:
                    points = args.probes if variant.storage == "ivf" else args.ef_search
                    sweep = sweep_structures(
                        conn, variant, library.vectors, queries, cuts, points, args.fetch
                    )
                conn.execute(text("DROP INDEX ix_sweep"))
                conn.commit()
            rows.append(
                {
                    "variant": variant.name,
                    "build_seconds": round(build["seconds"], 1),
                    "size_mb": round(size / 2**20, 1),
                    "sweep": sweep,
                }
            )
            # written after every variant: a long sweep stopped early keeps what it measured
            write_result(
                "index_sweep",
                {"compounds": args.size, "queries": args.queries, "rows": rows},
                args.output,
            )


if __name__ == "__main__":
    main()
