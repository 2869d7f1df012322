import pytest
from dagster import DagsterInstance, build_sensor_context, materialize
from sqlalchemy import text

from assets.checks import embeddings_complete, fingerprints_complete
from assets.definitions import ALL_ASSETS, defs
from assets.partitions import FILE_PARTITIONS, SHARDS
from assets.resources import RegistryResource
from assets.sensors import inbox, inbox_sensor
from models.ccs_inputs import ADDUCTS
from tests.builders import write
from tests.conftest import REPO, first_mgf_blocks, shared, snapshot

RESOURCES = {"registry": RegistryResource()}
TINY = str(REPO / "models" / "configs" / "tiny.yaml")


def by_name(name):
    return next(a for a in ALL_ASSETS if a.key.to_user_string() == name)


def test_definitions_load():
    keys = {k.to_user_string() for k in defs.resolve_asset_graph().get_all_asset_keys()}
    assert {
        "msms_files",
        "fingerprints",
        "trained_model",
        "active_model",
        "structure_embeddings",
        "measurement_embeddings",
        "structure_index",
        "ccs_predictions",
    } <= keys


@pytest.fixture
def instance():
    with DagsterInstance.ephemeral() as inst:
        yield inst


def test_full_graph_on_a_slice(engine, tmp_path, instance):
    path = write(
        tmp_path, "mb.mgf", first_mgf_blocks(shared("massbank", "massbank_ms2.mgf.gz"), 1500)
    )
    key = str(path)
    instance.add_dynamic_partitions(FILE_PARTITIONS["msms"].name, [key])
    ingest_config = {"ops": {"msms_files": {"config": {"source": "massbank"}}}}
    run = materialize(
        [by_name("msms_files")],
        partition_key=key,
        resources=RESOURCES,
        instance=instance,
        run_config=ingest_config,
    )
    assert run.success
    before = snapshot(engine)
    again = materialize(
        [by_name("msms_files")],
        partition_key=key,
        resources=RESOURCES,
        instance=instance,
        run_config=ingest_config,
    )
    assert again.success and snapshot(engine) == before
    library = materialize([by_name("msms_library")], resources=RESOURCES, instance=instance)
    assert library.success
    (event,) = library.get_asset_materialization_events()
    metadata = event.materialization.metadata
    assert metadata["rebuilt"].value is True
    assert 1300 < metadata["spectra"].value <= before["msms_spectrum"]  # some empty after cleaning
    current = materialize([by_name("msms_library")], resources=RESOURCES, instance=instance)
    (event,) = current.get_asset_materialization_events()
    assert event.materialization.metadata["rebuilt"].value is False

    train_config = {
        "ops": {"trained_model": {"config": {"config_path": TINY, "eval_max_queries": 200}}}
    }
    result = materialize(
        [
            by_name("fingerprints"),
            by_name("trained_model"),
            by_name("active_model"),
            by_name("measurement_embeddings"),
        ],
        resources=RESOURCES,
        instance=instance,
        run_config=train_config,
        selection=["fingerprints", "trained_model", "active_model", "measurement_embeddings"],
    )
    assert result.success
    for shard in SHARDS.get_partition_keys():
        assert materialize(
            [by_name("structure_embeddings")],
            partition_key=shard,
            resources=RESOURCES,
            instance=instance,
        ).success
    index = materialize([by_name("structure_index")], resources=RESOURCES, instance=instance)
    assert index.success
    with engine.connect() as conn:
        compounds = conn.execute(text("SELECT count(*) FROM compound")).scalar()
        embedded = conn.execute(text("SELECT count(*) FROM structure_embedding")).scalar()
        spectra = conn.execute(
            text("SELECT count(*) FROM measurement_embedding WHERE modality = 'msms'")
        ).scalar()
    assert embedded == compounds and spectra == snapshot(engine)["msms_spectrum"]
    assert embeddings_complete(registry=RegistryResource()).passed

    # a shard re-run is delete-then-insert: same rows afterwards
    assert materialize(
        [by_name("structure_embeddings")],
        partition_key="03",
        resources=RESOURCES,
        instance=instance,
    ).success
    assert snapshot(engine)["structure_embedding"] == embedded

    # predicted CCS by shard (the shipped predictor): each adduct of each compound once
    for shard in ("00", "01", "01"):
        assert materialize(
            [by_name("ccs_predictions")],
            partition_key=shard,
            resources=RESOURCES,
            instance=instance,
        ).success
    with engine.connect() as conn:
        in_shards = conn.execute(
            text("SELECT count(*) FROM compound WHERE id % 16 IN (0, 1) AND formula IS NOT NULL")
        ).scalar()
        predicted = conn.execute(text("SELECT count(DISTINCT compound_id) FROM ccs_prediction"))
    assert in_shards > 0 and predicted.scalar() == in_shards
    assert snapshot(engine)["ccs_prediction"] == in_shards * len(ADDUCTS)

    # deliberately broken rows make the checks fail
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO compound (inchikey, inchi, smiles, formula, monoisotopic_mass) "
                "VALUES ('AAAAAAAAAAAAAA-UHFFFAOYSA-N', 'InChI=1S/CH4/h1H4', 'C', 'CH4', 16.03)"
            )
        )
    assert not fingerprints_complete(registry=RegistryResource()).passed
    assert not embeddings_complete(registry=RegistryResource()).passed


def test_sensor_picks_up_a_dropped_file(molvis_home, instance):
    folder = inbox("msms")
    folder.mkdir(parents=True, exist_ok=True)
    dropped = write(folder, "new.mgf", "BEGIN IONS\nPEPMASS=47.05\nSMILES=CCO\n50 1\nEND IONS\n")
    result = inbox_sensor(build_sensor_context(instance=instance))
    (request,) = result.run_requests
    assert request.partition_key == str(dropped.resolve())
    assert request.job_name == "ingest_msms_job"
    assert result.dynamic_partitions_requests[0].partition_keys == [str(dropped.resolve())]
    dropped.unlink()
