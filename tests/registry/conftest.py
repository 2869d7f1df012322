"""The hand-made five-compound registry the search tests share."""

import numpy as np
import pytest
from sqlalchemy import text

from registry.db.connection import session_scope
from registry.learned.embeddings import build_structure_index, write_structure_embeddings
from registry.learned.versions import register_model
from tests.builders import unit, write
from tests.conftest import ingest

# name, SMILES, embedding direction (before normalisation)
LIBRARY = [
    ("caffeine", "Cn1cnc2c1c(=O)n(C)c(=O)n2C", [1.0, 0.0, 0.0]),
    ("theobromine", "Cn1cnc2c1c(=O)[nH]c(=O)n2C", [0.9, 0.3, 0.0]),
    ("theophylline", "Cn1c(=O)c2[nH]cnc2n(C)c1=O", [0.6, 0.8, 0.0]),
    ("paraxanthine", "Cn1cnc2c1c(=O)n(C)c(=O)[nH]2", [0.0, 1.0, 0.0]),
    ("benzene", "c1ccccc1", [0.0, 0.0, 1.0]),
]


@pytest.fixture
def library(engine, tmp_path):
    smi = "".join(f"{s} {n}\n" for n, s, _ in LIBRARY)
    ingest(engine, "structures", write(tmp_path, "lib.smi", smi), "handmade")
    ingest(
        engine,
        "ccs",
        write(
            tmp_path,
            "ccs.csv",
            "smiles,adduct,ccs\nCn1cnc2c1c(=O)[nH]c(=O)n2C,[M+H]+,200.0\n"
            "Cn1c(=O)c2[nH]cnc2n(C)c1=O,[M+H]+,139.0\n",
        ),
        "ccs-lab",
    )
    with session_scope(engine) as session:
        model = register_model(session, "handmade", "v1", "/nonexistent.pt", {}, {}, True)
        ids = dict(session.execute(text("SELECT names[1], id FROM compound")).all())
        write_structure_embeddings(
            session,
            model.id,
            [ids[n] for n, _, _ in LIBRARY],
            np.stack([unit(v) for _, _, v in LIBRARY]),
        )
        build_structure_index(session, model.id)
    return engine


def names(result) -> list[str]:
    return [h.name for h in result.hits]
