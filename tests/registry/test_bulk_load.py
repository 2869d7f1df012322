"""Structure libraries at scale: normalisation in worker processes gives what the inline path
gives, and a bulk load drops the fingerprint index and rebuilds it once (or rolls the drop
back with the load)."""

import gzip
import itertools

from sqlalchemy import text

from registry import indexes
from registry.db import session_scope
from registry.ingest import IngestOptions
from registry.parsers import ParseError
from registry.prepare import prepare_batch, prepared_batches
from registry.sources import TextMember
from tests.builders import write
from tests.conftest import count, ingest, shared

INDEX = "ix_compound_fingerprint_hnsw"


def _library(n: int) -> str:
    with gzip.open(shared("library", "test.csv.gz"), "rt") as handle:
        return "".join(itertools.islice(handle, n + 1))


def _indexes(engine) -> set[str]:
    with engine.connect() as conn:
        return set(
            conn.execute(text("SELECT indexname FROM pg_indexes WHERE tablename = 'compound'"))
            .scalars()
            .all()
        )


def test_the_bulk_rule():
    assert not indexes.is_bulk(50_000, 0)  # a small first load keeps the index
    assert indexes.is_bulk(50_001, 0)
    assert indexes.is_bulk(100_001, 1_000_000)
    assert not indexes.is_bulk(99_999, 1_000_000)  # a tenth of the table or less: insert under it


def test_workers_prepare_what_the_inline_path_prepares():
    from registry.parsers.structures import parse_structures

    text_ = _library(60) + "C1CC(\nc1ccccc1\n"
    parsed = list(parse_structures(TextMember("lib.csv", "lib.csv", text_)))
    batches = [parsed[i : i + 25] for i in range(0, len(parsed), 25)]
    inline = [prepare_batch(b, fingerprints=True) for b in batches]
    pooled = list(prepared_batches(iter(batches), fingerprints=True, workers=1))
    assert [p.fingerprints for p in pooled] == [p.fingerprints for p in inline]
    flat = [o for p in pooled for o in p.outcomes]
    assert [o if isinstance(o, str) else o.inchikey for o in flat] == [
        o if isinstance(o, str) else o.inchikey for p in inline for o in p.outcomes
    ]
    assert sum(isinstance(o, str) for o in flat) == 1  # the unparsable SMILES, with its reason
    assert sum(len(p.fingerprints) for p in pooled) == 61


def test_bulk_load_drops_the_fingerprint_index_and_rebuilds_it(engine, tmp_path, monkeypatch):
    monkeypatch.setattr(indexes, "BULK_MIN_ROWS", 100)
    path = write(tmp_path, "lib.csv", _library(300))
    summary = ingest(engine, "structures", path, "moses")
    assert summary.status == "loaded" and summary.compounds_new == 300
    assert summary.rebuilt_indexes == [INDEX]
    assert INDEX in _indexes(engine)
    assert summary.fingerprints == 300
    with engine.connect() as conn:
        assert (
            conn.execute(text("SELECT count(*) FROM compound WHERE fingerprint IS NULL")).scalar()
            == 0
        )
        conn.execute(text("SET enable_seqscan = off"))
        plan = "\n".join(
            conn.execute(
                text(
                    "EXPLAIN SELECT id FROM compound ORDER BY fingerprint <%> "
                    "(SELECT fingerprint FROM compound WHERE id = 1) LIMIT 5"
                )
            ).scalars()
        )
    assert INDEX in plan  # the rebuilt index answers Tanimoto queries
    small = ingest(engine, "structures", write(tmp_path, "two.smi", "CCO\nCCN\n"), "lab")
    assert small.rebuilt_indexes == [] and small.fingerprints == 2


def test_a_failed_bulk_load_puts_the_index_back(engine, tmp_path, monkeypatch):
    import registry.ingest as ingest_module

    monkeypatch.setattr(indexes, "BULK_MIN_ROWS", 100)

    def fail(state):
        raise ParseError(state.run.file_path, "failed after the index was dropped", 1)

    monkeypatch.setattr(ingest_module, "_resolve_key_only", fail)
    summary = ingest(engine, "structures", write(tmp_path, "lib.csv", _library(300)), "moses")
    assert summary.status == "failed" and "failed after the index was dropped" in summary.error
    assert INDEX in _indexes(engine)
    assert count(engine, "compound") == 0


def test_workers_option_loads_the_same_registry(engine, tmp_path):
    path = write(tmp_path, "lib.csv", _library(120) + "C1CC(\n")
    summary = ingest(engine, "structures", path, "moses", IngestOptions(workers=2))
    assert (summary.compounds_new, summary.rejected, summary.fingerprints) == (120, 1, 120)
    with session_scope(engine) as session:
        assert session.execute(text("SELECT count(fingerprint) FROM compound")).scalar() == 120
    assert ingest(engine, "structures", path, "moses", IngestOptions(workers=2)).status == (
        "unchanged"
    )


def test_a_backlog_backfill_rebuilds_the_index_it_dropped(engine, tmp_path, monkeypatch):
    from molvis.workflows.embedding import embed_backfill

    monkeypatch.setattr(indexes, "BULK_MIN_ROWS", 10)
    ingest(engine, "structures", write(tmp_path, "lib.csv", _library(30)), "moses")
    counts = embed_backfill(engine, None, measurements=False, workers=0)
    assert counts["structure"] == 30
    with engine.connect() as conn:
        definition = conn.execute(
            text(
                "SELECT indexdef FROM pg_indexes WHERE indexname = "
                "'ix_structure_embedding_half_m' || (SELECT id FROM model WHERE is_active)"
            )
        ).scalar_one()  # IVFFlat, its one list learnt from the 30 vectors
    assert "USING ivfflat" in definition and "lists='1'" in definition.replace(" ", "")


def test_ivf_lists_are_twice_pgvector_guidance_within_build_memory():
    """rows / 500 up to 1M rows, 2 sqrt(rows) beyond, never fewer than one list nor more than
    the 3,000 whose k-means fits the build's memory."""
    from registry.embeddings import ivf_lists

    assert [ivf_lists(n) for n in (0, 499, 5_000, 1_000_000)] == [1, 1, 10, 2000]
    assert [ivf_lists(n) for n in (1_440_000, 4_000_000, 120_000_000)] == [2400, 3000, 3000]


def test_peak_arrays_reach_the_database_exactly(engine, tmp_path):
    """Peaks go to COPY as array literals written here (registry.bulk.array_text): every double
    comes back bit for bit, the extremes and an empty array included, and an ingested MGF's
    stored peaks equal its parsed ones."""
    import numpy as np

    from registry.bulk import array_text
    from registry.parsers.mgf import parse_mgf

    values = np.array([0.1, 1 / 3, 5e-324, 1e-300, 123456.7890123456, 1.7976931348623157e308])
    with engine.connect() as conn:
        back = conn.execute(
            text("SELECT CAST(:a AS double precision[])"), {"a": array_text(values)}
        )
        assert np.array_equal(np.array(back.scalar_one()), values)
        empty = conn.execute(
            text("SELECT CAST(:a AS double precision[])"), {"a": array_text(values[:0])}
        )
        assert empty.scalar_one() == []
    mgf = "\n".join(
        [
            "BEGIN IONS",
            "PEPMASS=195.0876",
            "SMILES=Cn1cnc2c1c(=O)n(C)c(=O)n2C",
            "ADDUCT=[M+H]+",
            "IONMODE=positive",
            "42.0338 12.5",
            "110.07127836 1000",
            "138.0662 453.25",
            "END IONS",
            "",
        ]
    )
    path = write(tmp_path, "caffeine.mgf", mgf)
    ingest(engine, "msms", path, "check")
    (parsed,) = [p.record for p in parse_mgf(TextMember(path.name, path.name, text=mgf))]
    with engine.connect() as conn:
        mz, intensity = conn.execute(text("SELECT mz, intensity FROM msms_spectrum")).one()
    assert mz == parsed.mz.tolist()
    assert np.array_equal(np.array(intensity, np.float32), parsed.intensity.astype(np.float32))
