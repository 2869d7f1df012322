CREATE OR REPLACE FUNCTION molvis_filter_counts(
    neutral_mass float8 DEFAULT NULL,
    ppm float8 DEFAULT 10,
    formula text DEFAULT NULL,
    ccs float8 DEFAULT NULL,
    ccs_adduct text DEFAULT NULL,
    ccs_tolerance_pct float8 DEFAULT 3,
    sources text[] DEFAULT NULL,
    ccs_predictor_name text DEFAULT NULL,
    ccs_predicted_tolerance_pct float8 DEFAULT NULL
) RETURNS TABLE (in_mass_window bigint, with_formula bigint, from_sources bigint, ccs_fits bigint)
LANGUAGE plpgsql STABLE AS $fn$
-- How many compounds each of molvis_search()'s filters leaves, in its order (mass window,
-- formula, sources, CCS), so a search that finds nothing can say which filter emptied it.
-- The filters are molvis_search()'s: the same predictor choice and molvis_ccs_fits(). Without
-- a mass window the first count is every structure; the window is left out of the statement
-- rather than made optional in it, so the mass index serves it.
DECLARE
    predictor int;
    predicted_tol float8;
BEGIN
    SELECT p.id, ccs_predicted_tolerance_pct
      INTO predictor, predicted_tol
      FROM ccs_predictor p
     WHERE (ccs_predictor_name IS NULL AND p.is_active) OR p.name = ccs_predictor_name;
    RETURN QUERY EXECUTE format($q$
        WITH w AS (
            SELECT ($1 IS NULL OR c.formula = $1) AS f_ok,
                   ($2 IS NULL OR EXISTS (
                      SELECT 1 FROM compound_source cs JOIN source s ON s.id = cs.source_id
                      WHERE cs.compound_id = c.id AND s.name = ANY ($2))) AS s_ok,
                   molvis_ccs_fits(c.id, $3, $4, $5, $6, $7) AS c_ok
            FROM compound c %s)
        SELECT count(*), count(*) FILTER (WHERE f_ok), count(*) FILTER (WHERE f_ok AND s_ok),
               count(*) FILTER (WHERE f_ok AND s_ok AND c_ok)
        FROM w$q$,
        CASE WHEN neutral_mass IS NULL THEN ''
             ELSE 'WHERE c.monoisotopic_mass BETWEEN $8 AND $9' END)
    USING formula, sources, ccs, ccs_adduct, ccs_tolerance_pct, predicted_tol, predictor,
          neutral_mass * (1 - ppm * 1e-6), neutral_mass * (1 + ppm * 1e-6);
END
$fn$;
