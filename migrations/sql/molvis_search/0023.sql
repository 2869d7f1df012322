CREATE OR REPLACE FUNCTION molvis_search(
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
) LANGUAGE plpgsql STABLE SET plan_cache_mode = force_generic_plan AS $fn$
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
    cand_fused float8[];
    lo float8 := neutral_mass * (1 - ppm * 1e-6);
    hi float8 := neutral_mass * (1 + ppm * 1e-6);
    skeletons text[];
    nearest bigint[];
    wanted int := 2 * k;
    groups bigint;
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
    -- within the tolerance given, else each prediction's own (molvis_ccs_fits()).
    SELECT p.id, ccs_predicted_tolerance_pct
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
        -- Two range scans over the same masses, hash-joined: the compound's (mass, id) index
        -- gives ids, keys and formulas without visiting the table, and the model's vectors
        -- are read in mass order from structure_embedding (laid out by mass by the backfill)
        -- and scored as they are read: no lookup per candidate. Planned for each call
        -- (EXECUTE): a generic plan cannot see the window's width and looked every
        -- candidate's vector up by compound id instead (2.6 against 0.85 ms for 1,271).
        EXECUTE $q$
            SELECT coalesce(array_agg(c.id), '{}'), coalesce(array_agg(c.inchikey), '{}'),
                   coalesce(array_agg(v.fused), '{}')
            FROM compound c
            LEFT JOIN (SELECT e.compound_id, (1 - (e.embedding <=> $4)) * $5 / $6 AS fused
                       FROM structure_embedding e
                       WHERE e.model_id = $3 AND e.monoisotopic_mass BETWEEN $1 AND $2) v
                   ON v.compound_id = c.id
            WHERE c.monoisotopic_mass BETWEEN $1 AND $2
              AND ($7::text IS NULL OR c.formula = $7)
              AND ($8::text[] IS NULL OR EXISTS (
                     SELECT 1 FROM compound_source cs JOIN source s ON s.id = cs.source_id
                     WHERE cs.compound_id = c.id AND s.name = ANY ($8)))
              AND ($9::float8 IS NULL OR molvis_ccs_fits(c.id, $9, $10, $11, $12, $13))
        $q$ INTO cand_ids, cand_keys, cand_fused
        USING lo, hi, model, weighted, weighted_norm, weight_sum, formula, sources, ccs,
              ccs_adduct, ccs_tolerance_pct, predicted_tol, predictor;
        -- A library-matched compound stays a candidate whatever its mass: its reference's
        -- precursor agreed with the query's, so a mass outside the window means the adducts
        -- disagree (the hit's ppm error shows it). The other filters still apply.
        IF cardinality(skeletons) > 0 THEN
            SELECT cand_ids || coalesce(array_agg(c.id), '{}'),
                   cand_keys || coalesce(array_agg(c.inchikey), '{}'),
                   cand_fused || coalesce(array_agg(NULL::float8), '{}')
              INTO cand_ids, cand_keys, cand_fused FROM compound c
            WHERE left(c.inchikey, 14) = ANY (skeletons)
              AND NOT (c.monoisotopic_mass BETWEEN lo AND hi)
              AND (formula IS NULL OR c.formula = formula)
              AND (sources IS NULL OR EXISTS (
                     SELECT 1 FROM compound_source cs JOIN source s ON s.id = cs.source_id
                     WHERE cs.compound_id = c.id AND s.name = ANY (sources)))
              AND (ccs IS NULL OR molvis_ccs_fits(c.id, ccs, ccs_adduct, ccs_tolerance_pct,
                                                  predicted_tol, predictor));
        END IF;
    ELSIF filtered THEN
        -- Planned for each call (EXECUTE): which index serves depends on the filters given,
        -- and a generic plan would scan every compound for a formula.
        EXECUTE $q$
            SELECT coalesce(array_agg(c.id), '{}'), coalesce(array_agg(c.inchikey), '{}')
            FROM compound c
            WHERE ($1::text IS NULL OR c.formula = $1)
              AND ($2::text[] IS NULL OR EXISTS (
                     SELECT 1 FROM compound_source cs JOIN source s ON s.id = cs.source_id
                     WHERE cs.compound_id = c.id AND s.name = ANY ($2)))
              AND ($3::float8 IS NULL OR molvis_ccs_fits(c.id, $3, $4, $5, $6, $7))
        $q$ INTO cand_ids, cand_keys
        USING formula, sources, ccs, ccs_adduct, ccs_tolerance_pct, predicted_tol, predictor;
    ELSE
        -- The fused vector drives the model's IVFFlat index over half-precision copies of
        -- the vectors (inner product on unit vectors = cosine): the molvis.probes lists
        -- (default 20) nearest the query are scanned and their 2k best re-ranked at full
        -- precision below; the compounds the library matched join them. Stereo variants
        -- fold into one hit, so while the rows hold fewer than k skeletons, four times as
        -- many are fetched (until the probed lists run out, or 64 times k rows).
        PERFORM set_config('ivfflat.probes',
            coalesce(nullif(current_setting('molvis.probes', true), ''), '20'), true);
        LOOP
            EXECUTE format($q$
                SELECT ARRAY(SELECT e.compound_id FROM structure_embedding e
                             WHERE e.model_id = %s
                             ORDER BY e.embedding::halfvec(256) <#> $1::halfvec(256) LIMIT $2)
            $q$, model) INTO nearest USING l2_normalize(weighted), wanted;
            SELECT coalesce(array_agg(c.id), '{}'), coalesce(array_agg(c.inchikey), '{}'),
                   count(DISTINCT left(c.inchikey, 14))
              INTO cand_ids, cand_keys, groups FROM compound c
            WHERE c.id = ANY (nearest) OR left(c.inchikey, 14) = ANY (skeletons);
            EXIT WHEN groups >= k OR cardinality(nearest) < wanted OR wanted >= 64 * k;
            wanted := 4 * wanted;
        END LOOP;
        SELECT m.structure_embeddings INTO total FROM model m WHERE m.id = model;
    END IF;
    RETURN QUERY
    WITH lib AS (
        SELECT DISTINCT ON (left(t.key, 14)) left(t.key, 14) AS sk, t.lscore, t.lpeaks
        FROM unnest(library_keys, library_scores, library_peaks) AS t(key, lscore, lpeaks)
        ORDER BY left(t.key, 14), t.lscore DESC, t.lpeaks DESC
    ), scored AS (
        -- Candidates scored by the mass window's scan keep that score; the others (library
        -- matches, the other filters, the open query's nearest) are looked up one by one.
        SELECT cid.id, cid.key, left(cid.key, 14) AS sk, cid.fused,
               lib.lscore, lib.lpeaks,
               coalesce(lib.lscore >= library_min_score AND lib.lpeaks >= library_min_peaks,
                        false) AS confident
        FROM (SELECT t.id, t.key,
                     CASE WHEN t.fused IS NOT NULL THEN t.fused ELSE (
                         SELECT (1 - (e.embedding <=> weighted)) * weighted_norm / weight_sum
                         FROM structure_embedding e
                         WHERE e.compound_id = t.id AND e.model_id = model) END AS fused
              FROM unnest(cand_ids, cand_keys, cand_fused) AS t(id, key, fused)) AS cid
        LEFT JOIN lib ON lib.sk = left(cid.key, 14)
        WHERE cid.fused IS NOT NULL OR lib.sk IS NOT NULL
    ), grouped AS (
        SELECT DISTINCT ON (scored.sk) scored.*
        FROM scored
        ORDER BY scored.sk, scored.fused DESC NULLS LAST, scored.key
    ), cut AS (
        -- The k-th best score before rounding: rounding to 6 decimals moves a score by at most
        -- 5e-7, so a row more than 2e-6 below it cannot reach the top k and is not ranked.
        SELECT min(best.s) AS s FROM (
            SELECT coalesce(g.fused, 0) + library_weight * coalesce(g.lscore, 0) AS s
            FROM grouped g ORDER BY 1 DESC LIMIT k) AS best
    ), ranked AS (
        SELECT g.*, row_number() OVER (
                   ORDER BY CASE WHEN g.confident THEN g.lscore END DESC NULLS LAST,
                   coalesce(round(g.fused::numeric, 6), 0) + library_weight * coalesce(g.lscore, 0)
                   DESC, g.key) AS pos
        FROM grouped g, cut
        WHERE g.confident
           OR coalesce(g.fused, 0) + library_weight * coalesce(g.lscore, 0) >= cut.s - 2e-6
        ORDER BY pos LIMIT k
    ), variants AS (
        SELECT r.sk, array_agg(s.key ORDER BY s.fused DESC NULLS LAST, s.key) AS keys
        FROM ranked r JOIN scored s ON s.sk = r.sk AND s.key <> r.key
        GROUP BY r.sk
    )
    SELECT r.pos::int, r.key, c.smiles,
           (SELECT u.n FROM unnest(c.names) WITH ORDINALITY AS u(n, i)
            ORDER BY u.n LIKE '%\_%', u.i LIMIT 1),
           c.monoisotopic_mass, r.fused,
           coalesce((SELECT jsonb_object_agg(t.m, round((1 - (e.embedding <=> t.q))::numeric, 6))
                     FROM unnest(query_vectors, modalities) AS t(q, m)
                     WHERE e.embedding IS NOT NULL), '{}'::jsonb),
           coalesce(total, (SELECT count(*) FROM grouped)), c.formula,
           r.lscore, r.lpeaks, coalesce(v.keys, '{}')
    FROM ranked r
    JOIN compound c ON c.id = r.id
    LEFT JOIN structure_embedding e ON e.compound_id = r.id AND e.model_id = model
    LEFT JOIN variants v ON v.sk = r.sk
    ORDER BY r.pos;
END
$fn$;
