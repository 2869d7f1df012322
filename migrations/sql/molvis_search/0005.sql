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
    model_name text DEFAULT NULL
) RETURNS TABLE (
    rank int, inchikey text, smiles text, name text, monoisotopic_mass float8,
    score float8, scores jsonb, candidates bigint
) LANGUAGE plpgsql STABLE AS $fn$
#variable_conflict use_variable
DECLARE
    model int;
    w float8[];
    fused vector;
    filtered boolean := neutral_mass IS NOT NULL OR formula IS NOT NULL OR ccs IS NOT NULL
                        OR sources IS NOT NULL;
BEGIN
    IF coalesce(array_length(query_vectors, 1), 0) = 0
       OR array_length(query_vectors, 1) <> array_length(modalities, 1) THEN
        RAISE EXCEPTION 'molvis_search: give one query vector per modality';
    END IF;
    SELECT m.id INTO model FROM model m
    WHERE (model_name IS NULL AND m.is_active) OR m.name = model_name;
    IF model IS NULL THEN
        RAISE EXCEPTION 'molvis_search: no model %', coalesce(model_name, '(active)');
    END IF;
    w := coalesce(weights, array_fill(1.0::float8, ARRAY[array_length(query_vectors, 1)]));
    -- With unit vectors a weighted sum of cosines is the inner product with the weighted sum
    -- of the query vectors, so one fused vector can drive the HNSW index.
    SELECT l2_normalize(sum(q * array_fill(wt::real, ARRAY[vector_dims(q)])::vector))
      INTO fused FROM unnest(query_vectors, w) AS t(q, wt);
    IF NOT filtered THEN
        PERFORM set_config('hnsw.ef_search',
            greatest(coalesce(current_setting('hnsw.ef_search', true), '40')::int, 2 * k)::text,
            true);
        RETURN QUERY EXECUTE format($q$
            WITH top AS (
                SELECT e.compound_id, e.embedding FROM structure_embedding e
                WHERE e.model_id = %s ORDER BY e.embedding <#> $1 LIMIT $2)
            SELECT (row_number() OVER (ORDER BY s.fused DESC))::int, c.inchikey, c.smiles,
                   c.names[1], c.monoisotopic_mass, s.fused, s.per_modality,
                   (SELECT m.structure_embeddings FROM model m WHERE m.id = %s)
            FROM top JOIN compound c ON c.id = top.compound_id
            CROSS JOIN LATERAL (
                SELECT sum(t.wt * (1 - (top.embedding <=> t.q))) / sum(t.wt) AS fused,
                       jsonb_object_agg(t.m, round((1 - (top.embedding <=> t.q))::numeric, 6))
                         AS per_modality
                FROM unnest($3, $4, $5) AS t(q, m, wt)) s
            ORDER BY s.fused DESC
        $q$, model, model) USING fused, k, query_vectors, modalities, w;
        RETURN;
    END IF;
    RETURN QUERY
    WITH cand AS (
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
                   AND abs(v.ccs - ccs) <= ccs * ccs_tolerance_pct / 100))
    ), scored AS (
        SELECT e.compound_id, s.fused, s.per_modality, count(*) OVER () AS n
        FROM cand JOIN structure_embedding e ON e.compound_id = cand.id AND e.model_id = model
        CROSS JOIN LATERAL (
            SELECT sum(t.wt * (1 - (e.embedding <=> t.q))) / sum(t.wt) AS fused,
                   jsonb_object_agg(t.m, round((1 - (e.embedding <=> t.q))::numeric, 6))
                     AS per_modality
            FROM unnest(query_vectors, modalities, w) AS t(q, m, wt)) s
    )
    SELECT (row_number() OVER (ORDER BY scored.fused DESC))::int, c.inchikey, c.smiles,
           c.names[1], c.monoisotopic_mass, scored.fused, scored.per_modality, scored.n
    FROM scored JOIN compound c ON c.id = scored.compound_id
    ORDER BY scored.fused DESC LIMIT k;
END
$fn$;
