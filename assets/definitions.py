"""The one Dagster Definitions of molvis: `dagster dev -m assets.definitions` loads it."""

from __future__ import annotations

from dagster import Definitions, define_asset_job

from assets.ccs import ccs_predictions
from assets.checks import CHECKS
from assets.ingest import INGEST_ASSETS, fingerprints, msms_library
from assets.outside_runs import outside_runs_sensor
from assets.resources import RegistryResource
from assets.sensors import INGEST_JOBS, inbox_sensor
from assets.training import (
    active_model,
    measurement_embeddings,
    structure_embeddings,
    structure_index,
    trained_model,
)

ALL_ASSETS = [
    *INGEST_ASSETS,
    fingerprints,
    msms_library,
    trained_model,
    active_model,
    structure_embeddings,
    measurement_embeddings,
    structure_index,
    ccs_predictions,
]

defs = Definitions(
    assets=ALL_ASSETS,
    asset_checks=CHECKS,
    sensors=[inbox_sensor, outside_runs_sensor],
    jobs=[
        *INGEST_JOBS.values(),
        define_asset_job("library_index", selection=[msms_library]),
        define_asset_job("ccs_backfill", selection=[ccs_predictions]),
        define_asset_job(
            "train_and_embed",
            selection=[fingerprints, trained_model, active_model, measurement_embeddings],
        ),
    ],
    resources={"registry": RegistryResource()},
)
