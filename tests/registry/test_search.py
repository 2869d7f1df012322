import numpy as np
import pytest
from sqlalchemy import text
from sqlalchemy.exc import ProgrammingError
from sqlalchemy.orm import Session

from registry.db.connection import get_reader_engine, session_scope
from registry.learned.embeddings import (
    write_measurement_embeddings,
    write_structure_embeddings,
)
from registry.learned.versions import register_model
from registry.search.molvis_search import (
    SearchRequest,
    filter_counts,
    library_search,
    search,
    similar_structures,
)
from tests.builders import unit, write
from tests.conftest import count, ingest
from tests.registry.conftest import LIBRARY, names


def test_rank_one_is_the_nearest(library):
    with session_scope(library) as session:
        open_search = search(session, SearchRequest({"msms": unit([1, 0.1, 0.05])}, k=5))
        assert names(open_search) == [
            "caffeine",
            "theobromine",
            "theophylline",
            "paraxanthine",
            "benzene",
        ]
        assert [h.rank for h in open_search.hits] == [1, 2, 3, 4, 5]
        assert open_search.hits[0].score == pytest.approx(float(unit([1, 0.1, 0.05])[0]), abs=1e-5)
        assert open_search.candidates == 5
        toward_b = search(session, SearchRequest({"msms": unit([0, 1, 0])}, k=2))
        assert names(toward_b) == ["paraxanthine", "theophylline"]


def test_mass_window_keeps_only_the_isomers(library):
    with session_scope(library) as session:
        result = search(
            session, SearchRequest({"msms": unit([0, 1, 0])}, neutral_mass=180.06406, ppm=10)
        )
    assert names(result) == ["paraxanthine", "theophylline", "theobromine"]
    assert result.candidates == 3


def test_fusion_weights_and_per_modality_scores(library):
    q_msms, q_ccs = unit([1, 0, 0]), unit([0, 1, 0])
    with session_scope(library) as session:
        result = search(
            session,
            SearchRequest({"msms": q_msms, "ccs": q_ccs}, weights={"msms": 1.0, "ccs": 3.0}, k=5),
        )
    for hit in result.hits:
        v = unit(next(v for n, _, v in LIBRARY if n == hit.name))
        expected = {"msms": float(v @ q_msms), "ccs": float(v @ q_ccs)}
        assert hit.scores == pytest.approx(expected, abs=1e-5)
        assert hit.score == pytest.approx((expected["msms"] + 3 * expected["ccs"]) / 4, abs=1e-5)
    # theophylline (0.6 + 3 x 0.8) / 4 and paraxanthine (0 + 3 x 1) / 4 tie at 0.75: equal
    # scores rank by InChIKey (QUNW... before ZFXY...), not by the last float digit
    assert names(result)[:2] == ["paraxanthine", "theophylline"]
    assert result.hits[0].score == pytest.approx(0.75, abs=1e-6)
    assert result.weights == {"ccs": 3.0, "msms": 1.0}


def test_sql_function_equals_an_exact_numpy_ranking(library):
    rng = np.random.default_rng(3)
    query = unit(rng.normal(size=3))
    with session_scope(library) as session:
        result = search(session, SearchRequest({"ir": query}, neutral_mass=180.06406, ppm=50))
    window = [(n, unit(v)) for n, _, v in LIBRARY if n not in ("caffeine", "benzene")]
    expected = sorted(window, key=lambda nv: -float(nv[1] @ query))
    assert names(result) == [n for n, _ in expected]
    assert [h.score for h in result.hits] == pytest.approx(
        [float(v @ query) for _, v in expected], abs=1e-5
    )


def test_ccs_formula_and_source_filters(library):
    q = unit([0, 1, 0])
    with session_scope(library) as session:
        ccs = search(
            session,
            SearchRequest(
                {"ccs": q},
                neutral_mass=180.06406,
                ccs=140.0,
                ccs_adduct="[M+H]+",
                ccs_tolerance_pct=3,
            ),
        )
        formula = search(session, SearchRequest({"msms": q}, formula="C6H6"))
        # a window wide enough for caffeine (194.08) and the dimethylxanthines (180.06)
        wide = {"neutral_mass": 187.0, "ppm": 50_000}
        window_formula = search(session, SearchRequest({"msms": q}, **wide, formula="C7H8N4O2"))
        window_sources = search(session, SearchRequest({"msms": q}, **wide, sources=["ccs-lab"]))
        sourced = search(session, SearchRequest({"msms": q}, sources=["ccs-lab"]))
    # theobromine's measured 200 A^2 is outside 140 +- 3 %; paraxanthine has no CCS: kept
    assert names(ccs) == ["paraxanthine", "theophylline"]
    assert names(formula) == ["benzene"]
    assert sorted(names(window_formula)) == ["paraxanthine", "theobromine", "theophylline"]
    assert sorted(names(window_sources)) == ["theobromine", "theophylline"]
    assert sorted(names(sourced)) == ["theobromine", "theophylline"]


def test_search_needs_a_query(library):
    with session_scope(library) as session, pytest.raises(ValueError) as info:
        search(session, SearchRequest({}))
    assert str(info.value) == "a search needs at least one query modality (MS/MS, IR or CCS)"


def test_reader_role_reads_and_searches_but_cannot_write(library):
    reader = get_reader_engine()
    with Session(reader) as session:
        assert names(search(session, SearchRequest({"msms": unit([1, 0, 0])}, k=1))) == ["caffeine"]
        assert filter_counts(session, SearchRequest({}, formula="C8H10N4O2"))["formula"] == 1
    with reader.connect() as conn, pytest.raises(ProgrammingError, match="permission denied"):
        conn.execute(text("INSERT INTO source (name) VALUES ('intruder')"))


def test_searched_count_follows_inserts_upserts_deletes_and_truncates(library):
    def stored(session) -> int:
        return session.execute(
            text("SELECT structure_embeddings FROM model WHERE name = 'handmade'")
        ).scalar_one()

    with session_scope(library) as session:
        assert stored(session) == 5
        model_id, ids = session.execute(
            text("SELECT model_id, array_agg(compound_id) FROM structure_embedding GROUP BY 1")
        ).one()
        write_structure_embeddings(session, model_id, ids[:2], np.stack([unit([1, 1, 1])] * 2))
        assert stored(session) == 5  # replaced, not added
        session.execute(
            text("DELETE FROM structure_embedding WHERE compound_id = ANY(:ids)"), {"ids": ids[:2]}
        )
        assert stored(session) == 3
        assert search(session, SearchRequest({"msms": unit([1, 0, 0])}, k=5)).candidates == 3
        session.execute(text("TRUNCATE structure_embedding"))
        assert stored(session) == 0


def _add_near_mass_decoy(engine, tmp_path) -> None:
    """4'-nitroacetanilide (C8H8N2O3, 180.0535): 62 ppm from the xanthines, pointing where the
    MS/MS query points, so it would rank first if the mass window were too wide."""
    ingest(
        engine,
        "structures",
        write(tmp_path, "decoy.smi", "CC(=O)Nc1ccc(cc1)[N+](=O)[O-] decoy\n"),
        "handmade",
    )
    with session_scope(engine) as session:
        model_id, cid = session.execute(
            text("SELECT m.id, c.id FROM model m, compound c WHERE 'decoy' = ANY(c.names)")
        ).one()
        write_structure_embeddings(session, model_id, [cid], np.stack([unit([0, 1, 0])]))


def test_filtered_ranking_pins_ranks_limit_window_and_weights(library, tmp_path):
    """The filtered path (the one the CLI and UI use): ranks 1..k in score order, k smaller than
    the window, the ppm width exact, and the fused score the weighted mean of the cosines."""
    _add_near_mass_decoy(library, tmp_path)
    q_msms, q_ccs = unit([1, 0, 0]), unit([0, 1, 0])
    weights = {"msms": 1.0, "ccs": 2.0}
    with session_scope(library) as session:
        full = search(
            session,
            SearchRequest({"msms": q_msms, "ccs": q_ccs}, weights, neutral_mass=180.06406, ppm=10),
        )
        top2 = search(
            session,
            SearchRequest(
                {"msms": q_msms, "ccs": q_ccs}, weights, neutral_mass=180.06406, ppm=10, k=2
            ),
        )
        wide = search(session, SearchRequest({"ccs": q_ccs}, neutral_mass=180.06406, ppm=100))
    # theophylline (0.6 + 2 * 0.8) / 3, paraxanthine 2 / 3, theobromine (0.949 + 2 * 0.316) / 3
    assert names(full) == ["theophylline", "paraxanthine", "theobromine"]
    assert [h.rank for h in full.hits] == [1, 2, 3] and full.candidates == 3
    assert [h.score for h in full.hits] == pytest.approx([2.2 / 3, 2 / 3, 1.5811 / 3], abs=1e-4)
    assert names(top2) == ["theophylline", "paraxanthine"] and top2.candidates == 3
    assert wide.candidates == 4 and names(wide)[0] in ("paraxanthine", "decoy")


def test_weights_steer_the_index_scan_of_an_open_search(library):
    """Unfiltered, the fused query vector drives the HNSW scan: with weights 1 : 2 and k = 2 the
    second hit is paraxanthine; an unweighted scan would bring theobromine instead."""
    q_msms, q_ccs = unit([1, 0, 0]), unit([0, 1, 0])
    with session_scope(library) as session:
        weighted = search(
            session,
            SearchRequest({"msms": q_msms, "ccs": q_ccs}, {"msms": 1.0, "ccs": 2.0}, k=2),
        )
        even = search(session, SearchRequest({"msms": q_msms, "ccs": q_ccs}, k=2))
    assert names(weighted) == ["theophylline", "paraxanthine"]
    assert [h.rank for h in weighted.hits] == [1, 2]
    assert names(even) == ["theophylline", "theobromine"]


def test_result_as_json_keeps_every_key_and_value(library):
    with session_scope(library) as session:
        result = search(
            session,
            SearchRequest({"msms": unit([0, 1, 0])}, neutral_mass=180.06406, ppm=10, k=1),
            "unknown-1",
        )
        key = session.execute(
            text("SELECT inchikey FROM compound WHERE 'paraxanthine' = ANY(names)")
        ).scalar_one()
    (hit,) = result.hits
    assert result.as_dict() == {
        "query": "unknown-1",
        "candidates": 3,
        "weights": {"msms": 1.0},
        "hits": [
            {
                "rank": 1,
                "inchikey": key,
                "smiles": "Cn1c(=O)[nH]c2ncn(C)c2c1=O",
                "name": "paraxanthine",
                "score": 1.0,
                "scores": {"msms": 1.0},
                "monoisotopic_mass": pytest.approx(180.064726, abs=1e-5),
                "formula": "C7H8N4O2",
                "variants": [],
            }
        ],
    }
    assert hit.smiles == "Cn1c(=O)[nH]c2ncn(C)c2c1=O"


def test_weights_zero_for_one_modality_but_never_all_or_negative(library):
    q_msms, q_ccs = unit([1, 0, 0]), unit([0, 1, 0])
    with session_scope(library) as session:
        only_ccs = search(
            session, SearchRequest({"msms": q_msms, "ccs": q_ccs}, {"msms": 0.0}, k=1)
        )
        assert names(only_ccs) == ["paraxanthine"] and only_ccs.weights == {"ccs": 1.0, "msms": 0.0}
        for weights in ({"msms": 0.0, "ccs": 0.0}, {"msms": -1.0, "ccs": 2.0}):
            with pytest.raises(ValueError) as info:
                search(session, SearchRequest({"msms": q_msms, "ccs": q_ccs}, weights))
            assert str(info.value) == "modality weights must be non-negative and not all zero"
        empty = search(session, SearchRequest({"msms": q_msms}, formula="C99H99"))
    assert (empty.hits, empty.candidates) == ([], 0)


def test_structure_neighbours_by_tanimoto(library):
    with session_scope(library) as session:
        caffeine = session.execute(
            text("SELECT inchikey FROM compound WHERE 'caffeine' = ANY(names)")
        ).scalar_one()
        neighbours = similar_structures(session, caffeine, 2)
        assert similar_structures(session, "NOTAKEYNOTAKEY-UHFFFAOYSA-N") == []
        everyone = similar_structures(session, caffeine, 600)  # beyond pgvector's ef_search
        assert len(everyone) == count(library, "compound WHERE fingerprint IS NOT NULL") - 1
    # RDKit path fingerprints: theophylline 0.908, theobromine 0.899, paraxanthine 0.850
    assert [n.name for n in neighbours] == ["theophylline", "theobromine"]
    assert [n.tanimoto for n in neighbours] == pytest.approx([0.9078, 0.8986], abs=1e-3)
    assert all(0.5 < n.tanimoto < 1.0 for n in neighbours)
    assert neighbours[0].tanimoto >= neighbours[1].tanimoto
    assert caffeine not in {n.inchikey for n in neighbours}
    assert all(n.smiles and n.inchikey for n in neighbours)


def test_library_search_by_measurement_embedding(library):
    with session_scope(library) as session:
        model_id = session.execute(text("SELECT id FROM model")).scalar_one()
        rows = session.execute(text("SELECT id, compound_id FROM ccs_value ORDER BY id")).all()
        write_measurement_embeddings(
            session,
            model_id,
            "ccs",
            [r.id for r in rows],
            [r.compound_id for r in rows],
            np.stack([unit([1, 0, 0]), unit([0, 1, 0])]),
        )
        matches = library_search(session, "ccs", unit([0.1, 1, 0]), k=5)
        by_name = library_search(session, "ccs", unit([1, 0, 0]), model="handmade", k=1)
        other = library_search(session, "msms", unit([1, 0, 0]))
    assert [m.name for m in matches] == ["theophylline", "theobromine"]
    assert [m.spectrum_id for m in matches] == [rows[1].id, rows[0].id]
    assert matches[0].similarity == pytest.approx(
        float(unit([0.1, 1, 0]) @ unit([0, 1, 0])), abs=1e-5
    )
    assert [m.name for m in by_name] == ["theobromine"] and other == []
    assert matches[0].inchikey.endswith("-N") and len(matches[0].inchikey) == 27


def test_defaults_title_and_result_sizes(library, tmp_path):
    """An untitled search is titled ''; neighbour and library searches return 10 by default."""
    alkanes = "".join(f"{'C' * n} alkane{n}\n" for n in range(2, 14))
    ingest(library, "structures", write(tmp_path, "alkanes.smi", alkanes), "handmade")
    with session_scope(library) as session:
        assert search(session, SearchRequest({"msms": unit([1, 0, 0])}, k=1)).query == ""
        ethane = session.execute(
            text("SELECT inchikey FROM compound WHERE 'alkane2' = ANY(names)")
        ).scalar_one()
        assert len(similar_structures(session, ethane)) == 10
        model_id = session.execute(text("SELECT id FROM model")).scalar_one()
        compound = session.execute(text("SELECT min(id) FROM compound")).scalar_one()
        write_measurement_embeddings(
            session,
            model_id,
            "msms",
            list(range(1, 13)),
            [compound] * 12,
            np.stack([unit([1, n / 10, 0]) for n in range(12)]),
        )
        assert len(library_search(session, "msms", unit([1, 0, 0]))) == 10


def test_scores_in_json_are_rounded_to_six_places():
    from registry.search.molvis_search import Hit

    hit = Hit(1, "K", "C", None, 16.0313, 0.123456789, {"msms": 0.123456789})
    assert hit.as_dict()["score"] == 0.123457


def _key(session: Session, name: str) -> str:
    return session.execute(
        text("SELECT inchikey FROM compound WHERE :n = ANY(names)"), {"n": name}
    ).scalar_one()


def test_a_confident_library_match_ranks_above_the_model(library):
    window = {"neutral_mass": 180.06406, "ppm": 10}
    toward_paraxanthine = unit([0, 1, 0])
    with session_scope(library) as session:
        theobromine = _key(session, "theobromine")
        theophylline = _key(session, "theophylline")
        model_only = search(session, SearchRequest({"msms": toward_paraxanthine}, **window))
        confident = search(
            session,
            SearchRequest(
                {"msms": toward_paraxanthine},
                **window,
                library={theobromine: (0.92, 8), theophylline: (0.75, 7)},
            ),
        )
        too_few_peaks = search(
            session,
            SearchRequest(
                {"msms": toward_paraxanthine}, **window, library={theobromine: (0.92, 5)}
            ),
        )
        weighted = search(
            session,
            SearchRequest(
                {"msms": toward_paraxanthine},
                **window,
                library={theobromine: (0.92, 5)},
                library_weight=1.0,
            ),
        )
    assert names(model_only) == ["paraxanthine", "theophylline", "theobromine"]
    # both confident matches first, by library score; then the model's candidate
    assert names(confident) == ["theobromine", "theophylline", "paraxanthine"]
    assert [h.library_score for h in confident.hits] == pytest.approx([0.92, 0.75, None])
    assert [h.matched_peaks for h in confident.hits] == [8, 7, None]
    # the model's score is unchanged by the library
    assert confident.hits[2].score == pytest.approx(model_only.hits[0].score)
    # 5 matched peaks is below the default 6: model score + 0.25 x library score decides
    # (paraxanthine 1.0, theophylline 0.8, theobromine 0.316 + 0.23); with weight 1
    # theobromine's 0.316 + 0.92 passes both
    assert names(too_few_peaks) == ["paraxanthine", "theophylline", "theobromine"]
    assert names(weighted) == ["theobromine", "paraxanthine", "theophylline"]


def test_library_matched_compounds_join_whatever_their_mass(library):
    with session_scope(library) as session:
        caffeine = _key(session, "caffeine")
        result = search(
            session,
            SearchRequest(
                {"msms": unit([0, 1, 0])},
                neutral_mass=180.06406,
                ppm=10,
                library={caffeine: (0.95, 9)},
            ),
        )
        other_formula = search(
            session,
            SearchRequest(
                {"msms": unit([0, 1, 0])},
                neutral_mass=180.06406,
                ppm=10,
                formula="C7H8N4O2",
                library={caffeine: (0.95, 9)},
            ),
        )
        open_path = search(
            session, SearchRequest({"msms": unit([0, 0, 1])}, k=1, library={caffeine: (0.95, 9)})
        )
    assert names(result)[0] == "caffeine" and result.candidates == 4
    assert "caffeine" not in names(other_formula)  # the formula filter still applies
    assert names(open_path) == ["caffeine"]  # not the nearest embedding (benzene)


def test_stereo_variants_are_one_hit(engine, tmp_path):
    smi = "C[C@H](N)C(=O)O L-alanine\nC[C@@H](N)C(=O)O D-alanine\nCC(N)C(=O)O alanine\n"
    ingest(engine, "structures", write(tmp_path, "ala.smi", smi), "handmade")
    with session_scope(engine) as session:
        model = register_model(session, "handmade", "v1", "/nonexistent.pt", {}, {}, True)
        rows = session.execute(text("SELECT names[1], id, inchikey FROM compound")).all()
        by_name = {n: (i, k) for n, i, k in rows}
        order = ["L-alanine", "D-alanine", "alanine"]
        write_structure_embeddings(
            session,
            model.id,
            [by_name[n][0] for n in order],
            np.stack([unit([1, 0.1, 0]), unit([1, 0.2, 0]), unit([1, 0.3, 0])]),
        )
        result = search(session, SearchRequest({"msms": unit([1, 0, 0])}, neutral_mass=89.04768))
    (hit,) = result.hits
    assert hit.name == "L-alanine" and result.candidates == 1
    assert sorted(hit.variants) == sorted([by_name["D-alanine"][1], by_name["alanine"][1]])


def test_open_search_returns_k_skeletons_when_the_nearest_are_stereo_variants(engine, tmp_path):
    """The open query's index scan fetches 2k rows; when they are all stereo variants of fewer
    than k skeletons, it fetches more until k skeletons (or the index's reach) are found."""
    threonines = [
        "C[C@@H](O)[C@H](N)C(=O)O",
        "C[C@H](O)[C@@H](N)C(=O)O",
        "C[C@@H](O)[C@@H](N)C(=O)O",
        "C[C@H](O)[C@H](N)C(=O)O",
        "CC(O)C(N)C(=O)O",
    ]
    smi = "".join(f"{s} threonine-{i}\n" for i, s in enumerate(threonines))
    smi += "NCC(=O)O glycine\nOCC(N)C(=O)O serine\n"
    ingest(engine, "structures", write(tmp_path, "thr.smi", smi), "handmade")
    with session_scope(engine) as session:
        model = register_model(session, "handmade", "v1", "/nonexistent.pt", {}, {}, True)
        ids = dict(session.execute(text("SELECT names[1], id FROM compound")).all())
        order = [f"threonine-{i}" for i in range(5)] + ["glycine", "serine"]
        write_structure_embeddings(
            session,
            model.id,
            [ids[n] for n in order],
            np.stack([unit([1, 0.05 * i, 0]) for i in range(7)]),
        )
        query = {"msms": unit([1, 0, 0])}
        two = search(session, SearchRequest(query, k=2))
        three = search(session, SearchRequest(query, k=3))
        seven = search(session, SearchRequest(query, k=7))
    assert names(two) == ["threonine-0", "glycine"]
    assert len(two.hits[0].variants) == 4
    assert names(three) == ["threonine-0", "glycine", "serine"]
    assert names(seven) == names(three)  # three skeletons are all there are


def test_library_arrays_must_line_up(library):
    with (
        session_scope(library) as session,
        pytest.raises(ProgrammingError, match="one library score"),
    ):
        session.execute(
            text(
                "SELECT * FROM molvis_search(ARRAY[CAST(:v AS vector)], ARRAY['msms'], "
                "library_keys => ARRAY['X'], library_scores => ARRAY[0.9]::float8[], "
                "library_peaks => ARRAY[]::int[])"
            ),
            {"v": str(unit([1, 0, 0]).tolist())},
        )


def test_filter_counts_say_which_filter_kept_how_many(library):
    window = {"neutral_mass": 180.06406, "ppm": 10}
    with session_scope(library) as session:
        none = filter_counts(session, SearchRequest({}, ppm=10))
        formula = filter_counts(session, SearchRequest({}, **window, formula="C7H8N4O2"))
        # theobromine's measured [M+H]+ CCS is 200.0, theophylline's 139.0: a 140 query keeps
        # theophylline and paraxanthine (no measured CCS), drops theobromine
        ccs = filter_counts(
            session,
            SearchRequest({}, **window, ccs=140.0, ccs_adduct="[M+H]+", sources=["handmade"]),
        )
        other = filter_counts(session, SearchRequest({}, **window, formula="C8H10N4O2"))
        elsewhere = filter_counts(session, SearchRequest({}, **window, sources=["massbank"]))
        no_mass = filter_counts(session, SearchRequest({}, ppm=10, ccs=140.0, ccs_adduct="[M+H]+"))
        total = session.execute(text("SELECT count(*) FROM compound")).scalar_one()
    # without a precursor every structure is a candidate: the filters still say what they kept
    assert none == {"mass_window": total, "formula": total, "sources": total, "ccs": total}
    assert no_mass["mass_window"] == total and no_mass["ccs"] == total - 1  # theobromine
    assert formula == {"mass_window": 3, "formula": 3, "sources": 3, "ccs": 3}
    assert ccs == {"mass_window": 3, "formula": 3, "sources": 3, "ccs": 2}
    assert other == {"mass_window": 3, "formula": 0, "sources": 0, "ccs": 0}
    assert elsewhere == {"mass_window": 3, "formula": 3, "sources": 0, "ccs": 0}
