"""Files loaded by `molvis ingest` show in Dagster as materialized (the outside-runs sensor);
files Dagster loaded itself are not reported twice."""

import pytest
from dagster import (
    AssetKey,
    AssetMaterialization,
    AssetRecordsFilter,
    DagsterInstance,
    build_sensor_context,
    materialize,
)

from assets.definitions import ALL_ASSETS
from assets.outside_runs import OUTSIDE, outside_runs_sensor
from assets.partitions import FILE_PARTITIONS
from assets.resources import RegistryResource
from tests.builders import mgf_block, write
from tests.conftest import ingest

RESOURCES = {"registry": RegistryResource()}


@pytest.fixture
def instance():
    with DagsterInstance.ephemeral() as inst:
        yield inst


def materializations(instance, key: str, partition: str | None = None) -> list:
    records = instance.fetch_materializations(
        AssetRecordsFilter(
            asset_key=AssetKey(key), asset_partitions=[partition] if partition else None
        ),
        limit=10,
    ).records
    return [r.asset_materialization for r in records]


def tick(instance, cursor=None):
    context = build_sensor_context(instance=instance, cursor=cursor, resources=RESOURCES)
    result = outside_runs_sensor(context)
    return context.cursor, result


def test_command_line_ingests_become_materializations(engine, tmp_path, instance):
    spectra = write(tmp_path, "lab.mgf", mgf_block("a", "CCO", "47.049", ["100 1"]))
    table = write(tmp_path, "ccs.tsv", "smiles\tadduct\tccs\nCCN\t[M+H]+\t120.5\n")
    ingest(engine, "msms", spectra, "lab")
    ingest(engine, "ccs", table, "lab")
    cursor, _ = tick(instance)
    (msms,) = materializations(instance, "msms_files", str(spectra))
    assert msms.description == OUTSIDE and msms.metadata["inserted"].value == 1
    assert str(spectra) in instance.get_dynamic_partitions(FILE_PARTITIONS["msms"].name)
    assert len(materializations(instance, "ccs_files", str(table))) == 1
    assert len(materializations(instance, "fingerprints")) == 1
    assert len(materializations(instance, "msms_library")) == 1
    # the next look finds nothing new and reports nothing
    again, result = tick(instance, cursor)
    assert again == cursor and "nothing loaded or trained" in result.skip_message
    assert len(materializations(instance, "fingerprints")) == 1
    # a CCS file alone brings fingerprints up to date, not the MS/MS library
    more = write(tmp_path, "more.tsv", "smiles\tadduct\tccs\nCCCN\t[M+H]+\t125.5\n")
    ingest(engine, "ccs", more, "lab")
    tick(instance, cursor)
    assert len(materializations(instance, "fingerprints")) == 2
    assert len(materializations(instance, "msms_library")) == 1


def test_a_file_dagster_loaded_is_not_reported_again(engine, tmp_path, instance):
    path = write(tmp_path, "dag.mgf", mgf_block("b", "CCCO", "61.0648", ["43 1"]))
    key = str(path)
    instance.add_dynamic_partitions(FILE_PARTITIONS["msms"].name, [key])
    asset = next(a for a in ALL_ASSETS if a.key.to_user_string() == "msms_files")
    config = {"ops": {"msms_files": {"config": {"source": "dagster"}}}}
    run = materialize(
        [asset], partition_key=key, resources=RESOURCES, instance=instance, run_config=config
    )
    assert run.success
    tick(instance)
    (only,) = materializations(instance, "msms_files", key)
    assert only.description != OUTSIDE
    assert materializations(instance, "fingerprints") == []


def test_a_model_trained_or_embedded_outside_dagster_is_reported_once(engine, instance):
    from sqlalchemy import text

    from registry.db.connection import session_scope
    from registry.learned.versions import register_model

    with session_scope(engine) as session:
        register_model(session, "cli-model", "v1", "/nowhere.pt", {}, {}, True)
    cursor, _ = tick(instance)
    (active,) = materializations(instance, "active_model")
    assert active.description == OUTSIDE and active.metadata["model"].text == "cli-model"
    assert materializations(instance, "structure_embeddings", "00") == []
    # `molvis embed`: the model now has vectors; every shard and the index are reported
    with session_scope(engine) as session:
        session.execute(text("UPDATE model SET structure_embeddings = 42 WHERE name = 'cli-model'"))
    cursor, _ = tick(instance, cursor)
    assert len(materializations(instance, "structure_embeddings", "15")) == 1
    assert len(materializations(instance, "structure_index")) == 1
    assert len(materializations(instance, "active_model")) == 2
    # nothing changed: nothing reported
    same, result = tick(instance, cursor)
    assert same == cursor and len(materializations(instance, "active_model")) == 2
    # Dagster materialized active_model itself since: a later change is its own, not reported
    instance.report_runless_asset_event(AssetMaterialization(asset_key="active_model"))
    with session_scope(engine) as session:
        session.execute(text("UPDATE model SET structure_embeddings = 43 WHERE name = 'cli-model'"))
    tick(instance, cursor)
    assert len(materializations(instance, "active_model")) == 3  # the one just made above
    assert len(materializations(instance, "structure_index")) == 1
