"""The mass window reads its candidates' vectors in mass order, and the search plans once.

Measured at 1M compounds (bench/query.py --window-only), 0013's mass window took p50 11 ms,
p95 30 ms on this machine; a window of 2,064 candidates spent 8 ms fetching each vector by
primary key from a random page, 7 ms finding the returned hits' stereo variants (every
candidate scanned once per hit), 6 ms rounding every score to numeric before the top k were
cut, and each call 1.5 ms planning its statements afresh (an empty window took 2 ms). Now:

- structure_embedding keeps its compound's monoisotopic mass (a trigger copies it from
  compound, so every writer gets it right), indexed by (model, mass); the backfill writes
  vectors in mass order (registry.learned.embeddings) and this migration clusters the table so. A
  window's vectors are then read from a few consecutive pages and scored as the index range is
  read, hash-joined with the compounds found by mass;
- compound's mass index becomes (mass, id) INCLUDE (inchikey, formula): the window's ids,
  keys and formula filter come from the index alone, and the backfill pages through it;
- a row more than 2e-6 below the k-th best unrounded score is not ranked: rounding to 6
  decimals moves a score by at most 5e-7, so it cannot reach the top k (exact);
- the stereo variants are gathered for the k returned skeletons in one join;
- the function's plans are generic (planned once per session); the path filtered without a
  mass window, whose best plan depends on which filters are given, is planned per call.

Results are unchanged (same rows, scores, JSON and variants: tests/registry/test_search.py,
and 0013's function against this one on the same windows in tests/registry/test_migrations.py).

A registry grown by many small loads after a large one holds its newest vectors out of mass
order; `CLUSTER structure_embedding` restores the layout (it locks the table while it runs).

Revision ID: 0014_window_in_mass_order
Revises: 0013_rank_first
Create Date: 2026-12-03
"""

from alembic import op

from migrations.functions import function_sql

revision = "0014_window_in_mass_order"
down_revision = "0013_rank_first"
branch_labels = None
depends_on = None

MASS_COLUMN = """
ALTER TABLE structure_embedding ADD COLUMN monoisotopic_mass float8;
UPDATE structure_embedding e SET monoisotopic_mass = c.monoisotopic_mass
FROM compound c WHERE c.id = e.compound_id;
ALTER TABLE structure_embedding ALTER COLUMN monoisotopic_mass SET NOT NULL;
CREATE FUNCTION molvis_structure_embedding_mass() RETURNS trigger LANGUAGE plpgsql AS $t$
BEGIN
    SELECT c.monoisotopic_mass INTO NEW.monoisotopic_mass FROM compound c
    WHERE c.id = NEW.compound_id;
    RETURN NEW;
END
$t$;
CREATE TRIGGER structure_embedding_mass BEFORE INSERT OR UPDATE OF compound_id
ON structure_embedding FOR EACH ROW EXECUTE FUNCTION molvis_structure_embedding_mass();
CREATE INDEX ix_structure_embedding_mass ON structure_embedding (model_id, monoisotopic_mass);
DROP INDEX ix_compound_monoisotopic_mass;
CREATE INDEX ix_compound_mass_id ON compound (monoisotopic_mass, id) INCLUDE (inchikey, formula);
"""

UNDO_MASS_COLUMN = """
DROP INDEX ix_compound_mass_id;
CREATE INDEX ix_compound_monoisotopic_mass ON compound (monoisotopic_mass);
DROP TRIGGER structure_embedding_mass ON structure_embedding;
DROP FUNCTION molvis_structure_embedding_mass();
ALTER TABLE structure_embedding DROP COLUMN monoisotopic_mass;
"""


def upgrade() -> None:
    op.execute(MASS_COLUMN)
    op.execute("SET LOCAL maintenance_work_mem = '2GB'")
    op.execute("CLUSTER structure_embedding USING ix_structure_embedding_mass")
    op.execute(function_sql("molvis_search", "0014"))


def downgrade() -> None:
    op.execute(function_sql("molvis_search", "0013"))
    op.execute(UNDO_MASS_COLUMN)
