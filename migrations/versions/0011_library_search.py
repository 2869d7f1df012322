"""Spectral library matching joins the ranking.

- `library_state`: a generation id per library that changes with every write to its spectra
  (statement triggers), so a saved library index knows whether it is stale in one row read.
- `compound (left(inchikey, 14))`: the skeleton (first InChIKey block) is looked up by index.
- `model.calibration`: the calibrated hit probability fitted for a model (JSON, see
  `models/calibration.py`).
- `molvis_search()` written out whole, with library evidence: it takes the InChIKeys of the
  compounds whose reference spectra matched the query, their best scores and matched peaks; a
  candidate with a confident match (score >= library_min_score and >= library_min_peaks matched
  peaks) ranks above every candidate that only the model supports, by its library score; the
  others rank by model score + library_weight x library score (a sub-threshold match still
  counts); a library-matched compound is a candidate whatever its mass (the reference's
  precursor agreed: a mass outside the window means the adducts disagree); stereo and flat
  InChIKeys of one skeleton are one hit (the best-scored member, the others in `variants`); a
  hit's name is its first name without an underscore (library titles such as
  'Pesticide6_Ethirimol_C11H19N3O_882476 M-H' come last).

Revision ID: 0011_library_search
Revises: 0010_fingerprint_gaps
Create Date: 2026-11-25
"""

from alembic import op

from migrations.functions import function_sql

revision = "0011_library_search"
down_revision = "0010_fingerprint_gaps"
branch_labels = None
depends_on = None

STATE = """
CREATE TABLE library_state (
    library text PRIMARY KEY,
    generation uuid NOT NULL,
    changed_at timestamptz NOT NULL DEFAULT now()
);
CREATE FUNCTION molvis_library_changed() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
    INSERT INTO library_state (library, generation) VALUES (TG_ARGV[0], gen_random_uuid())
    ON CONFLICT (library) DO UPDATE SET generation = excluded.generation, changed_at = now();
    RETURN NULL;
END
$fn$;
CREATE TRIGGER msms_library_changed AFTER INSERT OR UPDATE OR DELETE ON msms_spectrum
    FOR EACH STATEMENT EXECUTE FUNCTION molvis_library_changed('msms');
CREATE TRIGGER msms_library_truncated AFTER TRUNCATE ON msms_spectrum
    FOR EACH STATEMENT EXECUTE FUNCTION molvis_library_changed('msms');
INSERT INTO library_state (library, generation) VALUES ('msms', gen_random_uuid());
GRANT SELECT ON library_state TO molvis_reader;
CREATE INDEX ix_compound_skeleton ON compound (left(inchikey, 14));
ALTER TABLE model ADD COLUMN calibration jsonb;
"""


def upgrade() -> None:
    op.execute(STATE)
    op.execute("DROP FUNCTION molvis_search")  # 0006's: the return columns change
    op.execute(function_sql("molvis_search", "0011"))
    op.execute("GRANT EXECUTE ON FUNCTION molvis_search TO molvis_reader")


def downgrade() -> None:
    op.execute("DROP FUNCTION molvis_search")  # the one function of that name
    op.execute(function_sql("molvis_search", "0005"))
    op.execute("GRANT EXECUTE ON FUNCTION molvis_search TO molvis_reader")
    op.execute("""
        ALTER TABLE model DROP COLUMN calibration;
        DROP INDEX ix_compound_skeleton;
        DROP TRIGGER msms_library_truncated ON msms_spectrum;
        DROP TRIGGER msms_library_changed ON msms_spectrum;
        DROP FUNCTION molvis_library_changed();
        DROP TABLE library_state;
    """)
