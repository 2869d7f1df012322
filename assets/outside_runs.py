"""Files loaded outside Dagster (`molvis ingest` on the command line) reported as
materializations, so the Dagster UI shows the registry as it is rather than "never
materialized": each loaded ingest run becomes its file's partition of `<kind>_files`, then
`fingerprints` (the ingest fills them) and, after MS/MS files, `msms_library` (the command line
rebuilds it). Runs Dagster made itself are skipped."""

from __future__ import annotations

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

from assets.partitions import FILE_PARTITIONS
from assets.resources import RegistryResource
from registry.db import session_scope
from registry.runs import RecordedRun, loaded_runs_after

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
    return bool(records) and records[0].timestamp >= finished


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
        instance.report_runless_asset_event(
            AssetMaterialization(
                asset_key=f"{run.kind}_files",
                partition=run.file_path,
                description=OUTSIDE,
                metadata={
                    "source": run.source,
                    "inserted": run.inserted,
                    "duplicates": run.duplicates,
                    "rejected": run.rejected,
                    "ingest_run": run.id,
                },
            )
        )
        reported.append(run)
    followers = ["fingerprints"] if reported else []
    if any(r.kind == "msms" for r in reported):
        followers.append("msms_library")
    for name in followers:
        instance.report_runless_asset_event(
            AssetMaterialization(
                asset_key=name,
                description=OUTSIDE,
                metadata={"ingest_runs": ", ".join(str(r.id) for r in reported)},
            )
        )
    return reported


@sensor(
    minimum_interval_seconds=30,
    default_status=DefaultSensorStatus.RUNNING,
    description="reports files loaded by `molvis ingest` as materializations",
)
def outside_runs_sensor(context: SensorEvaluationContext, registry: RegistryResource):
    last = int(context.cursor or 0)
    with session_scope(registry.engine()) as session:
        runs = loaded_runs_after(session, last)
    if not runs:
        return SkipReason("no file loaded since the last look")
    reported = report_outside_runs(context.instance, runs)
    context.update_cursor(str(runs[-1].id))
    return SkipReason(f"{len(reported)} of {len(runs)} loaded files reported as loaded outside")
