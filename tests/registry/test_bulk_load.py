"""Files at scale: normalisation in worker processes gives what the inline path gives (structure
libraries and spectrum files), the cycle collector comes back after a file, and a bulk load
drops the fingerprint index and rebuilds it once (or rolls the drop back with the load)."""

import gc
import gzip
import itertools

from sqlalchemy import text

from registry.db import bulk_indexes
from registry.db.connection import session_scope
from registry.ingest.files import TextMember
from registry.ingest.parsers import ParseError
from registry.ingest.prepare import prepare_batch, prepared_batches
from registry.ingest.summary import IngestOptions
from tests.builders import write
from tests.conftest import TABLES, count, first_mgf_blocks, ingest, shared

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
    assert not bulk_indexes.is_bulk(50_000, 0)  # a small first load keeps the index
    assert bulk_indexes.is_bulk(50_001, 0)
    assert bulk_indexes.is_bulk(100_001, 1_000_000)
    assert not bulk_indexes.is_bulk(
        99_999, 1_000_000
    )  # a tenth of the table or less: insert under it


def test_workers_prepare_what_the_inline_path_prepares():
    from registry.ingest.parsers.structures import parse_structures

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
    monkeypatch.setattr(bulk_indexes, "BULK_MIN_ROWS", 100)
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
    import registry.ingest.pipeline as ingest_module

    monkeypatch.setattr(bulk_indexes, "BULK_MIN_ROWS", 100)

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


def _registry(engine) -> tuple[list, ...]:
    """What an MS/MS ingest wrote, without the ids and times that differ between runs."""
    with engine.connect() as conn:
        return tuple(
            conn.execute(text(query)).all()
            for query in (
                "SELECT inchikey, smiles, formula, names, external_ids, fingerprint::text "
                "FROM compound ORDER BY inchikey",
                "SELECT c.inchikey, s.content_hash, s.record_id, s.metadata, s.precursor_mz, "
                "s.adduct, s.mz, s.intensity FROM msms_spectrum s JOIN compound c "
                "ON c.id = s.compound_id ORDER BY s.content_hash",
                "SELECT record_no, reason FROM rejected_record ORDER BY record_no",
                "SELECT count(*) FROM compound_source",
            )
        )


def test_a_spectrum_file_loads_the_same_with_a_worker(engine, tmp_path, monkeypatch):
    """`molvis ingest` gives large MS/MS files one worker: in batches of 40, whose compounds
    repeat from batch to batch, it writes the registry the inline path writes (fingerprints,
    names, spectra, rejects), and Python's cycle collector is on again afterwards."""
    monkeypatch.setattr("registry.ingest.pipeline.BATCH_SIZE", 40)
    mgf = first_mgf_blocks(shared("massbank", "massbank_ms2.mgf.gz"), 200)
    path = write(tmp_path, "mb.mgf", mgf + "BEGIN IONS\nSMILES=C1CC(\n30 1\nEND IONS\n")
    inline = ingest(engine, "msms", path, "massbank", IngestOptions(workers=0))
    written = _registry(engine)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE"))
    pooled = ingest(engine, "msms", path, "massbank", IngestOptions(workers=1))
    assert _registry(engine) == written
    assert (pooled.inserted, pooled.rejected) == (inline.inserted, inline.rejected) != (0, 0)
    assert len({row[0] for row in written[1]}) < len(written[1]) / 2  # compounds repeat
    assert gc.isenabled()


def test_the_cycle_collector_is_back_after_a_failed_file(engine, tmp_path):
    path = write(tmp_path, "bad.mgf", "this is no MGF\n")
    assert ingest(engine, "msms", path, "lab").status == "failed"
    assert gc.isenabled()


def test_a_backlog_backfill_rebuilds_the_index_it_dropped(engine, tmp_path, monkeypatch):
    from molvis.workflows.embedding import embed_backfill

    monkeypatch.setattr(bulk_indexes, "BULK_MIN_ROWS", 10)
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
    from migrations.structure_index import ivf_lists

    assert [ivf_lists(n) for n in (0, 499, 5_000, 1_000_000)] == [1, 1, 10, 2000]
    assert [ivf_lists(n) for n in (1_440_000, 4_000_000, 120_000_000)] == [2400, 3000, 3000]


def test_peak_arrays_reach_the_database_exactly(engine, tmp_path):
    """Peaks go to a binary COPY in PostgreSQL's binary array form written here
    (registry.db.bulk.array_binary): every double comes back bit for bit and every real as
    numpy's float32 of it, extremes, negatives and an empty array included; an ingested MGF's
    stored peaks equal its parsed ones."""
    import numpy as np

    from registry.db.bulk import array_binary, copy_rows
    from registry.ingest.parsers.mgf import parse_mgf

    values = np.array([0.1, 1 / 3, 5e-324, -1e-300, 123456.7890123456, 1.7976931348623157e308])
    reals = np.array([0.1, 1 / 3, 1e-40, -2.5, 3.4e38, 16777217.0])
    with session_scope(engine) as session:
        session.execute(text("CREATE TABLE peaks_check (k int PRIMARY KEY, d float8[], r real[])"))
        rows = [
            (k, array_binary(v, "float8"), array_binary(r, "float4"))
            for k, v, r in [
                (1, values, reals),
                (2, values[:0], reals[:0]),
                (3, values[:1], reals[:1]),
            ]
        ]
        copy_rows(
            session,
            "peaks_check",
            ["k", "d", "r"],
            rows,
            ["k"],
            binary_types=["int4", "bytea", "bytea"],
        )
        back = session.execute(text("SELECT d, r FROM peaks_check ORDER BY k")).all()
        session.execute(text("DROP TABLE peaks_check"))
    assert np.array_equal(np.array(back[0].d), values)
    assert np.array_equal(np.array(back[0].r, np.float32), reals.astype(np.float32))
    assert back[1] == ([], [])
    assert back[2].d == [0.1] and np.float32(back[2].r[0]) == np.float32(0.1)
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
