"""Predicted CCS in the search: a candidate without a measured CCS is judged by its predicted
one; a measured value beats a predicted one; the backfill stores each once; `molvis ccs
predict` answers row by row."""

import json

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from models.ccs_inputs import ADDUCTS
from molvis.workflows.ccs_backfill import backfill
from molvis.workflows.ccs_prediction import PRETRAINED
from registry.db.connection import session_scope
from registry.learned.ccs_predictions import register_predictor, write_predictions
from registry.search.molvis_search import SearchRequest, filter_counts, search
from tests.builders import unit, write
from tests.conftest import count, ingest, molvis, snapshot
from tests.registry.conftest import names

XANTHINES = 180.06406  # theobromine, theophylline, paraxanthine: one formula


def predict(
    engine,
    values: dict[str, float],
    tolerance: float = 2.0,
    name: str = "p",
    active: bool = True,
    uncertainty: dict[str, float] | None = None,
) -> None:
    with session_scope(engine) as session:
        info = register_predictor(session, name, "v1", "/nowhere.pt", {}, {}, tolerance, active)
        ids = dict(session.execute(text("SELECT names[1], id FROM compound")).all())
        write_predictions(
            session,
            info.id,
            [ids[n] for n in values],
            ["[M+H]+"] * len(values),
            list(values.values()),
            [(uncertainty or {}).get(n) for n in values],
        )


def ccs_search(engine, **extra):
    """The xanthines' window searched with a CCS (140 A^2 of [M+H]+ within 3 %, unless
    `extra` says otherwise): the names found and the filter counts."""
    query = {"ccs": 140.0, "ccs_adduct": "[M+H]+", "ccs_tolerance_pct": 3} | extra
    request = SearchRequest({"ccs": unit([0, 1, 0])}, neutral_mass=XANTHINES, **query)
    with session_scope(engine) as session:
        return names(search(session, request)), filter_counts(session, request)


def test_predicted_ccs_narrows_candidates_never_measured(library):
    # measured: theobromine 200 (out), theophylline 139 (in); paraxanthine never measured
    assert ccs_search(library)[0] == ["paraxanthine", "theophylline"]
    predict(library, {"paraxanthine": 160.0, "theobromine": 141.0, "theophylline": 300.0})
    found, counts = ccs_search(library)
    # paraxanthine's predicted 160 is outside 140 +- 3 %: gone; measured values beat
    # predicted ones: theobromine (measured 200) stays out, theophylline (139) stays in
    assert found == ["theophylline"]
    assert counts == {"mass_window": 3, "formula": 3, "sources": 3, "ccs": 1}
    # a predicted value is judged within its own tolerance when that is given
    assert ccs_search(library, ccs_predicted_tolerance_pct=15)[0] == [
        "paraxanthine",
        "theophylline",
    ]
    assert ccs_search(library, ccs_predictor="p")[0] == ["theophylline"]
    with pytest.raises(Exception, match="no CCS predictor nope"):
        ccs_search(library, ccs_predictor="nope")


def test_the_search_and_its_counts_follow_the_predictor_asked_for(library):
    predict(library, {"paraxanthine": 160.0})  # the active predictor: paraxanthine out
    predict(library, {"paraxanthine": 140.5}, name="q", active=False)
    assert ccs_search(library) == (
        ["theophylline"],
        {"mass_window": 3, "formula": 3, "sources": 3, "ccs": 1},
    )
    assert ccs_search(library, ccs_predictor="q") == (
        ["paraxanthine", "theophylline"],
        {"mass_window": 3, "formula": 3, "sources": 3, "ccs": 2},
    )


@pytest.mark.parametrize(
    "predicted, tolerance, kept",
    [(146.0, 5.0, True), (146.0, 4.2, False), (143.5, 2.0, True), (144.3, 2.0, False)],
)
def test_the_predictors_own_tolerance_widens_the_window(library, predicted, tolerance, kept):
    """A prediction without its own interval: within the predictor's tolerance, never narrower
    than the query's 3 % (146 is 4.3 % off 140, 143.5 2.5 %, 144.3 3.07 %)."""
    predict(library, {"paraxanthine": predicted}, tolerance=tolerance)
    assert ("paraxanthine" in ccs_search(library)[0]) is kept


@pytest.mark.parametrize(
    "uncertainty, given, kept",
    [(4.2, None, False), (4.3, None, True), (1.0, 5.0, True), (9.0, 4.0, False)],
)
def test_each_prediction_is_judged_within_its_own_interval(library, uncertainty, given, kept):
    """Paraxanthine predicted at 146, 6 A^2 (4.29 % of the query's 140) off: its own 95 %
    interval decides where no tolerance is given; a tolerance given overrides it; the
    predictor's own (20 %) is not used; the filter counts agree with the search."""
    spread = {"paraxanthine": uncertainty}
    predict(library, {"paraxanthine": 146.0}, tolerance=20.0, uncertainty=spread)
    extra = {} if given is None else {"ccs_predicted_tolerance_pct": given}
    found, counts = ccs_search(library, **extra)
    assert ("paraxanthine" in found) is kept
    assert counts["ccs"] == len(found)


def test_a_new_version_under_a_known_name_clears_its_predictions(library):
    """Retraining under the same name (or a newer shipped file) leaves no predictions of the
    old model behind; re-registering the same version keeps them."""
    predict(library, {"paraxanthine": 146.0, "theobromine": 150.0})
    with session_scope(library) as session:
        register_predictor(session, "p", "v1", "/nowhere.pt", {}, {}, 2.0, True)
    assert count(library, "ccs_prediction") == 2
    with session_scope(library) as session:
        register_predictor(session, "other", "v2", "/other.pt", {}, {}, 2.0, False)
    assert count(library, "ccs_prediction") == 2  # another name's version is another matter
    with session_scope(library) as session:
        register_predictor(session, "p", "v2", "/nowhere.pt", {}, {}, 2.0, True)
    assert count(library, "ccs_prediction") == 0


@pytest.mark.skipif(not any(PRETRAINED.glob("*.pt")), reason="no shipped CCS predictor")
def test_a_changed_shipped_predictor_is_registered_again_and_refilled(library):
    from models.ccs import load_predictor
    from molvis.workflows.ccs_prediction import ensure_shipped_predictor
    from molvis.workflows.model_loading import stored_path
    from registry.learned.ccs_predictions import get_predictor, list_predictors

    shipped = PRETRAINED / "molvis-ccs.pt"
    with session_scope(library) as session:
        register_predictor(session, "mine", "m1", "/mine.pt", {}, {}, 2.0, True)
        old = register_predictor(
            session, "molvis-ccs", "older", stored_path(shipped), {}, {}, 6.4, False
        )
        cid = session.execute(text("SELECT min(id) FROM compound")).scalar_one()
        write_predictions(session, old.id, [cid], ["[M+H]+"], [150.0])
    with session_scope(library) as session:
        ensure_shipped_predictor(session)
    with session_scope(library) as session:
        info = get_predictor(session, "molvis-ccs")
        assert info.version == load_predictor(shipped)[1]["version"] and not info.is_active
        assert get_predictor(session).name == "mine"  # the active one stays active
        assert list_predictors(session) == ["mine", "molvis-ccs"]
    assert count(library, "ccs_prediction") == 0  # the older file's values are gone
    before = snapshot(library)
    with session_scope(library) as session:
        ensure_shipped_predictor(session)  # the same file again: nothing changes
    assert snapshot(library) == before


@pytest.mark.skipif(not any(PRETRAINED.glob("*.pt")), reason="no shipped CCS predictor")
def test_backfill_predicts_every_compound_once_and_a_rerun_changes_nothing(library):
    from models.ccs import load_predictor
    from models.ccs_inputs import predictable

    report = backfill(library, batch_size=2)
    compounds = count(library, "compound")
    assert report["compounds"] == compounds and report["predictions"] == compounds * len(ADDUCTS)
    before = snapshot(library)
    assert backfill(library)["compounds"] == 0 and snapshot(library) == before
    # every adduct the predictor knows: the rest are added, the common ones kept as they were
    model, _ = load_predictor(PRETRAINED / "molvis-ccs.pt")
    with library.connect() as conn:
        masses = conn.execute(text("SELECT monoisotopic_mass FROM compound")).scalars().all()
        common = conn.execute(text("SELECT * FROM ccs_prediction ORDER BY 2, 3")).all()
    assert len(model.config.adducts) > len(ADDUCTS)
    ions = sum(predictable(m, a) for m in masses for a in model.config.adducts)
    everything = backfill(library, all_adducts=True)
    assert everything["compounds"] == compounds and everything["predictions"] == ions - len(common)
    assert backfill(library, all_adducts=True)["compounds"] == 0
    assert backfill(library)["compounds"] == 0  # the common set is done too
    with library.connect() as conn:
        kept = conn.execute(
            text("SELECT * FROM ccs_prediction WHERE adduct = ANY (:a) ORDER BY 2, 3"),
            {"a": list(ADDUCTS)},
        ).all()
        rows = conn.execute(
            text("SELECT ccs, uncertainty_pct FROM ccs_prediction WHERE adduct = '[M+H]+'")
        ).all()
    assert kept == common
    assert all(100 < v < 200 for v, _ in rows)  # small molecules: 110-160 A^2
    assert all(0.5 < u < 20 for _, u in rows)  # each with its own 95 % interval


def test_a_featurisation_process_imports_no_torch():
    """What a backfill's worker unpickles (its featurising function's module) leaves torch
    out, so the worker starts in well under the two seconds torch's import takes."""
    import subprocess
    import sys

    probe = "import sys, molvis.workflows.ccs_backfill; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_every_core_featurises_a_ccs_backfill_by_default():
    """The predictor and the writes are light: no core is kept back from the workers."""
    import os

    from molvis.workflows.ccs_backfill import default_workers

    assert default_workers() == (os.cpu_count() or 1)


@pytest.mark.skipif(not any(PRETRAINED.glob("*.pt")), reason="no shipped CCS predictor")
def test_a_featurisation_process_stores_what_the_inline_backfill_stores(library, monkeypatch):
    """A backlog of WORKER_MIN_COMPOUNDS or more is featurised in the worker processes asked
    for, a smaller one inline; either way the same predictions are stored."""
    import multiprocessing

    import models.prefetch
    from molvis.workflows import ccs_backfill

    pools: list[int] = []  # worker processes seen while each backfill ran
    original = models.prefetch.featurised_ahead

    def watched(*args, **kwargs):
        seen = [0]
        for item in original(*args, **kwargs):
            seen.append(len(multiprocessing.active_children()))
            yield item
        pools.append(max(seen))

    def stored():
        with library.connect() as conn:
            return conn.execute(
                text(
                    "SELECT compound_id, adduct, ccs, uncertainty_pct FROM ccs_prediction ORDER BY 1, 2"
                )
            ).all()

    monkeypatch.setattr(models.prefetch, "featurised_ahead", watched)
    compounds = count(library, "compound")
    monkeypatch.setattr(ccs_backfill, "WORKER_MIN_COMPOUNDS", compounds)
    ahead = backfill(library, batch_size=2, workers=1)
    values = stored()
    assert ahead["compounds"] == compounds and len(values) == ahead["predictions"]
    with library.begin() as conn:
        conn.execute(text("DELETE FROM ccs_prediction"))
    monkeypatch.setattr(ccs_backfill, "WORKER_MIN_COMPOUNDS", compounds + 3)
    assert backfill(library, batch_size=3, workers=1)["predictions"] == len(values)
    assert pools == [1, 0]  # one worker for the backlog that reached the threshold, none below
    inline = stored()
    assert [r[:2] for r in inline] == [r[:2] for r in values]
    # the same ions and values (batches of other sizes round the last float digits otherwise)
    assert [r[2:] for r in inline] == [pytest.approx(r[2:], rel=1e-4) for r in values]


@pytest.mark.skipif(not any(PRETRAINED.glob("*.pt")), reason="no shipped CCS predictor")
def test_ccs_predict_answers_every_row_in_order(library, tmp_path):
    table = write(
        tmp_path,
        "ions.csv",
        "name,smiles,adduct\n"
        "caffeine,Cn1cnc2c1c(=O)n(C)c(=O)n2C,[M+H]+\n"
        "caffeine,Cn1cnc2c1c(=O)n(C)c(=O)n2C,[M+Na]+\n"
        "broken,C1CC(,[M+H]+\n"
        "lithium,Cn1cnc2c1c(=O)n(C)c(=O)n2C,[M+Li]+\n"
        "formate,CC(=O)O,[M+HCOO]-\n"
        "methane,C,[M+H]+\n"
        "nothing,,[M+H]+\n",
    )
    done = molvis("ccs", "predict", str(table), "--json")
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)
    adducts = ["[M+H]+", "[M+Na]+", "[M+H]+", "[M+Li]+", "[M+HCOO]-", "[M+H]+", "[M+H]+"]
    assert [r["adduct"] for r in rows] == adducts
    assert all(set(r) >= {"smiles", "adduct", "ccs", "uncertainty_pct"} for r in rows)
    assert 0.5 < rows[0]["uncertainty_pct"] < 20 and rows[2]["uncertainty_pct"] is None
    assert 130 < rows[0]["ccs"] < 155 and rows[1]["ccs"] > rows[0]["ccs"]  # Na+ ions are larger
    assert rows[2]["ccs"] is None and "ions.csv line 4" in rows[2]["reason"]
    assert rows[3]["ccs"] is None and "[M+Li]+" in rows[3]["reason"]
    assert rows[4]["ccs"] is not None
    assert rows[5]["ccs"] is None and "below the predictor's range" in rows[5]["reason"]
    assert rows[6]["ccs"] is None and rows[6]["reason"].endswith(
        "line 8: no structure (no SMILES, InChI or InChIKey)"
    )
    keyed = write(tmp_path, "keys.tsv", "inchikey\tadduct\nRYYVLZVUVIJVGH-UHFFFAOYSA-N\t[M+H]+\n")
    (by_key,) = json.loads(molvis("ccs", "predict", str(keyed), "--json").stdout)
    assert by_key["ccs"] == rows[0]["ccs"] and by_key["smiles"]
    missing = write(tmp_path, "none.csv", "name,adduct\nx,[M+H]+\n")
    failed = molvis("ccs", "predict", str(missing), "--json")
    assert failed.returncode == 2 and "no structure column" in json.loads(failed.stdout)["error"]


def test_each_adduct_has_its_own_prediction(library):
    """Three ions of one compound predicted apart: the search and the evidence read the
    query's ion only."""
    from registry.learned.ccs_predictions import predicted_by_skeleton

    with session_scope(library) as session:
        info = register_predictor(session, "p", "v1", "/nowhere.pt", {}, {}, 2.0, True)
        (pid,) = session.execute(
            text("SELECT id FROM compound WHERE names[1] = 'paraxanthine'")
        ).one()
        key = session.execute(text("SELECT inchikey FROM compound WHERE id = :i"), {"i": pid})
        key = key.scalar_one()
        write_predictions(
            session, info.id, [pid] * 3, ["[M+H]+", "[M+Na]+", "[M-H]-"], [140.0, 200.0, 170.0]
        )
    with session_scope(library) as session:
        for adduct, value in (("[M+H]+", 140.0), ("[M+Na]+", 200.0), ("[M-H]-", 170.0)):
            found = predicted_by_skeleton(session, [key], adduct)
            assert found == ("p", {key[:14]: (value, None)})
        assert predicted_by_skeleton(session, [key], "[M+K]+") == ("p", {})
    # paraxanthine has no measured CCS: its [M+H]+ prediction fits 140, its [M+Na]+ does not
    assert "paraxanthine" in ccs_search(library)[0]
    assert "paraxanthine" not in ccs_search(library, ccs_adduct="[M+Na]+")[0]


@pytest.mark.parametrize("tolerance, kept", [(39.0, True), (38.9, False)])
def test_a_measured_ccs_exactly_at_the_tolerance_fits(library, tolerance, kept):
    """Theophylline's measured [M+H]+ CCS is 139.0: a query of 100.0 is 39 % away, exactly at
    a 39 % window (the edge counts as inside)."""
    found = ccs_search(library, ccs=100.0, ccs_tolerance_pct=tolerance)[0]
    assert ("theophylline" in found) is kept


def test_training_rows_are_medians_per_compound_adduct_and_method(engine, tmp_path):
    """Repeats of one (compound, adduct, method) count once, as their median, with every
    source named; a method other than DT, TW and TIMS is 'unknown'; other adducts, compounds
    without a fingerprint and superseded values stay out."""
    from registry.learned.ccs_predictions import measured_for_training

    caffeine = "Cn1cnc2c1c(=O)n(C)c(=O)n2C"
    rows = [
        (caffeine, "[M+H]+", 140.0, "DT"),
        (caffeine, "[M+H]+", 150.0, "DT"),
        (caffeine, "[M+H]+", 100.0, "TW"),
        (caffeine, "[M+Na]+", 155.0, "drift tube?"),
        (caffeine, "[M+K]+", 160.0, "DT"),
    ]
    table = "smiles,adduct,ccs,method\n" + "".join(f"{s},{a},{c},{m}\n" for s, a, c, m in rows)
    ingest(engine, "ccs", write(tmp_path, "a.csv", table), "lab-a")
    other = f"smiles,adduct,ccs,method\n{caffeine},[M+H]+,148.0,DT\n"
    ingest(engine, "ccs", write(tmp_path, "b.csv", other), "lab-b")
    with session_scope(engine) as session:
        found = measured_for_training(session, ("[M+H]+", "[M+Na]+"))
    got = {(m.adduct, m.method): (m.ccs, sorted(m.sources)) for m in found}
    assert got == {
        ("[M+H]+", "DT"): (148.0, ["lab-a", "lab-b"]),
        ("[M+H]+", "TW"): (100.0, ["lab-a"]),
        ("[M+Na]+", "unknown"): (155.0, ["lab-a"]),
    }
    structure = found[0].structure
    assert (
        structure.inchikey == "RYYVLZVUVIJVGH-UHFFFAOYSA-N" and len(structure.fingerprint) == 2048
    )
    assert structure.formula == "C8H10N4O2" and structure.mass == pytest.approx(194.0804, abs=1e-4)
    # ordered by compound, adduct, method
    assert [(m.adduct, m.method) for m in found] == sorted(got)
    with engine.begin() as conn:
        conn.execute(text("UPDATE ccs_value SET superseded_by = id WHERE method = 'TW'"))
    with session_scope(engine) as session:
        kept = measured_for_training(session, ("[M+H]+", "[M+Na]+"))
    assert {(m.adduct, m.method) for m in kept} == {("[M+H]+", "DT"), ("[M+Na]+", "unknown")}
    with engine.begin() as conn:  # the predictor reads the fingerprint
        conn.execute(text("UPDATE compound SET fingerprint = NULL"))
        assert measured_for_training(Session(bind=conn), ("[M+H]+",)) == []
        conn.rollback()


def test_predictors_are_listed_in_registration_order_and_read_by_name(library):
    """A named predictor's predictions are read even when another one is active; predictors
    list in the order they were first registered, whatever was re-registered since."""
    from registry.learned.ccs_predictions import list_predictors, predicted_by_skeleton

    with session_scope(library) as session:
        old = register_predictor(session, "old", "v1", "/old.pt", {}, {}, 2.0, True)
        register_predictor(session, "new", "v1", "/new.pt", {}, {}, 2.0, True)
        register_predictor(session, "old", "v2", "/old.pt", {}, {}, 2.0, False)
        cid, key = session.execute(
            text("SELECT id, inchikey FROM compound WHERE names[1] = 'paraxanthine'")
        ).one()
        write_predictions(session, old.id, [cid], ["[M+H]+"], [141.0])
    with session_scope(library) as session:
        assert list_predictors(session) == ["old", "new"]
        found = predicted_by_skeleton(session, [key], "[M+H]+", "old")
        assert found == ("old", {key[:14]: (141.0, None)})
        assert predicted_by_skeleton(session, [key], "[M+H]+") == ("new", {})


def test_structures_without_predictions_come_in_disjoint_shards(library):
    from registry.learned.ccs_predictions import structures_without_predictions

    with session_scope(library) as session:
        info = register_predictor(session, "p", "v1", "/p.pt", {}, {}, 2.0, True)
        ids = lambda **shard: [  # noqa: E731
            row.compound_id
            for batch in structures_without_predictions(session, info.id, 2, **shard)
            for row in batch
        ]
        everything = ids()
        even, odd = ids(shards=2), ids(shards=2, shard=1)
    assert len(everything) == 5 and everything == sorted(everything)
    assert even == [i for i in everything if i % 2 == 0]
    assert odd == [i for i in everything if i % 2 == 1]


def test_measured_ccs_of_one_ion_per_skeleton(library):
    """The evidence's measured values: the query's ion only, current rows only, by skeleton
    (a stereo variant's key finds them too)."""
    from registry.search.molvis_search import measured_ccs

    with session_scope(library) as session:
        keys = dict(session.execute(text("SELECT names[1], inchikey FROM compound")).all())
    theobromine, theophylline = keys["theobromine"], keys["theophylline"]
    variant = theobromine[:14] + "-XXXXXXXXXX-N"  # another stereo layer of the same skeleton
    with session_scope(library) as session:
        found = measured_ccs(session, [variant, theophylline, keys["benzene"]], "[M+H]+")
        assert found == {theobromine[:14]: [200.0], theophylline[:14]: [139.0]}
        assert measured_ccs(session, [theobromine], "[M+Na]+") == {}
        session.execute(text("UPDATE ccs_value SET superseded_by = id WHERE ccs = 200"))
        assert measured_ccs(session, [theobromine], "[M+H]+") == {}
