"""Training, model activation, embedding backfills and the structure index."""

from pathlib import Path

from dagster import AssetExecutionContext, Config, MaterializeResult, asset

from assets.ingest import fingerprints
from assets.partitions import SHARD_COUNT, SHARDS
from assets.resources import RegistryResource
from molvis.workflows.embedding import embed_backfill
from molvis.workflows.evaluation import evaluate_model
from molvis.workflows.training import train_and_register
from registry.db.connection import session_scope
from registry.learned.embeddings import build_structure_index, embedding_counts
from registry.learned.versions import activate_model, get_model

REPO = Path(__file__).resolve().parent.parent


class TrainingConfig(Config):
    """Maps onto models.config.TrainConfig: a config file plus the usual overrides."""

    config_path: str = str(REPO / "models" / "configs" / "tiny.yaml")
    name: str = ""
    epochs: int = 0
    max_compounds: int = 0
    eval_max_queries: int = 500


@asset(
    deps=[fingerprints],
    group_name="models",
    op_tags={"molvis/accelerator": "gpu-preferred"},
    description="a model version trained on the registry and evaluated on its test split",
)
def trained_model(
    context: AssetExecutionContext, config: TrainingConfig, registry: RegistryResource
) -> MaterializeResult:
    from models.config import load_config

    train_config = load_config(Path(config.config_path))
    if config.name:
        train_config.name = config.name
    if config.epochs:
        train_config.epochs = config.epochs
    if config.max_compounds:
        train_config.max_compounds = config.max_compounds
    engine = registry.engine()
    out = train_and_register(engine, train_config, None, activate=False, show_progress=False)
    report = evaluate_model(engine, out["name"], 10.0, config.eval_max_queries, mass_window=True)
    metadata = {"name": out["name"], "version": out["version"], "best_epoch": out["best_epoch"]}
    for r in report["results"]:
        key = f"{r['query']}_{r['candidate_set']}"
        for k in ("top1", "top5", "top20", "random_top1", "random_top5", "random_top20"):
            metadata[f"{key}_{k}"] = r[k]
    context.log.info(f"trained {out['name']} ({out['version']})")
    return MaterializeResult(metadata=metadata, value=out["name"])


@asset(
    deps=[trained_model],
    group_name="models",
    description="the trained model made active, only after its retrieval check passed",
)
def active_model(context: AssetExecutionContext, registry: RegistryResource) -> MaterializeResult:
    name = _latest_trained_name(context)
    with session_scope(registry.engine()) as session:
        activate_model(session, name)
    return MaterializeResult(metadata={"active": name})


def _latest_trained_name(context: AssetExecutionContext) -> str:
    event = context.instance.get_latest_materialization_event(trained_model.key)
    if event is None or event.asset_materialization is None:
        raise ValueError("trained_model has not been materialised")
    return event.asset_materialization.metadata["name"].value


@asset(
    deps=[active_model, fingerprints],
    partitions_def=SHARDS,
    group_name="embeddings",
    description="structure embeddings of every compound for the active model, by id shard",
)
def structure_embeddings(
    context: AssetExecutionContext, registry: RegistryResource
) -> MaterializeResult:
    counts = embed_backfill(
        registry.engine(),
        None,
        shards=SHARD_COUNT,
        shard=int(context.partition_key),
        replace=True,
        measurements=False,
    )
    return MaterializeResult(
        metadata={"embedded": counts["structure"], "skipped": counts["structure_skipped"]}
    )


@asset(
    deps=[active_model],
    group_name="embeddings",
    description="MS/MS, IR and CCS embeddings of every measurement for the active model",
)
def measurement_embeddings(registry: RegistryResource) -> MaterializeResult:
    counts = embed_backfill(registry.engine(), None, structures=False)
    return MaterializeResult(metadata=counts)


@asset(
    deps=[structure_embeddings],
    group_name="embeddings",
    description="IVFFlat index over the active model's structure embeddings (the open query)",
)
def structure_index(registry: RegistryResource) -> MaterializeResult:
    with session_scope(registry.engine()) as session:
        info = get_model(session)
        name = build_structure_index(session, info.id)
        counts = embedding_counts(session, info.id)
    return MaterializeResult(metadata={"index": name, **counts})
