"""The table of a batch search, one row per query and hit, as `molvis search --out` writes it
and the query page exports it: SMILES, formula, level, probability and the evidence's numbers
(no drawings)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator

HIT_KEYS = ("rank", "inchikey", "smiles", "formula", "name", "score", "level", "probability")
COLUMNS = (
    "query_id",
    "query",
    "precursor_mz",
    "adduct",
    "feature_id",
    "rt",
    "scans",
    "ccs",
    *HIT_KEYS,
    "library_score",
    "matched_peaks",
    "library_record",
    "reference_adduct",
    "ppm_error",
    "ccs_deviation_pct",
    "ccs_basis",
    "explained_intensity",
    "predicted_similarity",
    "variants",
    "skipped",
)


def table_rows(number: int, result: dict) -> Iterator[dict]:
    """The `--out` TSV/CSV rows of one query: one per hit (one empty row when nothing fit, one
    row with the reason for a record not searched)."""
    if "skipped" in result:
        yield {"query_id": number, "query": result["query"], "skipped": result["skipped"]}
        return
    base = {
        "query_id": number,
        "query": result["query"],
        **{
            k: result.get(k) for k in ("precursor_mz", "adduct", "feature_id", "rt", "scans", "ccs")
        },
    }
    if not result["hits"]:
        yield base
    for hit in result["hits"]:
        evidence = hit["evidence"]
        library, ccs = evidence["library"] or {}, evidence["ccs"] or {}
        fragments = evidence.get("fragments") or {}
        yield {
            **base,
            **{k: hit[k] for k in HIT_KEYS},
            "library_score": library.get("score"),
            "matched_peaks": library.get("matched_peaks"),
            "library_record": library.get("record_id"),
            "reference_adduct": library.get("adduct"),
            "ppm_error": evidence["ppm_error"],
            "ccs_deviation_pct": ccs.get("deviation_pct"),
            "ccs_basis": ccs.get("basis"),
            "explained_intensity": fragments.get("explained_intensity"),
            "predicted_similarity": fragments.get("predicted_similarity"),
            "variants": " ".join(hit["variants"]),
            "skipped": None,
        }


def table_text(results: Iterable[dict], delimiter: str = "\t") -> str:
    """The whole table as CSV/TSV text (the page's download)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, COLUMNS, delimiter=delimiter)
    writer.writeheader()
    for number, result in enumerate(results, start=1):
        writer.writerows(table_rows(number, result))
    return out.getvalue()
