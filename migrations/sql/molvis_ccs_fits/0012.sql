CREATE FUNCTION molvis_ccs_fits(
    cid bigint, query_ccs float8, query_adduct text, tolerance_pct float8,
    predicted_tolerance_pct float8, predictor int
) RETURNS boolean LANGUAGE sql STABLE AS $fn$
    SELECT CASE
        WHEN query_ccs IS NULL THEN true
        WHEN EXISTS (SELECT 1 FROM ccs_value v WHERE v.compound_id = cid
                       AND v.superseded_by IS NULL
                       AND (query_adduct IS NULL OR v.adduct = query_adduct))
        THEN EXISTS (SELECT 1 FROM ccs_value v WHERE v.compound_id = cid
                       AND v.superseded_by IS NULL
                       AND (query_adduct IS NULL OR v.adduct = query_adduct)
                       AND abs(v.ccs - query_ccs) <= query_ccs * tolerance_pct / 100)
        ELSE coalesce((SELECT abs(p.ccs - query_ccs) <= query_ccs * predicted_tolerance_pct / 100
                       FROM ccs_prediction p
                       WHERE p.predictor_id = predictor AND p.compound_id = cid
                         AND p.adduct = query_adduct), true)
    END
$fn$;
