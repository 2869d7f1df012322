"""Ingestion assets: one per kind, partitioned by source file; a materialisation is one
registry ingest of that file, with its counts as metadata. Then fingerprints and the MS/MS
library index."""

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
from registry.db import session_scope
from registry.fingerprints import fill_missing
from registry.ingest import IngestOptions, ingest_file
from registry.library_store import refresh_index
from registry.parsers.ir import StructureIndex
from registry.parsers.tables import parse_column_overrides


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
        options = IngestOptions(
            licence=config.licence or None, columns=parse_column_overrides(config.columns) or None
        )
        if config.structure_index:
            options.structure_index = StructureIndex.from_table(Path(config.structure_index))
        with session_scope(registry.engine()) as session:
            summary = ingest_file(
                session, kind, Path(context.partition_key), config.source, options
            )
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
    with session_scope(registry.engine()) as session:
        index, rebuilt = refresh_index(session, registry.settings().home)
    return MaterializeResult(
        metadata={"spectra": index.spectra, "rebuilt": rebuilt, "generation": index.generation}
    )
