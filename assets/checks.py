"""Asset checks: registry integrity, embedding completeness, and the blocking retrieval check
that a model must pass before it becomes active."""

from dagster import AssetCheckResult, AssetCheckSeverity, asset_check
from sqlalchemy import text

from assets.ingest import fingerprints
from assets.resources import RegistryResource
from assets.training import structure_index, trained_model
from registry.db import session_scope
from registry.model_store import get_model


def _scalar(registry: RegistryResource, sql: str, **params) -> int:
    with session_scope(registry.engine()) as session:
        return int(session.execute(text(sql), params).scalar_one())


@asset_check(asset=fingerprints, description="InChIKeys well-formed and unique")
def inchikeys_valid(registry: RegistryResource) -> AssetCheckResult:
    bad = _scalar(
        registry, "SELECT count(*) FROM compound WHERE inchikey !~ '^[A-Z]{14}-[A-Z]{10}-[A-Z]$'"
    )
    dupes = _scalar(registry, "SELECT count(*) - count(DISTINCT inchikey) FROM compound")
    return AssetCheckResult(
        passed=bad == 0 and dupes == 0, metadata={"malformed": bad, "duplicates": dupes}
    )


@asset_check(asset=fingerprints, description="every compound has a fingerprint")
def fingerprints_complete(registry: RegistryResource) -> AssetCheckResult:
    missing = _scalar(registry, "SELECT count(*) FROM compound WHERE fingerprint IS NULL")
    return AssetCheckResult(passed=missing == 0, metadata={"missing": missing})


@asset_check(asset=fingerprints, description="no measurement without its compound or run")
def no_orphan_measurements(registry: RegistryResource) -> AssetCheckResult:
    orphans = sum(
        _scalar(
            registry,
            f"""
        SELECT count(*) FROM {table} t
        WHERE NOT EXISTS (SELECT 1 FROM compound c WHERE c.id = t.compound_id)
           OR NOT EXISTS (SELECT 1 FROM ingest_run r WHERE r.id = t.run_id)""",
        )
        for table in ("msms_spectrum", "ir_spectrum", "ccs_value")
    )
    return AssetCheckResult(passed=orphans == 0, metadata={"orphans": orphans})


@asset_check(
    asset=structure_index, description="every compound embedded for the active model, 256-d, finite"
)
def embeddings_complete(registry: RegistryResource) -> AssetCheckResult:
    with session_scope(registry.engine()) as session:
        model_id = get_model(session).id
    missing = _scalar(
        registry,
        """
        SELECT count(*) FROM compound c WHERE NOT EXISTS (
          SELECT 1 FROM structure_embedding e WHERE e.model_id = :m AND e.compound_id = c.id)""",
        m=model_id,
    )
    bad = _scalar(
        registry,
        """
        SELECT count(*) FROM structure_embedding WHERE model_id = :m
          AND (vector_dims(embedding) <> 256 OR NOT (vector_norm(embedding) BETWEEN 0.99 AND 1.01))
    """,
        m=model_id,
    )
    return AssetCheckResult(
        passed=missing == 0 and bad == 0,
        metadata={"missing": missing, "not_unit_or_wrong_dim": bad},
    )


@asset_check(
    asset=trained_model,
    blocking=True,
    description="MS/MS top-5 and top-20 on the test split no worse than random ranking "
    "(blocks activation)",
)
def retrieval_beats_random(context) -> AssetCheckResult:
    event = context.instance.get_latest_materialization_event(trained_model.key)
    metadata = event.asset_materialization.metadata if event else {}
    names = ("top5", "random_top5", "top20", "random_top20")
    values = {
        k: metadata[f"msms_test_split_{k}"].value
        for k in names
        if f"msms_test_split_{k}" in metadata
    }
    if len(values) < len(names):
        return AssetCheckResult(
            passed=False,
            severity=AssetCheckSeverity.ERROR,
            metadata={"reason": "no MS/MS evaluation on the test split"},
        )
    passed = values["top5"] >= values["random_top5"] and values["top20"] >= values["random_top20"]
    return AssetCheckResult(passed=passed, metadata=values)


CHECKS = [
    inchikeys_valid,
    fingerprints_complete,
    no_orphan_measurements,
    embeddings_complete,
    retrieval_beats_random,
]
