"""Inbox sensor: a file dropped into MOLVIS_HOME/inbox/<kind>/ becomes a partition and a run."""

from pathlib import Path

from dagster import RunRequest, SensorEvaluationContext, SensorResult, define_asset_job, sensor

from assets.ingest import INGEST_ASSETS
from assets.partitions import FILE_PARTITIONS, KINDS
from registry.db.settings import load_settings

INGEST_JOBS = {
    kind: define_asset_job(f"ingest_{kind}_job", selection=[a])
    for kind, a in zip(KINDS, INGEST_ASSETS, strict=True)
}


def inbox(kind: str) -> Path:
    return load_settings().home / "inbox" / kind


def _new_files(context: SensorEvaluationContext, kind: str) -> list[str]:
    folder = inbox(kind)
    if not folder.is_dir():
        return []
    known = set(context.instance.get_dynamic_partitions(FILE_PARTITIONS[kind].name))
    return [
        str(p.resolve())
        for p in sorted(folder.iterdir())
        if p.is_file() and not p.name.startswith(".") and str(p.resolve()) not in known
    ]


@sensor(jobs=list(INGEST_JOBS.values()), minimum_interval_seconds=30)
def inbox_sensor(context: SensorEvaluationContext) -> SensorResult:
    requests = []
    dynamic = []
    for kind in KINDS:
        files = _new_files(context, kind)
        if not files:
            continue
        dynamic.append(FILE_PARTITIONS[kind].build_add_request(files))
        config = {"ops": {f"{kind}_files": {"config": {"source": f"inbox-{kind}"}}}}
        requests += [
            RunRequest(
                run_key=f"{kind}:{f}",
                job_name=INGEST_JOBS[kind].name,
                partition_key=f,
                run_config=config,
            )
            for f in files
        ]
    return SensorResult(run_requests=requests, dynamic_partitions_requests=dynamic)
