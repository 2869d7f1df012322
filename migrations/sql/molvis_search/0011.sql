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
    library_weight float8 DEFAULT 0.25
) RETURNS TABLE (
    rank int, inchikey text, smiles text, name text, monoisotopic_mass float8,
    score float8, scores jsonb, candidates bigint, compound_formula text,
    library_score float8, matched_peaks int, variants text[]
) LANGUAGE plpgsql STABLE AS $fn$
#variable_conflict use_variable
DECLARE
    model int;
    w float8[];
    fused vector;
    cand_ids bigint[];
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
    w := coalesce(weights, array_fill(1.0::float8, ARRAY[array_length(query_vectors, 1)]));
    IF filtered THEN
        cand_ids := ARRAY(
            SELECT c.id FROM compound c
            WHERE (neutral_mass IS NULL OR c.monoisotopic_mass BETWEEN
                     neutral_mass * (1 - ppm * 1e-6) AND neutral_mass * (1 + ppm * 1e-6))
              AND (formula IS NULL OR c.formula = formula)
              AND (sources IS NULL OR EXISTS (
                     SELECT 1 FROM compound_source cs JOIN source s ON s.id = cs.source_id
                     WHERE cs.compound_id = c.id AND s.name = ANY (sources)))
              AND (ccs IS NULL OR NOT EXISTS (
                     SELECT 1 FROM ccs_value v WHERE v.compound_id = c.id
                       AND (ccs_adduct IS NULL OR v.adduct = ccs_adduct))
                   OR EXISTS (
                     SELECT 1 FROM ccs_value v WHERE v.compound_id = c.id
                       AND (ccs_adduct IS NULL OR v.adduct = ccs_adduct)
                       AND abs(v.ccs - ccs) <= ccs * ccs_tolerance_pct / 100)));
        -- A library-matched compound stays a candidate whatever its mass: its reference's
        -- precursor agreed with the query's, so a mass outside the window means the adducts
        -- disagree (the hit's ppm error shows it). The other filters still apply.
        IF neutral_mass IS NOT NULL AND library_keys IS NOT NULL THEN
            cand_ids := cand_ids || ARRAY(
                SELECT c.id FROM compound c
                WHERE left(c.inchikey, 14) = ANY (
                        SELECT left(lk, 14) FROM unnest(library_keys) AS lk)
                  AND (formula IS NULL OR c.formula = formula)
                  AND (sources IS NULL OR EXISTS (
                         SELECT 1 FROM compound_source cs JOIN source s ON s.id = cs.source_id
                         WHERE cs.compound_id = c.id AND s.name = ANY (sources)))
                  AND (ccs IS NULL OR NOT EXISTS (
                         SELECT 1 FROM ccs_value v WHERE v.compound_id = c.id
                           AND (ccs_adduct IS NULL OR v.adduct = ccs_adduct))
                       OR EXISTS (
                         SELECT 1 FROM ccs_value v WHERE v.compound_id = c.id
                           AND (ccs_adduct IS NULL OR v.adduct = ccs_adduct)
                           AND abs(v.ccs - ccs) <= ccs * ccs_tolerance_pct / 100)));
        END IF;
    ELSE
        -- With unit vectors a weighted sum of cosines is the inner product with the weighted
        -- sum of the query vectors, so one fused vector can drive the HNSW index; the
        -- compounds the library matched join the index's nearest ones.
        SELECT l2_normalize(sum(q * array_fill(wt::real, ARRAY[vector_dims(q)])::vector))
          INTO fused FROM unnest(query_vectors, w) AS t(q, wt);
        PERFORM set_config('hnsw.ef_search',
            greatest(coalesce(current_setting('hnsw.ef_search', true), '40')::int, 2 * k)::text,
            true);
        EXECUTE format($q$
            SELECT ARRAY(SELECT e.compound_id FROM structure_embedding e
                         WHERE e.model_id = %s ORDER BY e.embedding <#> $1 LIMIT $2)
        $q$, model) INTO cand_ids USING fused, 2 * k;
        cand_ids := cand_ids || ARRAY(
            SELECT c.id FROM compound c
            WHERE left(c.inchikey, 14) = ANY (
                SELECT left(lk, 14) FROM unnest(library_keys) AS lk));
        SELECT m.structure_embeddings INTO total FROM model m WHERE m.id = model;
    END IF;
    RETURN QUERY
    WITH lib AS (
        SELECT DISTINCT ON (left(t.key, 14)) left(t.key, 14) AS sk, t.lscore, t.lpeaks
        FROM unnest(library_keys, library_scores, library_peaks) AS t(key, lscore, lpeaks)
        ORDER BY left(t.key, 14), t.lscore DESC, t.lpeaks DESC
    ), scored AS (
        SELECT c.id, c.inchikey AS key, left(c.inchikey, 14) AS sk, c.smiles AS smi,
               (SELECT u.n FROM unnest(c.names) WITH ORDINALITY AS u(n, i)
                ORDER BY u.n LIKE '%\_%', u.i LIMIT 1) AS cname,
               c.monoisotopic_mass AS mass, c.formula AS cformula,
               s.fused, s.per_modality, lib.lscore, lib.lpeaks,
               coalesce(lib.lscore >= library_min_score AND lib.lpeaks >= library_min_peaks,
                        false) AS confident
        FROM (SELECT DISTINCT unnest(cand_ids) AS id) AS cid
        JOIN compound c ON c.id = cid.id
        LEFT JOIN structure_embedding e ON e.compound_id = c.id AND e.model_id = model
        LEFT JOIN lib ON lib.sk = left(c.inchikey, 14)
        CROSS JOIN LATERAL (
            SELECT sum(t.wt * (1 - (e.embedding <=> t.q))) / sum(t.wt) AS fused,
                   jsonb_object_agg(t.m, round((1 - (e.embedding <=> t.q))::numeric, 6))
                     AS per_modality
            FROM unnest(query_vectors, modalities, w) AS t(q, m, wt)
            WHERE e.embedding IS NOT NULL) s
        WHERE e.compound_id IS NOT NULL OR lib.sk IS NOT NULL
    ), grouped AS (
        SELECT DISTINCT ON (scored.sk) scored.*,
               array_agg(scored.key) OVER (PARTITION BY scored.sk) AS members
        FROM scored
        ORDER BY scored.sk, scored.fused DESC NULLS LAST, scored.key
    ), ranked AS (
        SELECT g.*, row_number() OVER (
                   ORDER BY CASE WHEN g.confident THEN g.lscore END DESC NULLS LAST,
                   coalesce(g.fused, 0) + library_weight * coalesce(g.lscore, 0) DESC,
                   g.key) AS pos,
               count(*) OVER () AS n
        FROM grouped g
    )
    SELECT r.pos::int, r.key, r.smi, r.cname, r.mass, r.fused,
           coalesce(r.per_modality, '{}'::jsonb), coalesce(total, r.n), r.cformula,
           r.lscore, r.lpeaks, array_remove(r.members, r.key)
    FROM ranked r
    ORDER BY r.pos LIMIT k;
END
$fn$;
