"""Files loaded outside Dagster (`molvis ingest` on the command line) reported as
materializations, so the Dagster UI shows the registry as it is rather than "never
materialized": each loaded ingest run becomes its file's partition of `<kind>_files`, then
`fingerprints` (the ingest fills them) and, after MS/MS files, `msms_library` (the command line
rebuilds it). A model made active or embedded by the command line (`molvis models activate`,
`molvis embed`) becomes `active_model` and, once it has structure vectors, every shard of
`structure_embeddings` and `structure_index` (a model trained but not activated changes no
asset). What Dagster made itself is skipped."""

from __future__ import annotations

import json

from dagster import (
    AssetKey,
    AssetMaterialization,
    AssetRecordsFilter,
    DagsterInstance,
    DefaultSensorStatus,
    SensorEvaluationContext,
    SkipReason,
    sensor,
)

from assets.partitions import FILE_PARTITIONS, SHARDS
from assets.resources import RegistryResource
from registry.db.connection import session_scope
from registry.read.runs import ActiveModel, RecordedRun, active_model, loaded_runs_after

OUTSIDE = "loaded outside Dagster (molvis command line)"


def _made_by_dagster(instance: DagsterInstance, run: RecordedRun) -> bool:
    """Dagster materialized this file's partition when (or after) the run finished."""
    records = instance.fetch_materializations(
        AssetRecordsFilter(
            asset_key=AssetKey(f"{run.kind}_files"), asset_partitions=[run.file_path]
        ),
        limit=1,
    ).records
    finished = run.finished_at.timestamp() if run.finished_at else 0.0
    return _dagsters(records, finished)


def _dagsters(records, since: float) -> bool:
    """The latest record is Dagster's own (not one this sensor reported) and not older."""
    return (
        bool(records)
        and records[0].timestamp >= since
        and records[0].asset_materialization.description != OUTSIDE
    )


def _report(
    instance: DagsterInstance, asset: str, metadata: dict, partition: str | None = None
) -> None:
    """One materialization made outside Dagster."""
    instance.report_runless_asset_event(
        AssetMaterialization(
            asset_key=asset, partition=partition, description=OUTSIDE, metadata=metadata
        )
    )


def report_outside_runs(instance: DagsterInstance, runs: list[RecordedRun]) -> list[RecordedRun]:
    """Report each run Dagster did not make as its file's materialization (its partition added
    when missing), then the assets those ingests brought up to date; the runs reported."""
    reported = []
    for run in runs:
        partitions = FILE_PARTITIONS[run.kind].name
        if not instance.has_dynamic_partition(partitions, run.file_path):
            instance.add_dynamic_partitions(partitions, [run.file_path])
        elif _made_by_dagster(instance, run):
            continue
        counts = {"inserted": run.inserted, "duplicates": run.duplicates, "rejected": run.rejected}
        metadata = {"source": run.source, **counts, "ingest_run": run.id}
        _report(instance, f"{run.kind}_files", metadata, run.file_path)
        reported.append(run)
    followers = ["fingerprints"] if reported else []
    if any(r.kind == "msms" for r in reported):
        followers.append("msms_library")
    for name in followers:
        _report(instance, name, {"ingest_runs": ", ".join(str(r.id) for r in reported)})
    return reported


def report_outside_model(instance: DagsterInstance, model: ActiveModel) -> list[str]:
    """Report the active model (and its vectors) unless Dagster materialized `active_model`
    since the model was registered; the assets reported."""
    since = model.created_at.timestamp()
    made = instance.fetch_materializations(AssetKey("active_model"), limit=1).records
    if _dagsters(made, since):
        return []
    metadata = {"model": model.name, "version": model.version}
    reported = ["active_model"]
    _report(instance, "active_model", metadata)
    if model.structure_embeddings:
        metadata = metadata | {"structure_vectors": model.structure_embeddings}
        for shard in SHARDS.get_partition_keys():
            _report(instance, "structure_embeddings", metadata, shard)
        _report(instance, "structure_index", metadata)
        reported += ["structure_embeddings", "structure_index"]
    return reported


def _cursor(text: str | None) -> dict:
    """The sensor's cursor: the last ingest run seen and the active model's state then."""
    if not text:
        return {"run": 0, "model": None}
    return json.loads(text)


@sensor(
    minimum_interval_seconds=30,
    default_status=DefaultSensorStatus.RUNNING,
    description="reports files loaded by `molvis ingest`, and a model activated or embedded by "
    "the command line, as materializations",
)
def outside_runs_sensor(context: SensorEvaluationContext, registry: RegistryResource):
    cursor = _cursor(context.cursor)
    with session_scope(registry.engine()) as session:
        runs = loaded_runs_after(session, cursor["run"])
        model = active_model(session)
    changed = model is not None and model.state != cursor["model"]
    if not runs and not changed:
        return SkipReason("nothing loaded or trained since the last look")
    reported = report_outside_runs(context.instance, runs)
    assets = report_outside_model(context.instance, model) if changed else []
    context.update_cursor(
        json.dumps(
            {
                "run": runs[-1].id if runs else cursor["run"],
                "model": model.state if model else cursor["model"],
            }
        )
    )
    return SkipReason(
        f"{len(reported)} of {len(runs)} loaded files and {', '.join(assets) or 'no model asset'}"
        " reported as made outside Dagster"
    )
