CREATE OR REPLACE FUNCTION molvis_rerank(
    ranker jsonb,
    inchikeys text[],
    model_score float8[],
    fragmenter_score float8[],
    explained_intensity float8[],
    predicted_similarity float8[],
    library_score float8[],
    mass_error_ppm float8[],
    ccs_deviation_pct float8[],
    confident boolean[] DEFAULT NULL
) RETURNS TABLE (rank int, inchikey text, score float8, probability float8)
LANGUAGE plpgsql IMMUTABLE AS $fn$
#variable_conflict use_variable
DECLARE
    n int := coalesce(cardinality(inchikeys), 0);
BEGIN
    IF n = 0 THEN
        RETURN;
    END IF;
    IF coalesce(cardinality(model_score), 0) <> n OR coalesce(cardinality(fragmenter_score), 0) <> n
       OR coalesce(cardinality(explained_intensity), 0) <> n
       OR coalesce(cardinality(predicted_similarity), 0) <> n
       OR coalesce(cardinality(library_score), 0) <> n
       OR coalesce(cardinality(mass_error_ppm), 0) <> n
       OR coalesce(cardinality(ccs_deviation_pct), 0) <> n
       OR coalesce(cardinality(confident), n) <> n THEN
        RAISE EXCEPTION 'molvis_rerank: give one value of each evidence per InChIKey (NULL where missing)';
    END IF;
    IF jsonb_typeof(ranker -> 'evidence') IS DISTINCT FROM 'array'
       OR jsonb_array_length(ranker -> 'coef') <> 4 * jsonb_array_length(ranker -> 'evidence') THEN
        RAISE EXCEPTION 'molvis_rerank: not a ranker (evidence names and four coefficients each)';
    END IF;
    -- Each candidate's score: per evidence value x (missing or NaN: 0) a x + b (x - the best x
    -- of the other candidates) + c (1 where x is there, 0 where missing) + d x where the
    -- candidate has a library score and the ranker reads library scores, models/ranker.py's
    -- features; its probability a softmax over the candidates given (a score 700 below the
    -- best counts as exp(-700), not an underflow error). Confident library matches stay first
    -- (level 2a), by library score.
    RETURN QUERY
    WITH candidate AS (
        SELECT t.i, t.key, coalesce(t.sure, false) AS sure, t.lib,
               CASE WHEN ranker -> 'evidence' ? 'library_score'
                         AND nullif(t.lib, 'NaN'::float8) IS NOT NULL THEN 1 ELSE 0 END AS refs,
               t.m, t.f, t.e, t.p, t.ppm, t.ccs
        FROM unnest(inchikeys, model_score, fragmenter_score, explained_intensity,
                    predicted_similarity, library_score, mass_error_ppm, ccs_deviation_pct,
                    confident)
             WITH ORDINALITY AS t(key, m, f, e, p, lib, ppm, ccs, sure, i)
    ), evidence AS (
        SELECT ev.name, ev.n,
               (ranker -> 'coef' ->> (4 * ev.n - 4)::int)::float8 AS a,
               (ranker -> 'coef' ->> (4 * ev.n - 3)::int)::float8 AS b,
               (ranker -> 'coef' ->> (4 * ev.n - 2)::int)::float8 AS c,
               (ranker -> 'coef' ->> (4 * ev.n - 1)::int)::float8 AS d
        FROM jsonb_array_elements_text(ranker -> 'evidence') WITH ORDINALITY AS ev(name, n)
    ), raw AS (
        SELECT c.i, c.refs, ev.n, ev.name, ev.a, ev.b, ev.c, ev.d,
               nullif(CASE ev.name
                   WHEN 'model_score' THEN c.m
                   WHEN 'fragmenter_score' THEN c.f
                   WHEN 'explained_intensity' THEN c.e
                   WHEN 'predicted_similarity' THEN c.p
                   WHEN 'library_score' THEN c.lib
                   WHEN 'mass_error_ppm' THEN c.ppm
                   WHEN 'ccs_deviation_pct' THEN c.ccs
               END, 'NaN'::float8) AS x
        FROM candidate c CROSS JOIN evidence ev
    ), value AS (
        SELECT r.i, r.refs, r.n, r.name, r.a, r.b, r.c, r.d, coalesce(r.x, 0) AS v,
               CASE WHEN r.x IS NULL THEN 0 ELSE 1 END AS present
        FROM raw r
    ), part AS (
        SELECT v.i, v.n, v.a * v.v + v.c * v.present + v.d * v.v * v.refs
                         + v.b * coalesce(v.v - greatest(
                   max(v.v) OVER (PARTITION BY v.name ORDER BY v.i
                                  ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING),
                   max(v.v) OVER (PARTITION BY v.name ORDER BY v.i
                                  ROWS BETWEEN 1 FOLLOWING AND UNBOUNDED FOLLOWING)), 0) AS s
        FROM value v
    ), scored AS (  -- summed in the evidence's order, so that equal inputs give equal scores
        SELECT c.key, c.sure, c.lib, coalesce(sum(p.s ORDER BY p.n), 0) AS s
        FROM candidate c LEFT JOIN part p ON p.i = c.i
        GROUP BY c.i, c.key, c.sure, c.lib
    ), shifted AS (
        SELECT sc.*, exp(greatest(sc.s - max(sc.s) OVER (), -700)) AS z FROM scored sc
    )
    SELECT (row_number() OVER (ORDER BY sh.sure DESC,
                                         CASE WHEN sh.sure THEN coalesce(nullif(sh.lib, 'NaN'), 0)
                                         END DESC, sh.s DESC, sh.key))::int,
           sh.key, sh.s, sh.z / sum(sh.z) OVER ()
    FROM shifted sh
    ORDER BY 1;
END
$fn$;
