"""Predicted CCS of every compound (candidate libraries included), by id shard."""

from dagster import AssetExecutionContext, MaterializeResult, asset

from assets.ingest import fingerprints
from assets.partitions import SHARD_COUNT, SHARDS
from assets.resources import RegistryResource
from molvis.workflows.ccs_backfill import backfill, default_workers

# Shards of one backfill run side by side, as many as the deployment's run queue allows
# (assets/deploy/dagster.yaml, max_concurrent_runs): each shard's run takes its share of the
# cores for featurisation, not all of them.
CONCURRENT_RUNS = 4


def shard_workers() -> int:
    """Featurisation processes for one shard's run: the cores shared among the runs beside it."""
    return max(1, default_workers() // CONCURRENT_RUNS)


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
    report = backfill(
        registry.engine(),
        shards=SHARD_COUNT,
        shard=int(context.partition_key),
        workers=shard_workers(),
    )
    return MaterializeResult(metadata=report)
