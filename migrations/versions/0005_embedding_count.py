"""Count each model's structure embeddings in the model row, kept by statement triggers, so an
unfiltered molvis_search() reports how many structures it searched without counting them:
count(*) over 1M embeddings cost ~45 ms per query, more than the HNSW search itself. Rows never
move between models (upserts replace the vector only), so inserts, deletes and truncates are
all that change a count.

Revision ID: 0005_embedding_count
Revises: 0004_search
Create Date: 2026-11-24
"""

import importlib.util
from pathlib import Path

import sqlalchemy as sa
from alembic import op

revision = "0005_embedding_count"
down_revision = "0004_search"
branch_labels = None
depends_on = None

COUNT_QUERY = "(SELECT count(*) FROM structure_embedding x WHERE x.model_id = %s)"
STORED_COUNT = "(SELECT m.structure_embeddings FROM model m WHERE m.id = %s)"

TRIGGER_FUNCTION = """
CREATE FUNCTION molvis_count_structure_embeddings() RETURNS trigger
LANGUAGE plpgsql AS $fn$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        UPDATE model SET structure_embeddings = 0;
        RETURN NULL;
    END IF;
    IF TG_OP = 'DELETE' THEN
        UPDATE model m SET structure_embeddings = m.structure_embeddings - d.n
        FROM (SELECT model_id, count(*) AS n FROM old_rows GROUP BY model_id) d
        WHERE m.id = d.model_id;
    END IF;
    IF TG_OP = 'INSERT' THEN
        UPDATE model m SET structure_embeddings = m.structure_embeddings + d.n
        FROM (SELECT model_id, count(*) AS n FROM new_rows GROUP BY model_id) d
        WHERE m.id = d.model_id;
    END IF;
    RETURN NULL;
END
$fn$;
"""
TRIGGERS = {
    "insert": "AFTER INSERT ON structure_embedding REFERENCING NEW TABLE AS new_rows",
    "delete": "AFTER DELETE ON structure_embedding REFERENCING OLD TABLE AS old_rows",
    "truncate": "AFTER TRUNCATE ON structure_embedding",
}


def _search_function_0004() -> str:
    path = Path(__file__).with_name("0004_search.py")
    spec = importlib.util.spec_from_file_location("molvis_migration_0004", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.SEARCH_FUNCTION


def upgrade() -> None:
    op.add_column(
        "model",
        sa.Column("structure_embeddings", sa.BigInteger, nullable=False, server_default="0"),
    )
    op.execute(
        "UPDATE model m SET structure_embeddings = "
        "(SELECT count(*) FROM structure_embedding e WHERE e.model_id = m.id)"
    )
    op.execute(TRIGGER_FUNCTION)
    for name, when in TRIGGERS.items():
        op.execute(
            f"CREATE TRIGGER structure_embedding_count_{name} {when} "
            "FOR EACH STATEMENT EXECUTE FUNCTION molvis_count_structure_embeddings()"
        )
    original = _search_function_0004()
    if COUNT_QUERY not in original:
        raise RuntimeError(
            "0004's molvis_search() no longer holds the count this migration replaces"
        )
    op.execute(original.replace(COUNT_QUERY, STORED_COUNT))


def downgrade() -> None:
    op.execute(_search_function_0004())
    for name in TRIGGERS:
        op.execute(f"DROP TRIGGER structure_embedding_count_{name} ON structure_embedding")
    op.execute("DROP FUNCTION molvis_count_structure_embeddings()")
    op.drop_column("model", "structure_embeddings")
