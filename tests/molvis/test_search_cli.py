"""The whole path with the shipped model on a seeded real database: ingest, embed, search."""

import json

import numpy as np
import pytest

from registry.db.connection import session_scope
from registry.library.classical import ir_library_search, msms_library_search
from registry.read.training_data import load_training_set
from registry.search.molvis_search import library_search, similar_structures
from tests.builders import write
from tests.conftest import REPO, molvis, shared

HIT_KEYS = {"rank", "inchikey", "smiles", "name", "score", "scores"}


@pytest.fixture
def shipped_model_mgf(seed_registry):
    """150 MassBank spectra, three IR files and the shipped model, embedded: the MGF text."""
    if not (REPO / "models" / "pretrained" / "molvis-base.pt").exists():
        pytest.skip("no shipped model")
    ir = ("toluene.jdx", "benzene.jdx", "ethyl_benzene.jdx")
    return seed_registry(massbank=150, ir=ir, model="shipped").mgf


def unknowns(mgf: str, n: int) -> str:
    """The first n spectra with every structure line removed (they are the unknowns)."""
    blocks = mgf.split("END IONS")[:n]
    kept = []
    for block in blocks:
        lines = [
            ln
            for ln in block.splitlines()
            if not ln.startswith(("SMILES=", "INCHI=", "INCHIKEY=", "NAME="))
        ]
        kept.append("\n".join(lines) + "\nEND IONS\n")
    return "".join(kept)


def test_batch_search_json_with_the_shipped_model(shipped_model_mgf, tmp_path):
    path = write(tmp_path, "unknowns.mgf", unknowns(shipped_model_mgf, 3))
    result = molvis("search", "--msms", str(path), "--top", "5", "--json")
    assert result.returncode == 0, result.stderr
    blocks = json.loads(result.stdout)
    assert [b["query"] for b in blocks] == [
        "MSBNK-AAFC-AC000001",
        "MSBNK-AAFC-AC000002",
        "MSBNK-AAFC-AC000003",
    ]
    for block in blocks:
        assert isinstance(block["candidates"], int) and block["candidates"] >= len(block["hits"])
        assert [h["rank"] for h in block["hits"]] == list(range(1, len(block["hits"]) + 1))
        for hit in block["hits"]:
            assert HIT_KEYS <= set(hit) and set(hit["scores"]) == {"msms"}
        scores = [h["score"] for h in block["hits"]]
        assert scores == sorted(scores, reverse=True)
    # the shipped model comes with its calibration: every hit has a probability
    assert all(0 < h["probability"] < 1 for b in blocks for h in b["hits"])
    # mellein's spectra: the true structure is among the mass-window candidates
    assert "KWILGNNWGSNMPA-UHFFFAOYSA-N" in {h["inchikey"] for h in blocks[0]["hits"]}


def test_search_with_ccs_and_formula(shipped_model_mgf, tmp_path):
    path = write(tmp_path, "one.mgf", unknowns(shipped_model_mgf, 1))
    result = molvis(
        "search",
        "--msms",
        str(path),
        "--ccs",
        "140",
        "--ccs-adduct",
        "[M+H]+",
        "--formula",
        "C10H10O3",
        "--json",
    )
    assert result.returncode == 0, result.stderr
    (block,) = json.loads(result.stdout)
    assert block["hits"] and all(set(h["scores"]) == {"msms", "ccs"} for h in block["hits"])
    assert block["hits"][0]["inchikey"] == "KWILGNNWGSNMPA-UHFFFAOYSA-N"


def test_stored_ir_spectrum_identifies_its_compound(shipped_model_mgf):
    """The IR library: benzene's stored spectrum as the query finds benzene first, level 2a,
    with the IR match as its evidence (the model alone did not bring it into the top 20)."""
    result = molvis("search", "--ir", str(shared("ir", "jcamp", "benzene.jdx")), "--json")
    assert result.returncode == 0, result.stderr
    (block,) = json.loads(result.stdout)
    (top, *rest) = block["hits"]
    assert top["inchikey"] == "UHOVQNZJYSORNB-UHFFFAOYSA-N" and top["level"] == "2a"
    library = top["evidence"]["library"]
    assert library["search"] == "ir" and library["score"] == pytest.approx(1.0, abs=1e-5)
    assert library["matched_peaks"] is None and library["confident"] is True
    # toluene's and ethylbenzene's spectra are similar, not the same: below 0.9, not 2a
    assert all(h["level"] != "2a" for h in rest)


@pytest.mark.slow
def test_predicted_ccs_window_and_its_tolerance_flag(shipped_model_mgf, tmp_path):
    assert molvis("ccs", "backfill", "--json").returncode == 0
    path = write(tmp_path, "one.mgf", unknowns(shipped_model_mgf, 1))
    args = ["search", "--msms", str(path), "--ccs", "200", "--ccs-adduct", "[M+H]+", "--json"]
    mellein = "KWILGNNWGSNMPA-UHFFFAOYSA-N"  # never measured here; predicted ~130-140 A^2
    (narrow,) = json.loads(molvis(*args).stdout)
    assert mellein not in {h["inchikey"] for h in narrow["hits"]}
    assert narrow["filters"]["ccs"] < narrow["filters"]["mass_window"]
    (wide,) = json.loads(molvis(*args, "--ccs-predicted-tol", "60").stdout)
    (hit,) = [h for h in wide["hits"] if h["inchikey"] == mellein]
    ccs = hit["evidence"]["ccs"]
    assert ccs["basis"] == "predicted" and ccs["predictor"] == "molvis-ccs"
    assert 0.5 < ccs["uncertainty_pct"] < 20
    assert not any("no predicted CCS" in n for n in wide["notes"])
    # an adduct the backfill did not store: the filter keeps the unmeasured, and says so
    chloride = [*args[:6], "[M+Cl]-", "--json"]
    (rare,) = json.loads(molvis(*chloride).stdout)
    assert mellein in {h["inchikey"] for h in rare["hits"]}
    assert any(n.startswith("no predicted CCS of [M+Cl]- is stored") for n in rare["notes"])
    assert ccs["deviation_pct"] == pytest.approx(
        (200 - ccs["predicted"]) / ccs["predicted"] * 100, abs=0.01
    )


@pytest.mark.parametrize(
    "args, message",
    [
        ([], "give a measurement"),
        (["--ccs", "150", "--ccs-adduct", "[M+H]+", "--ccs-tol", "0"], "give a positive number"),
        (["--ccs", "150"], "--ccs needs --ccs-adduct"),
        (["--msms", "MISSING"], "no such file"),
        (["--adduct", "[M+Xx]+", "--ccs", "150", "--ccs-adduct", "[M+H]+"], "unknown adduct"),
    ],
)
def test_bad_search_input_is_one_line(engine, args, message):
    result = molvis("search", *args)
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert message in result.stderr


def test_spectral_library_and_structure_similarity(shipped_model_mgf, engine):
    with session_scope(engine) as session:
        data = load_training_set(session)
        spectrum = data.msms[0]
        matches = msms_library_search(
            session, spectrum.mz, spectrum.intensity, spectrum.precursor_mz
        )
        assert matches[0].score == pytest.approx(1.0, abs=1e-6)
        modified = msms_library_search(
            session, spectrum.mz, spectrum.intensity, spectrum.precursor_mz, modified=True
        )
        assert modified[0].score == pytest.approx(1.0, abs=1e-6)
        toluene = next(r for r in data.ir)
        (best, *_) = ir_library_search(session, toluene.vector)
        assert best.score == pytest.approx(1.0, abs=1e-5)
        key = data.compounds[spectrum.compound].inchikey
        neighbours = similar_structures(session, key, 3)
        assert len(neighbours) == 3 and all(0 <= n.tanimoto <= 1 for n in neighbours)
        assert neighbours[0].tanimoto >= neighbours[-1].tanimoto
        by_embedding = library_search(session, "ir", np.ones(256) / 16.0, k=2)
        assert len(by_embedding) == 2


def test_json_stays_json_when_the_command_fails(engine):
    result = molvis("search", "--msms", "MISSING.mgf", "--json")
    assert result.returncode == 2 and "no such file" in result.stderr
    assert json.loads(result.stdout) == {"error": "MISSING.mgf: no such file"}


@pytest.mark.slow
def test_library_evaluation_and_calibration(seed_registry, engine, tmp_path):
    """`molvis evaluate --library` on a small registry: every indexed held-out spectrum finds
    itself first, the report has its four sets, and the open-world calibration is stored and
    plotted. Held-out queries whose compound is absent get a lower top-hit probability than
    those whose compound is present, and lower than a closed-world fit (coverage 1: the truth
    always a candidate, as the calibration before it assumed) gives them; over the mix the mean
    top-hit probability meets the top-hit rate (within 0.1 on this small registry; the demo
    registry's figures are in BENCHMARKS.md)."""
    from molvis.workflows.library_evaluation import evaluate_library
    from registry.learned.versions import get_model

    if not (REPO / "models" / "pretrained" / "molvis-base.pt").exists():
        pytest.skip("no shipped model")
    seed_registry(massbank=3000, model="shipped")
    closed = evaluate_library(engine, "molvis-base", 10.0, None, coverage=1.0)["calibration"]
    plot = tmp_path / "reliability.png"
    report = evaluate_library(engine, "molvis-base", 10.0, None, plot)
    assert report["queries"] > 5
    assert report["self_spectrum_rank1_indexed"] == 1.0
    rows = {r["set"]: r for r in report["rows"]}
    assert set(rows) == {"self", "others", "none", "model"}
    assert rows["self"]["top1"] >= rows["model"]["top1"]
    assert rows["self"]["n"] == rows["none"]["n"] == rows["model"]["n"] == report["queries"]
    calibration = report["calibration"]
    assert 0 <= calibration["ece_all_hits"] <= 1 and calibration["coverage"] == 0.5
    absent, present = calibration["worlds"]["absent"], calibration["worlds"]["present"]
    assert absent["queries"] > 20 and absent["top_hit_rate"] == 0.0
    assert absent["mean_top_probability"] < present["mean_top_probability"]
    assert absent["mean_top_probability"] < closed["worlds"]["absent"]["mean_top_probability"]
    mix = calibration["mix"]
    assert abs(mix["mean_top_probability"] - mix["top_hit_rate"]) < 0.1
    assert [r["threshold"] for r in calibration["fdr"]] == [0.5, 0.8, 0.9, 0.95]
    assert plot.read_bytes()[:4] == b"\x89PNG"
    with session_scope(engine) as session:
        stored = get_model(session, "molvis-base").calibration
    shipped = json.loads((REPO / "models/pretrained/molvis-base.calibration.json").read_text())
    assert stored["learned"] == shipped["learned"]  # the other order's fit is kept
    stored = stored["hand"]
    assert stored["fitted_on"]["split"] == "val" and stored["version"] == 2
    assert stored["coverage"] == 0.5
    assert stored["ece"] == pytest.approx(calibration["ece_all_hits"])


def test_the_calibration_never_sees_what_it_is_judged_on(seed_registry, engine, monkeypatch):
    """The fit reads validation spectra only, each searched without itself (compound present)
    and without every spectrum of its skeleton (compound absent); the test split's spectra
    come after the fit, and no skeleton is in both splits. A planted leak (a query searched
    with its own spectrum in the library during the fit) fails here."""
    from molvis.workflows import library_evaluation as le
    from molvis.workflows.model_loading import load_model

    if not (REPO / "models" / "pretrained" / "molvis-base.pt").exists():
        pytest.skip("no shipped model")
    seed_registry(massbank=1000, model="shipped")
    calls, fitted = [], []
    real_run, real_fit = le.run_query, le.fit

    def spy_run(session, loaded, query, options, library=None, exclude=frozenset(), vectors=None):
        calls.append((bool(fitted), query.msms.measurement_id, exclude, library is not None))
        return real_run(session, loaded, query, options, library, exclude, vectors)

    def spy_fit(*args, **kwargs):
        fitted.append(True)
        return real_fit(*args, **kwargs)

    monkeypatch.setattr(le, "run_query", spy_run)
    monkeypatch.setattr(le, "fit", spy_fit)
    le.evaluate_library(engine, "molvis-base", 10.0, 40)
    split = load_model(engine, "molvis-base").checkpoint["split"]
    with session_scope(engine) as session:
        skeleton = {
            r.measurement_id: key[:14]
            for part in ("val", "test")
            for key, r in le.split_spectra(session, list(split[part]))
        }
        per_skeleton: dict[str, set[int]] = {}
        for spectrum, key in skeleton.items():
            per_skeleton.setdefault(key, set()).add(spectrum)
        val = {r.measurement_id for _, r in le.split_spectra(session, list(split["val"]))}
    assert not {k[:14] for k in split["val"]} & {k[:14] for k in split["test"]}
    fit_calls = [c for c in calls if not c[0]]
    assert fit_calls and {c[1] for c in fit_calls} <= val
    for _, own, exclude, with_library in fit_calls:
        assert with_library and own in exclude
    # each fitted query was also searched with its whole skeleton left out
    for own in {c[1] for c in fit_calls}:
        assert any(c[2] >= per_skeleton[skeleton[own]] for c in fit_calls if c[1] == own)
    assert all(c[1] not in val for c in calls if c[0])  # the judged queries: test split only


def test_the_library_rates_can_be_measured_in_the_learned_order(seed_registry, engine, monkeypatch):
    """`molvis evaluate --library --ranker learned` searches every query as `molvis search`
    does by default (the learned ranker over fragment evidence), says so in its report and
    stores its calibration as the learned order's, which a later hand-order fit keeps."""
    from molvis.workflows import library_evaluation as le
    from registry.learned.versions import get_model

    if not (REPO / "models" / "pretrained" / "molvis-base.pt").exists():
        pytest.skip("no shipped model")
    seed_registry(massbank=1000, model="shipped")
    orders = set()
    real_run = le.run_query

    def spy_run(session, loaded, query, options, library=None, exclude=frozenset(), vectors=None):
        orders.add((options.ranker, options.fragments))
        return real_run(session, loaded, query, options, library, exclude, vectors)

    monkeypatch.setattr(le, "run_query", spy_run)
    report = le.evaluate_library(engine, "molvis-base", 10.0, 30, ranker="learned")
    assert report["ranker"] == "learned" and orders == {("learned", True)}
    with session_scope(engine) as session:
        learned = get_model(session, "molvis-base").calibration["learned"]
    assert learned["ece_top1"] == pytest.approx(report["calibration"]["ece_top1"])
    orders.clear()
    # fewer queries, so that the hand order's fit differs from the learned one's even where
    # the two orders agree on this small registry
    assert le.evaluate_library(engine, "molvis-base", 10.0, 20)["ranker"] == "hand"
    assert orders == {("hand", False)}
    with session_scope(engine) as session:
        stored = get_model(session, "molvis-base").calibration
    assert stored["learned"] == learned  # each order its own
    assert stored["hand"]["fitted_on"]["queries"] == 20 and learned["fitted_on"]["queries"] == 30
