"""Asset checks: registry integrity, embedding completeness, and the blocking retrieval check
that a model must pass before it becomes active."""

from dagster import AssetCheckResult, AssetCheckSeverity, asset_check

from assets.ingest import fingerprints
from assets.resources import RegistryResource
from assets.training import structure_index, trained_model
from registry.db.connection import session_scope
from registry.learned.versions import get_model
from registry.read import integrity


@asset_check(asset=fingerprints, description="InChIKeys well-formed and unique")
def inchikeys_valid(registry: RegistryResource) -> AssetCheckResult:
    with session_scope(registry.engine()) as session:
        bad = integrity.malformed_inchikeys(session)
        dupes = integrity.duplicate_inchikeys(session)
    return AssetCheckResult(
        passed=bad == 0 and dupes == 0, metadata={"malformed": bad, "duplicates": dupes}
    )


@asset_check(asset=fingerprints, description="every compound has a fingerprint")
def fingerprints_complete(registry: RegistryResource) -> AssetCheckResult:
    with session_scope(registry.engine()) as session:
        missing = integrity.compounds_without_fingerprint(session)
    return AssetCheckResult(passed=missing == 0, metadata={"missing": missing})


@asset_check(asset=fingerprints, description="no measurement without its compound or run")
def no_orphan_measurements(registry: RegistryResource) -> AssetCheckResult:
    with session_scope(registry.engine()) as session:
        orphans = integrity.orphan_measurements(session)
    return AssetCheckResult(passed=orphans == 0, metadata={"orphans": orphans})


@asset_check(
    asset=structure_index, description="every compound embedded for the active model, 256-d, finite"
)
def embeddings_complete(registry: RegistryResource) -> AssetCheckResult:
    with session_scope(registry.engine()) as session:
        model_id = get_model(session).id
        missing = integrity.compounds_without_embedding(session, model_id)
        bad = integrity.malformed_embeddings(session, model_id)
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
