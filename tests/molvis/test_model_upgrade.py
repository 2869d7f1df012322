"""A registered checkpoint whose file changed: the shipped one is re-registered (vectors
dropped, calibration refreshed); any other is refused. A shipped model's row completes its
calibrations from the shipped file."""

import json
import shutil
from dataclasses import replace

import numpy as np
import pytest
from sqlalchemy import text

from models.calibration import Calibration
from models.checkpoint import CheckpointError
from molvis.workflows.model_loading import PRETRAINED_DIR, LoadedModel, load_model
from molvis.workflows.search import loaded_calibration
from registry.db.connection import session_scope
from registry.learned.embeddings import write_structure_embeddings
from registry.learned.versions import ModelInfo, get_model, register_model, set_ranker
from tests.builders import write
from tests.conftest import count, ingest

SHIPPED = PRETRAINED_DIR / "molvis-base.pt"


@pytest.fixture
def one_compound(engine, tmp_path):
    ingest(engine, "structures", write(tmp_path, "one.smi", "c1ccccc1 benzene\n"), "lab")
    return engine


def _register_old(engine, path, version="000000000000"):
    with session_scope(engine) as session:
        info = register_model(session, "molvis-base", version, str(path), {}, {}, True)
        cid = session.execute(text("SELECT id FROM compound")).scalar_one()
        write_structure_embeddings(session, info.id, [cid], np.ones((1, 256)) / 16)
    return info


@pytest.mark.skipif(not SHIPPED.exists(), reason="no shipped model")
def test_an_upgraded_shipped_model_is_registered_again_and_its_vectors_dropped(one_compound):
    _register_old(one_compound, SHIPPED)
    loaded = load_model(one_compound)
    assert loaded.info.version == loaded.checkpoint["version"] != "000000000000"
    assert count(one_compound, "structure_embedding") == 0
    with session_scope(one_compound) as session:
        info = get_model(session, "molvis-base")
    assert info.is_active and info.calibration is not None
    assert load_model(one_compound).info.version == info.version  # a second load changes nothing


@pytest.mark.skipif(not SHIPPED.exists(), reason="no shipped model")
def test_a_shipped_model_s_stored_ranker_follows_the_ranker_shipped_beside_it(one_compound):
    """A molvis upgrade that refits the shipped ranker (say, for a new forward model): the row
    a registry stored at first use takes the new one at the next load; the reader's load
    (the page) changes nothing."""
    from molvis.workflows.model_loading import shipped_ranker

    loaded = load_model(one_compound)
    shipped = shipped_ranker(loaded.info)
    assert shipped is not None and loaded.info.ranker == shipped
    stale = shipped | {"coef": [0.0] * len(shipped["coef"]), "forward_model": "0" * 12}
    with session_scope(one_compound) as session:
        set_ranker(session, "molvis-base", stale)
    assert load_model(one_compound, read_only=True).info.ranker == stale
    assert load_model(one_compound).info.ranker == shipped
    with session_scope(one_compound) as session:
        assert get_model(session, "molvis-base").ranker == shipped


@pytest.mark.skipif(not SHIPPED.exists(), reason="no shipped model")
def test_a_changed_file_of_ones_own_model_is_refused(one_compound, tmp_path):
    own = tmp_path / "mine.pt"
    shutil.copy(SHIPPED, own)
    _register_old(one_compound, own)
    with pytest.raises(CheckpointError, match="register the new file under another name"):
        load_model(one_compound)
    assert count(one_compound, "structure_embedding") == 1


def test_shipped_files_are_stored_relative_to_molvis_and_old_absolute_paths_still_load(
    engine, tmp_path
):
    """A dump restored on another host or in an image: a shipped model's row says
    `shipped:molvis-base.pt`, not this checkout's absolute path; a row an older molvis wrote
    with another checkout's absolute path finds the same shipped file here; own files stay
    absolute."""
    from molvis.workflows.model_loading import model_file, stored_path

    assert stored_path(SHIPPED) == "shipped:molvis-base.pt"
    assert stored_path(PRETRAINED_DIR / "ccs" / "molvis-ccs.pt") == "shipped:ccs/molvis-ccs.pt"
    assert model_file("shipped:ccs/molvis-ccs.pt") == PRETRAINED_DIR / "ccs" / "molvis-ccs.pt"
    own = tmp_path / "mine.pt"
    assert stored_path(own) == str(own.resolve()) and model_file(str(own)) == own
    elsewhere = "/srv/old-checkout/models/pretrained/molvis-base.pt"
    assert model_file(elsewhere) == PRETRAINED_DIR / "molvis-base.pt"
    assert model_file("/srv/old-checkout/weights/molvis-base.pt").parts[1] == "srv"
    if SHIPPED.exists():
        loaded = load_model(engine)  # first use registers the shipped models
        assert loaded.info.path == "shipped:molvis-base.pt"
        with session_scope(engine) as session:
            session.execute(text("UPDATE model SET path = :p"), {"p": elsewhere})
        assert load_model(engine).info.version == loaded.info.version


def test_a_shipped_model_s_row_takes_the_shipped_fit_of_an_order_it_lacks():
    """A row holding one fit (stored alone, as molvis did before the orders were told apart)
    keeps it for the hand order and takes the shipped learned-order fit; another model's row
    has nothing shipped to take and says whose fit its learned-order hits get."""
    shipped = json.loads((PRETRAINED_DIR / "molvis-base.calibration.json").read_text())
    own = {**shipped["hand"], "coverage": 0.3}  # the lab's own fit
    info = ModelInfo(1, "molvis-base", "v", "shipped:molvis-base.pt", {}, True, calibration=own)
    learned, note = loaded_calibration(LoadedModel(info, None, {}, None), "learned")
    assert note is None and learned == Calibration.from_dict(shipped["learned"])
    hand, note = loaded_calibration(LoadedModel(info, None, {}, None), "hand")
    assert note is None and hand.coverage == 0.3
    mine = replace(info, name="mine", path="/elsewhere/mine.pt")
    learned, note = loaded_calibration(LoadedModel(mine, None, {}, None), "learned")
    assert learned.coverage == 0.3 and note.startswith("probability fitted on searches in the hand")
