import importlib.util

from sqlalchemy import inspect, text

from registry import migrate


def test_upgrade_downgrade_upgrade(migrated_engine):
    assert migrate.current_revision(migrated_engine) == "0010_fingerprint_gaps"
    migrate.downgrade("base", engine=migrated_engine)
    assert migrate.current_revision(migrated_engine) is None
    assert "compound" not in inspect(migrated_engine).get_table_names()
    migrate.upgrade(engine=migrated_engine)
    tables = set(inspect(migrated_engine).get_table_names())
    assert {
        "compound",
        "msms_spectrum",
        "ir_spectrum",
        "ccs_value",
        "rejected_record",
        "ingest_run",
        "source",
    } <= tables
    indexes = {ix["name"] for ix in inspect(migrated_engine).get_indexes("compound")}
    assert "ix_compound_fingerprint_hnsw" in indexes


def _search_function(engine) -> str:
    with engine.connect() as conn:
        return conn.execute(
            text("SELECT pg_get_functiondef('molvis_search'::regproc)")
        ).scalar_one()


def test_head_holds_the_search_function_written_whole(migrated_engine):
    """0006 writes molvis_search() out whole: the database's function is that text, the same
    one 0005 built by patching 0004, and going down to 0005 keeps it."""
    path = migrate.MIGRATIONS_DIR / "versions" / "0006_search_whole.py"
    spec = importlib.util.spec_from_file_location("m0006", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    body = module.SEARCH_FUNCTION.split("$fn$")[1]
    at_head = _search_function(migrated_engine)
    assert body.strip() in at_head and "structure_embeddings FROM model" in at_head
    migrate.downgrade("0005_embedding_count", engine=migrated_engine)
    try:
        assert _search_function(migrated_engine) == at_head
    finally:
        migrate.upgrade(engine=migrated_engine)
