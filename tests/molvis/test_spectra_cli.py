"""`molvis spectra predict FILE`: one answer per row in input order, with the predicted peaks
and their fragment formulas, or `peaks: null` and a reason naming the file and line.
`molvis spectra train --config FILE`: the file's settings, the flags over them."""

import json

from models.fragment_model import load_model, save_model
from tests.builders import write
from tests.conftest import molvis
from tests.models.test_fragment_model import _tiny_model

CAFFEINE = "Cn1cnc2c1c(=O)n(C)c(=O)n2C"


def test_spectra_predict_answers_every_row_in_order(engine, tmp_path):
    model, _ = _tiny_model()
    path = tmp_path / "forward.pt"
    save_model(model, {}, path)
    table = write(
        tmp_path,
        "structures.csv",
        "name,smiles,adduct,collision_energy\n"
        f"caffeine,{CAFFEINE},[M+H]+,35 eV\n"
        "broken,C1CC(,[M+H]+,20\n"
        f"odd ion,{CAFFEINE},[M+Foo]+,\n"
        f"no energy,{CAFFEINE},M-H,\n"
        "nothing,,[M+H]+,10\n",
    )
    done = molvis("spectra", "predict", str(table), "--model", str(path), "--json")
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)
    assert [r["adduct"] for r in rows] == ["[M+H]+", "[M+H]+", "[M+Foo]+", "M-H", "[M+H]+"]
    assert [r["collision_energy"] for r in rows] == ["35 eV", "20", None, None, "10"]
    first = rows[0]
    assert first["smiles"] and 0 < len(first["peaks"]) <= 5
    assert len(first["fragments"]) == len(first["peaks"])
    assert max(i for _, i in first["peaks"]) == 1.0  # scaled to a base peak of 1
    assert [m for m, _ in first["peaks"]] == sorted(m for m, _ in first["peaks"])
    assert all(f.endswith("+") for f in first["fragments"])
    assert rows[1]["peaks"] is None and "structures.csv line 3" in rows[1]["reason"]
    assert rows[2]["peaks"] is None and "'[M+Foo]+' unknown" in rows[2]["reason"]
    assert rows[3]["peaks"] and all(f.endswith("-") for f in rows[3]["fragments"])
    assert rows[4]["reason"].endswith("line 6: no structure (no SMILES, InChI or InChIKey)")
    fewer = molvis(
        "spectra", "predict", str(table), "--model", str(path), "--top-peaks", "2", "--json"
    )
    assert len(json.loads(fewer.stdout)[0]["peaks"]) == 2
    no_column = write(tmp_path, "bad.csv", "name,adduct\nx,[M+H]+\n")
    refused = molvis("spectra", "predict", str(no_column), "--model", str(path), "--json")
    assert refused.returncode == 2 and json.loads(refused.stdout) == {
        "error": "bad.csv line 1: no structure column (smiles, inchi or inchikey)"
    }


def test_predict_table_says_how_far_it_got(tmp_path):
    from molvis.workflows.spectra_file import predict_table

    model, _ = _tiny_model(3)
    path = tmp_path / "forward.pt"
    save_model(model, {}, path)
    table = write(tmp_path, "two.csv", f"smiles,adduct\n{CAFFEINE},[M+H]+\nCCO,[M+H]+\n")
    calls = []
    answers = predict_table(
        table, None, path, progress=lambda done, rows: calls.append((done, rows))
    )
    assert len(answers) == 2 and calls == [(0, 2), (1, 2), (2, 2)]


def test_spectra_train_reads_its_settings_from_a_file_and_the_flags_over_them(
    seed_registry, tmp_path
):
    seed_registry(massbank=300)
    settings = write(tmp_path, "small.yaml", "hidden: 8\nlayers: 1\nepochs: 5\ndevice: cpu\n")
    output = tmp_path / "forward.pt"
    done = molvis(
        "spectra", "train", "--config", str(settings), "--epochs", "1", "--max-spectra", "40",
        "--max-test", "5", "--output", str(output), "--json",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    model, saved = load_model(output)
    assert (model.config.hidden, model.config.layers, model.config.device) == (8, 1, "cpu")
    assert (model.config.epochs, model.config.max_spectra) == (1, 40)  # the flags win
    assert summary["version"] == model.version and len(saved["metrics"]["history"]) == 1
    bad = write(tmp_path, "bad.yaml", "hidden: 8\ncolour: red\n")
    message = (
        f"cannot read the forward-model settings {bad}: unknown forward-model settings: colour"
    )
    refused = molvis("spectra", "train", "--config", str(bad), "--output", str(output), "--json")
    assert refused.returncode == 2 and json.loads(refused.stdout) == {"error": message}
    assert refused.stderr.strip() == f"molvis: error: {message}"
