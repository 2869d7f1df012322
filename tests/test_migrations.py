from sqlalchemy import inspect

from registry import migrate


def test_upgrade_downgrade_upgrade(migrated_engine):
    assert migrate.current_revision(migrated_engine) == "0005_embedding_count"
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
