"""Ingestion assets: one per kind, partitioned by source file; a materialisation is one
ingest of that file (molvis/workflows/ingest.py, as `molvis ingest` runs it), with its counts
as metadata. Then fingerprints and the MS/MS library index, assets of their own."""

from pathlib import Path

from dagster import (
    AssetExecutionContext,
    AssetsDefinition,
    Config,
    Failure,
    MaterializeResult,
    asset,
)

from assets.partitions import FILE_PARTITIONS, KINDS
from assets.resources import RegistryResource
from molvis.workflows.ingest import ingest_files, ingest_options, refresh_library
from registry.db.connection import session_scope
from registry.ingest.fingerprints import fill_missing


class IngestConfig(Config):
    source: str = "inbox"
    licence: str = ""
    structure_index: str = ""
    columns: str = ""


def _ingest_asset(kind: str) -> AssetsDefinition:
    @asset(
        name=f"{kind}_files",
        partitions_def=FILE_PARTITIONS[kind],
        group_name="ingest",
        description=f"{kind} files ingested into the registry, one partition per file",
    )
    def _asset(
        context: AssetExecutionContext, config: IngestConfig, registry: RegistryResource
    ) -> MaterializeResult:
        try:
            options = ingest_options(config.licence, None, config.columns, config.structure_index)
        except ValueError as exc:
            raise Failure(str(exc)) from None
        path = Path(context.partition_key)
        report = ingest_files(
            registry.engine(), kind, [path], config.source, options, library=False
        )
        (summary,) = report.files
        if summary.status == "failed":
            raise Failure(summary.error or "ingest failed")
        context.log.info(f"{summary.file}: {summary.status}")
        return MaterializeResult(
            metadata={
                "status": summary.status,
                "read": summary.read,
                "inserted": summary.inserted,
                "duplicates": summary.duplicates,
                "rejected": summary.rejected,
                "compounds_new": summary.compounds_new,
                "seconds": round(summary.seconds, 2),
            }
        )

    return _asset


INGEST_ASSETS = [_ingest_asset(kind) for kind in KINDS]


@asset(
    deps=INGEST_ASSETS,
    group_name="registry",
    description="the report's RDKit fingerprint for every compound that lacks one",
)
def fingerprints(registry: RegistryResource) -> MaterializeResult:
    with session_scope(registry.engine()) as session:
        filled = fill_missing(session)
    return MaterializeResult(metadata={"filled": filled})


@asset(
    deps=[a for a in INGEST_ASSETS if a.key.path[-1] == "msms_files"],
    group_name="registry",
    description="the MS/MS reference library index (flash entropy) under MOLVIS_HOME/library, "
    "rebuilt when the registry's spectra changed since it was built",
)
def msms_library(registry: RegistryResource) -> MaterializeResult:
    return MaterializeResult(
        metadata=refresh_library(registry.engine(), home=registry.settings().home)
    )
