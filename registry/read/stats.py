"""Registry summary counts (`molvis stats`)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

_COUNTS = """
SELECT
  (SELECT count(*) FROM compound) AS compounds,
  (SELECT count(*) FROM msms_spectrum) AS msms_spectra,
  (SELECT count(*) FROM ir_spectrum) AS ir_spectra,
  (SELECT count(*) FROM ccs_value) AS ccs_values,
  (SELECT count(*) FROM source) AS sources,
  (SELECT count(*) FROM rejected_record) AS rejected_records,
  (SELECT count(*) FROM rejected_record WHERE reason LIKE '% Da from the structure''s %')
    AS rejected_precursor_not_structure,
  (SELECT count(*) FROM ingest_run) AS ingest_runs,
  (SELECT count(*) FROM compound WHERE fingerprint IS NOT NULL) AS compounds_with_fingerprint,
  (SELECT count(DISTINCT compound_id) FROM msms_spectrum) AS compounds_with_msms,
  (SELECT count(DISTINCT compound_id) FROM ir_spectrum) AS compounds_with_ir,
  (SELECT count(DISTINCT compound_id) FROM ccs_value) AS compounds_with_ccs,
  (SELECT count(*) FROM msms_spectrum WHERE superseded_by IS NOT NULL)
    + (SELECT count(*) FROM ir_spectrum WHERE superseded_by IS NOT NULL) AS superseded_versions
"""
_MULTI = """
SELECT count(*) FROM (
  SELECT compound_id FROM (
    SELECT DISTINCT compound_id, 'msms' AS m FROM msms_spectrum
    UNION ALL SELECT DISTINCT compound_id, 'ir' FROM ir_spectrum
    UNION ALL SELECT DISTINCT compound_id, 'ccs' FROM ccs_value
  ) per_modality GROUP BY compound_id HAVING count(*) >= 2
) multi
"""
_PER_SOURCE = """
SELECT s.name,
  (SELECT count(*) FROM msms_spectrum m WHERE m.source_id = s.id) AS msms_spectra,
  (SELECT count(*) FROM ir_spectrum i WHERE i.source_id = s.id) AS ir_spectra,
  (SELECT count(*) FROM ccs_value c WHERE c.source_id = s.id) AS ccs_values,
  (SELECT count(*) FROM rejected_record r JOIN ingest_run u ON u.id = r.run_id
     WHERE u.source_id = s.id) AS rejected_records
FROM source s ORDER BY s.name
"""


def registry_stats(session: Session) -> dict[str, Any]:
    """Counts per table, compounds with two or more modalities, and a row per source;
    `rejected_precursor_not_structure` counts the MS/MS refused because their precursor is not
    their structure's ion (registry/ingest/normalize.py)."""
    counts: dict[str, Any] = dict(session.execute(text(_COUNTS)).mappings().one())
    counts["compounds_multimodal"] = session.execute(text(_MULTI)).scalar_one()
    counts["per_source"] = [dict(r) for r in session.execute(text(_PER_SOURCE)).mappings()]
    return counts
