import json
import os
import subprocess
import sys

import pytest
from sqlalchemy import inspect, text

from migrations.functions import SQL, function_sql, versions
from registry.db import migrate
from tests.conftest import REPO


def test_upgrade_downgrade_upgrade(migrated_engine):
    assert migrate.current_revision(migrated_engine) == "0024_ranker_with_references"
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


def _function_body(revision: str) -> str:
    return function_sql("molvis_search", revision).split("$fn$")[1].strip()


def test_the_filter_counts_function_comes_and_goes_with_0019(migrated_engine):
    def installed() -> bool:
        with migrated_engine.connect() as conn:
            return conn.execute(text("SELECT to_regproc('molvis_filter_counts')")).scalar()

    assert installed()
    migrate.downgrade("0018_open_query_k_skeletons", engine=migrated_engine)
    try:
        assert not installed()
    finally:
        migrate.upgrade(engine=migrated_engine)
    assert installed()


def test_the_ranker_column_and_function_come_and_go_with_0020(migrated_engine):
    def installed() -> tuple[bool, bool]:
        with migrated_engine.connect() as conn:
            function = conn.execute(text("SELECT to_regproc('molvis_rerank')")).scalar()
        columns = {c["name"] for c in inspect(migrated_engine).get_columns("model")}
        return function is not None, "ranker" in columns

    assert installed() == (True, True)
    migrate.downgrade("0019_filter_counts", engine=migrated_engine)
    try:
        assert installed() == (False, False)
    finally:
        migrate.upgrade(engine=migrated_engine)
    assert installed() == (True, True)


@pytest.mark.parametrize(
    "below, up, function_below, cleared",
    [
        ("0020_learned_ranker", "0021_ranker_presence", "0020", 1),
        ("0023_ccs_uncertainty", "0024_ranker_with_references", "0021", 2),
    ],
)
def test_a_ranker_migration_clears_the_rankers_its_function_cannot_read(
    migrated_engine, below, up, function_below, cleared
):
    """Going up to 0021 (0024) clears rankers of version 1 (2), whose coefficients per evidence
    its molvis_rerank() cannot read (three from 0021, four from 0024), keeps one of the next
    version and installs its function; going down clears that one and restores the function
    below."""
    from registry.db.connection import session_scope
    from registry.learned.versions import get_model, register_model, set_ranker

    def ranker(version: int) -> dict:
        return {"version": version, "evidence": ["model_score"], "coef": [1.0] * (version + 1)}

    def stored(name: str):
        with session_scope(migrated_engine) as session:
            return get_model(session, name).ranker

    def function() -> str:
        with migrated_engine.connect() as conn:
            return conn.execute(
                text("SELECT pg_get_functiondef('molvis_rerank'::regproc)")
            ).scalar()

    def body(version: str) -> str:
        return function_sql("molvis_rerank", version).split("$fn$")[1].strip()

    with session_scope(migrated_engine) as session:
        for name in ("old", "new"):
            register_model(session, name, "v", "/nowhere.pt", {}, {}, activate=False)
    try:
        migrate.downgrade(below, engine=migrated_engine)
        assert body(function_below) in function()
        with session_scope(migrated_engine) as session:
            set_ranker(session, "old", ranker(cleared))
            set_ranker(session, "new", ranker(cleared + 1))
        migrate.upgrade(up, engine=migrated_engine)
        assert (stored("old"), stored("new")) == (None, ranker(cleared + 1))
        assert body(up[:4]) in function()
        migrate.downgrade(below, engine=migrated_engine)
        assert stored("new") is None
    finally:
        migrate.upgrade(engine=migrated_engine)
        with migrated_engine.begin() as conn:
            conn.execute(text("DELETE FROM model WHERE name IN ('old', 'new')"))


def test_head_holds_the_search_function_written_whole(migrated_engine):
    """0023 writes molvis_search() out whole (a predicted-CCS tolerance passed on only when
    given): the database's function is that text; going down to 0022 restores 0018's (the open
    query fetching until k skeletons), to 0017 0017's (the mass
    window planned per call), to 0016 0015's (the open query on IVFFlat), to 0014 0014's
    (HNSW's ef_search), to 0013 0013's (custom plans again, the vectors' mass column gone), to
    0012 0012's, to 0011 0011's (and drops the predictor tables), down to 0010 0005's, and up
    again 0018's."""
    at_head = _search_function(migrated_engine)
    assert _function_body("0023") in at_head
    assert "plan_cache_mode" in at_head and "ivfflat.probes" in at_head
    assert "ccs_predictor_name" in at_head and "molvis_ccs_fits" in at_head
    migrate.downgrade("0022_shipped_model_paths", engine=migrated_engine)
    try:
        below = _search_function(migrated_engine)
        assert _function_body("0018") in below and _function_body("0023") not in below
        assert "greatest(ccs_tolerance_pct, p.tolerance_pct)" in below
        at_0018 = below
        migrate.downgrade("0017_window_planned_per_call", engine=migrated_engine)
        below = _search_function(migrated_engine)
        assert _function_body("0017") in below
        assert "wanted := 4 * wanted" not in below and "wanted := 4 * wanted" in at_0018
        migrate.downgrade("0016_ivf_lists_by_500", engine=migrated_engine)
        below = _search_function(migrated_engine)
        assert _function_body("0015") in below
        assert "USING lo, hi" not in below and "USING lo, hi" in at_head
        migrate.downgrade("0014_window_in_mass_order", engine=migrated_engine)
        below = _search_function(migrated_engine)
        assert _function_body("0014") in below
        assert "hnsw.ef_search" in below and "ivfflat" not in below
        migrate.downgrade("0013_rank_first", engine=migrated_engine)
        below = _search_function(migrated_engine)
        assert _function_body("0013") in below and "plan_cache_mode" not in below
        with migrated_engine.connect() as conn:
            columns = conn.execute(
                text(
                    "SELECT column_name FROM information_schema.columns "
                    "WHERE table_name = 'structure_embedding'"
                )
            ).scalars()
            assert "monoisotopic_mass" not in set(columns)
        migrate.downgrade("0012_ccs_prediction", engine=migrated_engine)
        below = _search_function(migrated_engine)
        assert _function_body("0012") in below
        migrate.downgrade("0011_library_search", engine=migrated_engine)
        below = _search_function(migrated_engine)
        assert _function_body("0011") in below
        with migrated_engine.connect() as conn:
            assert not conn.execute(text("SELECT to_regclass('ccs_prediction')")).scalar()
        migrate.downgrade("0010_fingerprint_gaps", engine=migrated_engine)
        below = _search_function(migrated_engine)
        assert _function_body("0005") in below
        assert "library_keys" not in below
        with migrated_engine.connect() as conn:
            assert not conn.execute(text("SELECT to_regclass('library_state')")).scalar()
    finally:
        migrate.upgrade(engine=migrated_engine)
    assert _search_function(migrated_engine) == at_head


def _structure_index_kinds(engine) -> dict[str, str]:
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT i.relname, a.amname FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid "
                "JOIN pg_class t ON t.oid = x.indrelid JOIN pg_am a ON a.oid = i.relam "
                "WHERE t.relname = 'structure_embedding'"
            )
        )
        return dict(rows.all())


def _lists(engine, index: str) -> int:
    with engine.connect() as conn:
        options = conn.execute(
            text("SELECT reloptions FROM pg_class WHERE relname = :n"), {"n": index}
        ).scalar_one()
    return int(dict(o.split("=") for o in options)["lists"])


def test_0015_and_0016_make_each_model_index_ivfflat_with_lists_for_its_rows(migrated_engine):
    """A model's half-precision HNSW index (0013/0014) becomes IVFFlat under the same name,
    its lists from the model's vector count (0015: pgvector's guidance, 0016: twice it, at
    most 3,000); going down gives each revision's index back."""
    migrate.downgrade("0014_window_in_mass_order", engine=migrated_engine)
    try:
        with migrated_engine.begin() as conn:
            model = conn.execute(
                text(
                    "INSERT INTO model (name, version, path, config, is_active, "
                    "structure_embeddings) VALUES ('m', 'v', '-', '{}', false, 2500000) "
                    "RETURNING id"
                )
            ).scalar_one()
            conn.execute(
                text(
                    f"CREATE INDEX ix_structure_embedding_half_m{model} ON structure_embedding "
                    "USING hnsw ((embedding::halfvec(256)) halfvec_ip_ops) "
                    f"WHERE model_id = {model}"
                )
            )
        migrate.upgrade("0015_open_query_ivfflat", engine=migrated_engine)
        name = f"ix_structure_embedding_half_m{model}"
        assert _structure_index_kinds(migrated_engine)[name] == "ivfflat"
        assert _lists(migrated_engine, name) == 1581  # sqrt(2.5M): above 1M rows
        migrate.upgrade(engine=migrated_engine)  # 0016: twice that, within the build's memory
        assert _lists(migrated_engine, name) == 3000
        migrate.downgrade("0015_open_query_ivfflat", engine=migrated_engine)
        assert _lists(migrated_engine, name) == 1581
        migrate.downgrade("0014_window_in_mass_order", engine=migrated_engine)
        assert _structure_index_kinds(migrated_engine)[name] == "hnsw"
    finally:
        migrate.upgrade(engine=migrated_engine)
        with migrated_engine.begin() as conn:
            conn.execute(text(f"DROP INDEX IF EXISTS ix_structure_embedding_half_m{model}"))
            conn.execute(text("DELETE FROM model WHERE name = 'm' AND version = 'v'"))


def _structure_indexes(engine) -> set[str]:
    with engine.connect() as conn:
        return set(
            conn.execute(
                text("SELECT indexname FROM pg_indexes WHERE tablename = 'structure_embedding'")
            ).scalars()
        )


def test_0013_rebuilds_each_model_index_at_half_precision(migrated_engine):
    """A registry indexed before 0013 (float32 HNSW per model) gets the half-precision index
    molvis_search() now queries; going down gives the float32 one back."""
    migrate.downgrade("0012_ccs_prediction", engine=migrated_engine)
    try:
        with migrated_engine.begin() as conn:
            conn.execute(
                text(
                    "CREATE INDEX ix_structure_embedding_hnsw_m7 ON structure_embedding "
                    "USING hnsw (embedding vector_ip_ops) WHERE model_id = 7"
                )
            )
        migrate.upgrade("0014_window_in_mass_order", engine=migrated_engine)
        indexes = _structure_indexes(migrated_engine)
        assert "ix_structure_embedding_half_m7" in indexes
        assert "ix_structure_embedding_hnsw_m7" not in indexes
        migrate.downgrade("0012_ccs_prediction", engine=migrated_engine)
        indexes = _structure_indexes(migrated_engine)
        assert "ix_structure_embedding_hnsw_m7" in indexes
        assert "ix_structure_embedding_half_m7" not in indexes
    finally:
        migrate.upgrade(engine=migrated_engine)
        with migrated_engine.begin() as conn:
            conn.execute(text("DROP INDEX IF EXISTS ix_structure_embedding_half_m7"))


def test_each_version_of_a_sql_function_is_written_once_in_its_own_file():
    """No migration holds a function's text; each version file differs from the one before
    and names a revision that exists; an unknown version says which ones there are."""
    revisions = {p.name[:4] for p in (SQL.parent / "versions").glob("0*.py")}
    for function in ("molvis_search", "molvis_ccs_fits", "molvis_filter_counts"):
        texts = [function_sql(function, v) for v in versions(function)]
        assert texts and all(f"FUNCTION {function}(" in t for t in texts)
        assert len(set(texts)) == len(texts)
        assert set(versions(function)) <= revisions
    for migration in (SQL.parent / "versions").glob("0*.py"):
        assert "FUNCTION molvis_search(" not in migration.read_text(), migration.name
    with pytest.raises(FileNotFoundError, match="known: 0004, 0005, 0011"):
        function_sql("molvis_search", "0003")


def test_an_owner_that_is_not_a_superuser_migrates_its_database(migrated_engine):
    """As SECURITY.md advises: a role that owns molvis's database and nothing more migrates it
    once a superuser installed pgvector there (the read-only role exists cluster-wide); where
    pgvector is missing it is told what to ask for, in one line."""
    import uuid

    from sqlalchemy import create_engine

    tag = uuid.uuid4().hex[:8]
    owner, ready, bare = f"owner_{tag}", f"owned_{tag}", f"bare_{tag}"
    admin = create_engine(migrated_engine.url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE ROLE {owner} LOGIN PASSWORD 'pw-{tag}'"))
        for name in (ready, bare):
            conn.execute(text(f"CREATE DATABASE {name} OWNER {owner}"))
    prepared = create_engine(migrated_engine.url.set(database=ready))
    with prepared.begin() as conn:
        conn.execute(text("CREATE EXTENSION vector"))
    prepared.dispose()

    def as_owner(database: str):
        return create_engine(
            migrated_engine.url.set(username=owner, password=f"pw-{tag}", database=database)
        )

    try:
        engine = as_owner(ready)
        migrate.upgrade(engine=engine)
        assert migrate.current_revision(engine) == migrate.current_revision(migrated_engine)
        # and loads and searches as the owner, by URL (as an external server is reached)
        url = engine.url.render_as_string(hide_password=False)
        env = {**os.environ, "MOLVIS_DATABASE_URL": url}
        gnps = REPO / "tests" / "data" / "gnps_pesticides_3.mgf"
        for args in (("ingest", "msms", str(gnps), "--source", "lab"), ("stats", "--json")):
            done = subprocess.run(
                [sys.executable, "-m", "molvis", *args], env=env, capture_output=True, text=True
            )
            assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["msms_spectra"] == 3
        engine.dispose()
        engine = as_owner(bare)
        with pytest.raises(Exception) as refused:
            migrate.upgrade(engine=engine)
        assert (
            f"pgvector is not installed in this database and {owner} may not install it: a "
            "superuser runs CREATE EXTENSION vector in it once"
        ) in str(refused.value)
        engine.dispose()
    finally:
        with admin.connect() as conn:
            for name in (ready, bare):
                conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            conn.execute(text(f"REASSIGN OWNED BY {owner} TO CURRENT_USER"))
            conn.execute(text(f"DROP OWNED BY {owner}"))
            conn.execute(text(f"DROP ROLE {owner}"))
        admin.dispose()


def test_0023_gives_each_prediction_its_uncertainty_and_takes_it_away(migrated_engine):
    """Up: the column and the three functions that read it (0023's texts); down: no column,
    and each function as the version before (which still runs: counted below)."""

    def state() -> tuple[bool, list[str]]:
        columns = {c["name"] for c in inspect(migrated_engine).get_columns("ccs_prediction")}
        with migrated_engine.connect() as conn:
            texts = [
                conn.execute(text(f"SELECT pg_get_functiondef('{f}'::regproc)")).scalar_one()
                for f in ("molvis_ccs_fits", "molvis_search", "molvis_filter_counts")
            ]
        return "uncertainty_pct" in columns, texts

    def body(function: str, revision: str) -> str:
        return function_sql(function, revision).split("$fn$")[1].strip()

    column, texts = state()
    assert column
    assert all(body(f, "0023") in t for f, t in zip(FUNCTIONS, texts, strict=True))
    migrate.downgrade("0022_shipped_model_paths", engine=migrated_engine)
    try:
        column, texts = state()
        assert not column
        previous = ("0012", "0018", "0019")
        assert all(body(f, v) in t for f, v, t in zip(FUNCTIONS, previous, texts, strict=True))
        with migrated_engine.connect() as conn:
            counts = (
                "SELECT * FROM molvis_filter_counts(neutral_mass => 180.06, ccs => 140, "
                "ccs_adduct => '[M+H]+')"
            )
            assert len(conn.execute(text(counts)).one()) == 4  # runs without the column
    finally:
        migrate.upgrade(engine=migrated_engine)
    assert state()[0]


FUNCTIONS = ("molvis_ccs_fits", "molvis_search", "molvis_filter_counts")


def test_0022_names_shipped_model_files_instead_of_a_checkout_s_path(migrated_engine):
    """Rows an older molvis wrote with an absolute path into some checkout's models/pretrained
    become `shipped:<name>`; other paths stay; going down gives this checkout's paths back."""
    from molvis.workflows.model_loading import PRETRAINED_DIR
    from registry.db.connection import session_scope
    from registry.learned.versions import get_model, register_model

    old = "/srv/lab/molvis-0.1/models/pretrained/molvis-base.pt"
    with session_scope(migrated_engine) as session:
        register_model(session, "old-shipped", "v", old, {}, {}, activate=False)
        register_model(session, "own", "v", "/home/me/mine.pt", {}, {}, activate=False)

    def paths() -> tuple[str, str]:
        with session_scope(migrated_engine) as session:
            return get_model(session, "old-shipped").path, get_model(session, "own").path

    try:
        migrate.downgrade("0021_ranker_presence", engine=migrated_engine)
        migrate.upgrade(engine=migrated_engine)
        assert paths() == ("shipped:molvis-base.pt", "/home/me/mine.pt")
        migrate.downgrade("0021_ranker_presence", engine=migrated_engine)
        assert paths() == (
            f"{PRETRAINED_DIR.resolve().as_posix()}/molvis-base.pt",
            "/home/me/mine.pt",
        )
        migrate.upgrade(engine=migrated_engine)
        assert paths() == ("shipped:molvis-base.pt", "/home/me/mine.pt")
    finally:
        with migrated_engine.begin() as conn:
            conn.execute(text("DELETE FROM model WHERE name IN ('old-shipped', 'own')"))
