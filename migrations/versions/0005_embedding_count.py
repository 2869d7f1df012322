"""Count each model's structure embeddings in the model row, kept by statement triggers, so an
unfiltered molvis_search() reports how many structures it searched without counting them:
count(*) over 1M embeddings cost ~45 ms per query, more than the HNSW search itself. Rows never
move between models (upserts replace the vector only), so inserts, deletes and truncates are
all that change a count.

Revision ID: 0005_embedding_count
Revises: 0004_search
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

from migrations.functions import function_sql

revision = "0005_embedding_count"
down_revision = "0004_search"
branch_labels = None
depends_on = None

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
    op.execute(function_sql("molvis_search", "0005"))  # 0004's, reading the stored count


def downgrade() -> None:
    op.execute(function_sql("molvis_search", "0004"))
    for name in TRIGGERS:
        op.execute(f"DROP TRIGGER structure_embedding_count_{name} ON structure_embedding")
    op.execute("DROP FUNCTION molvis_count_structure_embeddings()")
    op.drop_column("model", "structure_embeddings")
