"""Migration 0014: vectors kept beside their compound's mass, written in mass order, and a
molvis_search() that reads the mass window from them: its answers equal 0013's."""

import gzip
import itertools

import numpy as np
import pytest
from sqlalchemy import text

from migrations.functions import function_sql
from registry.db.connection import session_scope
from registry.learned.embeddings import structures_missing, write_structure_embeddings
from registry.learned.versions import register_model
from tests.builders import write
from tests.conftest import ingest, shared

# Stereo variants and salts beside real library molecules: skeletons with several keys.
EXTRA = [
    "C[C@H](N)C(=O)O L-alanine",
    "C[C@@H](N)C(=O)O D-alanine",
    "CC(N)C(=O)O alanine",
    "OC[C@H]1OC(O)[C@H](O)[C@@H](O)[C@@H]1O glucose",
    "OC[C@H]1OC(O)[C@H](O)[C@@H](O)[C@H]1O galactose",
    "C[C@H](O)C(=O)O L-lactic",
    "C[C@@H](O)C(=O)O D-lactic",
]


@pytest.fixture
def crowded(engine, tmp_path):
    """~300 real structures with random unit vectors (some repeated: exact score ties)."""
    with gzip.open(shared("library", "test.csv.gz"), "rt") as handle:
        smiles = [line.strip() for line in itertools.islice(handle, 1, 301)]
    lines = [f"{s} mol{i}" for i, s in enumerate(smiles)] + EXTRA
    ingest(engine, "structures", write(tmp_path, "crowd.smi", "\n".join(lines) + "\n"), "crowd")
    rng = np.random.default_rng(7)
    with session_scope(engine) as session:
        model = register_model(session, "crowd", "v1", "/nonexistent.pt", {}, {}, True)
        ids = [i for (i,) in session.execute(text("SELECT id FROM compound ORDER BY id"))]
        vectors = rng.normal(size=(len(ids), 256))
        vectors[1::7] = vectors[0]  # every 7th compound ties with the first
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        write_structure_embeddings(session, model.id, ids, vectors)
    return engine


SEARCH_0013_AS = "molvis_search_0013"


def _install_0013(engine) -> None:
    body = function_sql("molvis_search", "0013").replace(
        "FUNCTION molvis_search(", f"FUNCTION {SEARCH_0013_AS}("
    )
    with engine.begin() as conn:
        conn.execute(text(body))


def _rows(conn, function: str, params: dict) -> list[tuple]:
    return [
        tuple(r)
        for r in conn.execute(
            text(
                f"SELECT * FROM {function}(ARRAY[CAST(:q AS vector)], ARRAY['msms'], "
                "neutral_mass => :mass, ppm => :ppm, formula => :formula, k => :k, "
                "library_keys => :keys, library_scores => :scores, library_peaks => :peaks)"
            ),
            params,
        )
    ]


def test_answers_equal_those_of_0013(crowded):
    """Windows of every size (empty to the whole registry), k cutting through score ties,
    library matches inside and outside the window, confident and not, a formula filter, and
    the open query: row for row the same as 0013's function."""
    _install_0013(crowded)
    rng = np.random.default_rng(11)
    try:
        with crowded.connect() as conn:
            compounds = conn.execute(
                text("SELECT inchikey, monoisotopic_mass, formula FROM compound")
            ).all()
            first = conn.execute(
                text("SELECT embedding::text FROM structure_embedding ORDER BY compound_id")
            ).scalar()
            compared = 0
            for case in range(200):
                q = rng.normal(size=256)
                query = first if case % 5 == 0 else "[" + ",".join(map(str, q)) + "]"
                key, mass, formula = compounds[rng.integers(len(compounds))]
                matched = [compounds[i][0] for i in rng.choice(len(compounds), case % 4)]
                params = {
                    "q": query,
                    "mass": None if case % 6 == 5 else mass + float(rng.normal(0, 0.002)),
                    "ppm": float(rng.choice([1, 100, 2_000, 20_000, 1e6])),
                    "formula": formula if case % 9 == 4 else None,
                    "k": int(rng.choice([1, 3, 5, 20])),
                    "keys": matched,
                    "scores": [float(s) for s in rng.uniform(0.5, 1.0, len(matched))],
                    "peaks": [int(p) for p in rng.integers(2, 12, len(matched))],
                }
                shipped = _rows(conn, "molvis_search", params)
                assert shipped == _rows(conn, SEARCH_0013_AS, params), params
                compared += len(shipped)
        assert compared > 600
    finally:
        with crowded.begin() as conn:
            conn.execute(text(f"DROP FUNCTION {SEARCH_0013_AS}"))


def test_each_vector_carries_its_compounds_mass(crowded):
    """The trigger copies the compound's mass for every writer, on insert and on upsert."""
    with crowded.connect() as conn:
        mismatched = conn.execute(
            text(
                "SELECT count(*) FROM structure_embedding e JOIN compound c "
                "ON c.id = e.compound_id WHERE e.monoisotopic_mass IS DISTINCT FROM "
                "c.monoisotopic_mass"
            )
        ).scalar()
        held = conn.execute(text("SELECT count(*) FROM structure_embedding")).scalar()
    assert held == 307 and mismatched == 0


def test_the_backfill_reads_compounds_in_mass_order(engine, tmp_path):
    """Pages of compounds without vectors come in ascending (mass, id), so a whole backfill
    writes the vectors as the mass window reads them; every compound exactly once."""
    lines = [f"{'C' * n}O alcohol{n}" for n in range(1, 40)] + ["OCC ethanol-twin", *EXTRA]
    ingest(engine, "structures", write(tmp_path, "order.smi", "\n".join(lines) + "\n"), "x")
    with session_scope(engine) as session:
        model = register_model(session, "m", "v1", "/nonexistent.pt", {}, {}, True)
        pages = list(structures_missing(session, model.id, batch_size=4))
        ids = [cid for page in pages for cid, _ in page]
        mass = dict(session.execute(text("SELECT id, monoisotopic_mass FROM compound")).all())
    assert len(pages) > 5 and sorted(ids) == sorted(mass)
    keys = [(mass[i], i) for i in ids]
    assert keys == sorted(keys)
