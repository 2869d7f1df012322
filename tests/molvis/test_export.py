"""The batch table: each column holds its own field (a row whose every value differs tells a
column filled from the wrong field), an empty row for a query without hits, a row with the
reason for a record not searched, CSV and TSV."""

import csv
import io

from molvis.workflows.export import COLUMNS, table_rows, table_text

RESULT = {
    "query": "q-title",
    "precursor_mz": 195.0877,
    "adduct": "[M+H]+",
    "feature_id": "F7",
    "rt": 5.02,
    "scans": "12,14",
    "ccs": 141.2,
    "hits": [
        {
            "rank": 3,
            "inchikey": "RYYVLZVUVIJVGH-UHFFFAOYSA-N",
            "smiles": "Cn1cnc2c1c(=O)n(C)c(=O)n2C",
            "formula": "C8H10N4O2",
            "name": "caffeine",
            "score": 0.41,
            "level": "3",
            "probability": 0.27,
            "variants": ["RYYVLZVUVIJVGH-ZZZZZZZZZZ-N", "RYYVLZVUVIJVGH-YYYYYYYYYY-N"],
            "evidence": {
                "library": {
                    "score": 0.63,
                    "matched_peaks": 5,
                    "record_id": "MSBNK-1",
                    "adduct": "[M+Na]+",
                },
                "ppm_error": -1.7,
                "ccs": {"deviation_pct": 2.2, "basis": "predicted"},
                "fragments": {
                    "explained_intensity": 0.81,
                    "explained_peaks": 4,
                    "predicted_similarity": 0.37,
                },
            },
        }
    ],
}


def test_every_column_holds_its_own_field():
    (row,) = table_rows(7, RESULT)
    assert list(row) == list(COLUMNS)
    assert row == {
        "query_id": 7,
        "query": "q-title",
        "precursor_mz": 195.0877,
        "adduct": "[M+H]+",
        "feature_id": "F7",
        "rt": 5.02,
        "scans": "12,14",
        "ccs": 141.2,
        "rank": 3,
        "inchikey": "RYYVLZVUVIJVGH-UHFFFAOYSA-N",
        "smiles": "Cn1cnc2c1c(=O)n(C)c(=O)n2C",
        "formula": "C8H10N4O2",
        "name": "caffeine",
        "score": 0.41,
        "level": "3",
        "probability": 0.27,
        "library_score": 0.63,
        "matched_peaks": 5,
        "library_record": "MSBNK-1",
        "reference_adduct": "[M+Na]+",  # the reference's, not the query's
        "ppm_error": -1.7,
        "ccs_deviation_pct": 2.2,
        "ccs_basis": "predicted",
        "explained_intensity": 0.81,
        "predicted_similarity": 0.37,
        "variants": "RYYVLZVUVIJVGH-ZZZZZZZZZZ-N RYYVLZVUVIJVGH-YYYYYYYYYY-N",
        "skipped": None,
    }


def test_a_query_without_hits_is_one_row_and_tsv_csv_read_back():
    empty = {**RESULT, "query": "nothing", "hits": []}
    assert list(table_rows(2, empty)) == [
        {
            "query_id": 2,
            "query": "nothing",
            "precursor_mz": 195.0877,
            "adduct": "[M+H]+",
            "feature_id": "F7",
            "rt": 5.02,
            "scans": "12,14",
            "ccs": 141.2,
        }
    ]
    skipped = {"query": "run.mzML scan 1", "skipped": "an MS1 scan, not MS/MS: skipped", "hits": []}
    assert list(table_rows(3, skipped)) == [
        {"query_id": 3, "query": "run.mzML scan 1", "skipped": "an MS1 scan, not MS/MS: skipped"}
    ]
    for delimiter in ("\t", ","):
        rows = list(
            csv.DictReader(
                io.StringIO(table_text([RESULT, empty, skipped], delimiter)), delimiter=delimiter
            )
        )
        assert [r["query_id"] for r in rows] == ["1", "2", "3"]
        assert [r["skipped"] for r in rows] == ["", "", "an MS1 scan, not MS/MS: skipped"]
        assert rows[0]["reference_adduct"] == "[M+Na]+" and rows[1]["inchikey"] == ""
