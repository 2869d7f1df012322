CREATE OR REPLACE FUNCTION molvis_ccs_fits(
    cid bigint, query_ccs float8, query_adduct text, tolerance_pct float8,
    predicted_tolerance_pct float8, predictor int
) RETURNS boolean LANGUAGE sql STABLE AS $fn$
    -- A measured CCS of the query's ion must lie within tolerance_pct of the query's. Where
    -- none was measured, the predicted one must lie within predicted_tolerance_pct when given,
    -- else within its own 95 % interval (uncertainty_pct), else within the larger of
    -- tolerance_pct and the predictor's tolerance; a candidate with neither stays.
    -- (molvis_ccs_fits.tolerance_pct: the argument, not ccs_predictor's column of that name.)
    SELECT CASE
        WHEN query_ccs IS NULL THEN true
        WHEN EXISTS (SELECT 1 FROM ccs_value v WHERE v.compound_id = cid
                       AND v.superseded_by IS NULL
                       AND (query_adduct IS NULL OR v.adduct = query_adduct))
        THEN EXISTS (SELECT 1 FROM ccs_value v WHERE v.compound_id = cid
                       AND v.superseded_by IS NULL
                       AND (query_adduct IS NULL OR v.adduct = query_adduct)
                       AND abs(v.ccs - query_ccs) <= query_ccs * tolerance_pct / 100)
        ELSE coalesce((SELECT abs(p.ccs - query_ccs) <= query_ccs * coalesce(
                                  predicted_tolerance_pct, p.uncertainty_pct,
                                  greatest(molvis_ccs_fits.tolerance_pct, r.tolerance_pct)) / 100
                       FROM ccs_prediction p JOIN ccs_predictor r ON r.id = p.predictor_id
                       WHERE p.predictor_id = predictor AND p.compound_id = cid
                         AND p.adduct = query_adduct), true)
    END
$fn$;
