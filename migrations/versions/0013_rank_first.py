"""molvis_search() ranks first and describes only the k rows it returns.

Measured at 1M compounds (bench/query.py): a 10 ppm window of MOSES masses holds ~600
candidates, and 0012 built every one's per-modality JSON, display name and stereo-variant list
before ranking (p95 82 ms). Now:

- each candidate gets one cosine, against the fused query vector: with unit modality vectors
  u_i and weights w_i, sum_i w_i cos(e, u_i) / sum_i w_i = cos(e, f) |f| / sum_i w_i where
  f = sum_i w_i u_i, so the weighted mean of cosines is one distance per candidate;
- the best stereo variant of each skeleton is ranked and cut to k; names, per-modality
  cosines (JSON) and the variant lists are built for those k rows alone;
- the candidate selection is written once per case (mass window, other filters, library
  matches) so each cached plan uses its index (the mass window's B-tree; `left(inchikey, 14)`
  for the library keys) instead of an `x IS NULL OR ...` generic plan, and it keeps each
  candidate's InChIKey, so the ranking reads no compound row but the k it returns;
- the CCS predicate is called only when a CCS is given;
- the open (unfiltered) query searches an HNSW index over half-precision copies of the
  structure vectors (this migration rebuilds each model's index so), with hnsw.ef_search 800
  unless `molvis.ef_search` says otherwise, and re-ranks the 2k it fetches at full precision.
  Cross-modal queries lie far from every structure vector: at 1M compounds pgvector's default
  of 40 found 53 % of the true top 20, 400 found 82-98 % and 800 91-99 % depending on the
  build (bench/index_sweep.py); recall first, since a missed structure is silently missed.

Results are unchanged (same rows, JSON and variants; scores to float rounding). Scores that
agree to 6 decimals rank as ties, broken by InChIKey as before: the one-distance score and
the per-modality sum differ in the last float digits, which must not reorder equal scores.

Revision ID: 0013_rank_first
Revises: 0012_ccs_prediction
Create Date: 2026-12-03
"""

import importlib.util
from pathlib import Path

import sqlalchemy as sa
from alembic import op

revision = "0013_rank_first"
down_revision = "0012_ccs_prediction"
branch_labels = None
depends_on = None

SEARCH_FUNCTION = r"""CREATE OR REPLACE FUNCTION molvis_search(
    query_vectors vector[],
    modalities text[],
    weights float8[] DEFAULT NULL,
    neutral_mass float8 DEFAULT NULL,
    ppm float8 DEFAULT 10,
    formula text DEFAULT NULL,
    ccs float8 DEFAULT NULL,
    ccs_adduct text DEFAULT NULL,
    ccs_tolerance_pct float8 DEFAULT 3,
    sources text[] DEFAULT NULL,
    k int DEFAULT 20,
    model_name text DEFAULT NULL,
    library_keys text[] DEFAULT NULL,
    library_scores float8[] DEFAULT NULL,
    library_peaks int[] DEFAULT NULL,
    library_min_score float8 DEFAULT 0.7,
    library_min_peaks int DEFAULT 6,
    library_weight float8 DEFAULT 0.25,
    ccs_predictor_name text DEFAULT NULL,
    ccs_predicted_tolerance_pct float8 DEFAULT NULL
) RETURNS TABLE (
    rank int, inchikey text, smiles text, name text, monoisotopic_mass float8,
    score float8, scores jsonb, candidates bigint, compound_formula text,
    library_score float8, matched_peaks int, variants text[]
) LANGUAGE plpgsql STABLE AS $fn$
#variable_conflict use_variable
DECLARE
    model int;
    w float8[];
    weighted vector;
    weighted_norm float8;
    weight_sum float8;
    predictor int;
    predicted_tol float8;
    cand_ids bigint[];
    cand_keys text[];
    skeletons text[];
    total bigint;
    filtered boolean := neutral_mass IS NOT NULL OR formula IS NOT NULL OR ccs IS NOT NULL
                        OR sources IS NOT NULL;
BEGIN
    IF coalesce(array_length(query_vectors, 1), 0) = 0
       OR array_length(query_vectors, 1) <> array_length(modalities, 1) THEN
        RAISE EXCEPTION 'molvis_search: give one query vector per modality';
    END IF;
    IF coalesce(array_length(library_keys, 1), 0) <> coalesce(array_length(library_scores, 1), 0)
       OR coalesce(array_length(library_keys, 1), 0)
          <> coalesce(array_length(library_peaks, 1), 0) THEN
        RAISE EXCEPTION 'molvis_search: give one library score and peak count per library key';
    END IF;
    SELECT m.id INTO model FROM model m
    WHERE (model_name IS NULL AND m.is_active) OR m.name = model_name;
    IF model IS NULL THEN
        RAISE EXCEPTION 'molvis_search: no model %', coalesce(model_name, '(active)');
    END IF;
    -- CCS of candidates never measured: the predictor's value (the active one unless named),
    -- within its own tolerance (its validation p95 error) unless one is given.
    SELECT p.id, coalesce(ccs_predicted_tolerance_pct, greatest(ccs_tolerance_pct, p.tolerance_pct))
      INTO predictor, predicted_tol FROM ccs_predictor p
    WHERE (ccs_predictor_name IS NULL AND p.is_active) OR p.name = ccs_predictor_name;
    IF ccs_predictor_name IS NOT NULL AND predictor IS NULL THEN
        RAISE EXCEPTION 'molvis_search: no CCS predictor %', ccs_predictor_name;
    END IF;
    w := coalesce(weights, array_fill(1.0::float8, ARRAY[array_length(query_vectors, 1)]));
    -- With unit modality vectors u_i, the weighted mean of cosines sum w_i cos(e, u_i) / sum w_i
    -- equals cos(e, f) |f| / sum w_i for f = sum w_i u_i: one distance per candidate.
    SELECT sum(l2_normalize(q) * array_fill(wt::real, ARRAY[vector_dims(q)])::vector), sum(wt)
      INTO weighted, weight_sum FROM unnest(query_vectors, w) AS t(q, wt);
    weighted_norm := vector_norm(weighted);
    skeletons := ARRAY(SELECT DISTINCT left(lk, 14) FROM unnest(library_keys) AS lk);
    -- Candidates as (id, InChIKey) arrays, read from the index scan that finds them, so the
    -- ranking below never goes back to the compound table for the rows it does not return.
    IF neutral_mass IS NOT NULL THEN
        SELECT coalesce(array_agg(c.id), '{}'), coalesce(array_agg(c.inchikey), '{}')
          INTO cand_ids, cand_keys FROM compound c
        WHERE c.monoisotopic_mass BETWEEN neutral_mass * (1 - ppm * 1e-6)
                                      AND neutral_mass * (1 + ppm * 1e-6)
          AND (formula IS NULL OR c.formula = formula)
          AND (sources IS NULL OR EXISTS (
                 SELECT 1 FROM compound_source cs JOIN source s ON s.id = cs.source_id
                 WHERE cs.compound_id = c.id AND s.name = ANY (sources)))
          AND (ccs IS NULL OR molvis_ccs_fits(c.id, ccs, ccs_adduct, ccs_tolerance_pct,
                                              predicted_tol, predictor));
        -- A library-matched compound stays a candidate whatever its mass: its reference's
        -- precursor agreed with the query's, so a mass outside the window means the adducts
        -- disagree (the hit's ppm error shows it). The other filters still apply.
        IF cardinality(skeletons) > 0 THEN
            SELECT cand_ids || coalesce(array_agg(c.id), '{}'),
                   cand_keys || coalesce(array_agg(c.inchikey), '{}')
              INTO cand_ids, cand_keys FROM compound c
            WHERE left(c.inchikey, 14) = ANY (skeletons)
              AND (formula IS NULL OR c.formula = formula)
              AND (sources IS NULL OR EXISTS (
                     SELECT 1 FROM compound_source cs JOIN source s ON s.id = cs.source_id
                     WHERE cs.compound_id = c.id AND s.name = ANY (sources)))
              AND (ccs IS NULL OR molvis_ccs_fits(c.id, ccs, ccs_adduct, ccs_tolerance_pct,
                                                  predicted_tol, predictor));
        END IF;
    ELSIF filtered THEN
        SELECT coalesce(array_agg(c.id), '{}'), coalesce(array_agg(c.inchikey), '{}')
          INTO cand_ids, cand_keys FROM compound c
        WHERE (formula IS NULL OR c.formula = formula)
          AND (sources IS NULL OR EXISTS (
                 SELECT 1 FROM compound_source cs JOIN source s ON s.id = cs.source_id
                 WHERE cs.compound_id = c.id AND s.name = ANY (sources)))
          AND (ccs IS NULL OR molvis_ccs_fits(c.id, ccs, ccs_adduct, ccs_tolerance_pct,
                                              predicted_tol, predictor));
    ELSE
        -- The fused vector drives the model's HNSW index over half-precision copies of the
        -- vectors (inner product on unit vectors = cosine); its 2k nearest are re-ranked at
        -- full precision below. molvis.ef_search (default 800) sets the index's search
        -- breadth; the compounds the library matched join the index's nearest ones.
        PERFORM set_config('hnsw.ef_search', greatest(
            coalesce(nullif(current_setting('molvis.ef_search', true), ''), '800')::int,
            2 * k)::text, true);
        EXECUTE format($q$
            SELECT ARRAY(SELECT e.compound_id FROM structure_embedding e WHERE e.model_id = %s
                         ORDER BY e.embedding::halfvec(256) <#> $1::halfvec(256) LIMIT $2)
        $q$, model) INTO cand_ids USING l2_normalize(weighted), 2 * k;
        SELECT coalesce(array_agg(c.id), '{}'), coalesce(array_agg(c.inchikey), '{}')
          INTO cand_ids, cand_keys FROM compound c
        WHERE c.id = ANY (cand_ids) OR left(c.inchikey, 14) = ANY (skeletons);
        SELECT m.structure_embeddings INTO total FROM model m WHERE m.id = model;
    END IF;
    RETURN QUERY
    WITH lib AS (
        SELECT DISTINCT ON (left(t.key, 14)) left(t.key, 14) AS sk, t.lscore, t.lpeaks
        FROM unnest(library_keys, library_scores, library_peaks) AS t(key, lscore, lpeaks)
        ORDER BY left(t.key, 14), t.lscore DESC, t.lpeaks DESC
    ), scored AS (
        SELECT cid.id, cid.key, left(cid.key, 14) AS sk,
               CASE WHEN e.compound_id IS NOT NULL
                    THEN (1 - (e.embedding <=> weighted)) * weighted_norm / weight_sum END AS fused,
               lib.lscore, lib.lpeaks,
               coalesce(lib.lscore >= library_min_score AND lib.lpeaks >= library_min_peaks,
                        false) AS confident
        FROM (SELECT DISTINCT t.id, t.key FROM unnest(cand_ids, cand_keys) AS t(id, key)) AS cid
        LEFT JOIN structure_embedding e ON e.compound_id = cid.id AND e.model_id = model
        LEFT JOIN lib ON lib.sk = left(cid.key, 14)
        WHERE e.compound_id IS NOT NULL OR lib.sk IS NOT NULL
    ), grouped AS (
        SELECT DISTINCT ON (scored.sk) scored.*
        FROM scored
        ORDER BY scored.sk, scored.fused DESC NULLS LAST, scored.key
    ), ranked AS (
        SELECT g.*, row_number() OVER (
                   ORDER BY CASE WHEN g.confident THEN g.lscore END DESC NULLS LAST,
                   coalesce(round(g.fused::numeric, 6), 0) + library_weight * coalesce(g.lscore, 0)
                   DESC, g.key) AS pos
        FROM grouped g
        ORDER BY pos LIMIT k
    )
    SELECT r.pos::int, r.key, c.smiles,
           (SELECT u.n FROM unnest(c.names) WITH ORDINALITY AS u(n, i)
            ORDER BY u.n LIKE '%\_%', u.i LIMIT 1),
           c.monoisotopic_mass, r.fused,
           coalesce((SELECT jsonb_object_agg(t.m, round((1 - (e.embedding <=> t.q))::numeric, 6))
                     FROM unnest(query_vectors, modalities) AS t(q, m)
                     WHERE e.embedding IS NOT NULL), '{}'::jsonb),
           coalesce(total, (SELECT count(*) FROM grouped)), c.formula,
           r.lscore, r.lpeaks,
           ARRAY(SELECT s.key FROM scored s WHERE s.sk = r.sk AND s.key <> r.key
                 ORDER BY s.fused DESC NULLS LAST, s.key)
    FROM ranked r
    JOIN compound c ON c.id = r.id
    LEFT JOIN structure_embedding e ON e.compound_id = r.id AND e.model_id = model
    ORDER BY r.pos;
END
$fn$;
"""


def _function_of(revision_file: str) -> str:
    path = Path(__file__).with_name(revision_file)
    spec = importlib.util.spec_from_file_location(revision_file[:-3], path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.SEARCH_FUNCTION


# Each model's structure index, as this revision builds it (registry.embeddings builds the
# same for models registered later): HNSW over half-precision copies, half the memory of
# float32 and at least its recall (bench/index_sweep.py at 1M compounds).
HALF_INDEX = (
    "CREATE INDEX IF NOT EXISTS ix_structure_embedding_half_m{model} ON structure_embedding "
    "USING hnsw ((embedding::halfvec(256)) halfvec_ip_ops) WITH (m = {m}, ef_construction = {ef}) "
    "WHERE model_id = {model}"
)
FLOAT_INDEX = (
    "CREATE INDEX IF NOT EXISTS ix_structure_embedding_hnsw_m{model} ON structure_embedding "
    "USING hnsw (embedding vector_ip_ops) WHERE model_id = {model}"
)
HNSW_M, HNSW_EF_CONSTRUCTION = 16, 64


def _indexed_models(prefix: str) -> list[int]:
    names = op.get_bind().execute(
        sa.text(
            "SELECT indexname FROM pg_indexes WHERE tablename = 'structure_embedding' "
            "AND indexname LIKE :p"
        ),
        {"p": prefix + "%"},
    )
    return [int(name.removeprefix(prefix)) for (name,) in names]


def upgrade() -> None:
    op.execute(SEARCH_FUNCTION)
    op.execute("SET LOCAL maintenance_work_mem = '2GB'")
    for model in _indexed_models("ix_structure_embedding_hnsw_m"):
        op.execute(f"DROP INDEX ix_structure_embedding_hnsw_m{model}")
        op.execute(HALF_INDEX.format(model=model, m=HNSW_M, ef=HNSW_EF_CONSTRUCTION))


def downgrade() -> None:
    op.execute(_function_of("0012_ccs_prediction.py"))
    op.execute("SET LOCAL maintenance_work_mem = '2GB'")
    for model in _indexed_models("ix_structure_embedding_half_m"):
        op.execute(f"DROP INDEX ix_structure_embedding_half_m{model}")
        op.execute(FLOAT_INDEX.format(model=model))
