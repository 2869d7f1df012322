"""Predicted CCS of every compound (candidate libraries included), by id shard."""

from dagster import AssetExecutionContext, MaterializeResult, asset

from assets.ingest import fingerprints
from assets.partitions import SHARD_COUNT, SHARDS
from assets.resources import RegistryResource
from molvis.workflows.ccs_backfill import backfill


@asset(
    deps=[fingerprints],
    partitions_def=SHARDS,
    group_name="embeddings",
    description="predicted CCS of the common adducts for every compound lacking them (active "
    "CCS predictor), by id shard; re-running a shard adds nothing",
)
def ccs_predictions(
    context: AssetExecutionContext, registry: RegistryResource
) -> MaterializeResult:
    report = backfill(registry.engine(), shards=SHARD_COUNT, shard=int(context.partition_key))
    return MaterializeResult(metadata=report)
