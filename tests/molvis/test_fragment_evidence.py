"""Each hit's fragment evidence: the structure whose fragments make the query's peaks explains
more of them than a decoy that cannot; annotations only for the first hits; none without an
MS/MS spectrum or an adduct."""

import numpy as np

from molvis.workflows.fragment_evidence import fragment_evidence, predicted_spectrum_of
from molvis.workflows.query import Query
from registry.records import MsmsRecord, StructureRef
from registry.search.molvis_search import Hit

CAFFEINE = "CN1C=NC2=C1C(=O)N(C(=O)N2C)C"
# a same-mass-window decoy whose fragments make neither of caffeine's fragment peaks (a chain
# isomer such as CC(=O)Nc1nc(N)c(C)nc1C=O makes both, by cheaper cuts: the fragmenter alone
# cannot tell those apart, see BENCHMARKS.md)
DECOY = "NC(=O)c1ncn(C)c1NC(=O)OC"
PRECURSOR = 195.087652


def _query(adduct: str | None = "[M+H]+", with_spectrum: bool = True) -> Query:
    spectrum = MsmsRecord(
        structure=StructureRef(""),
        record_id="q",
        precursor_mz=PRECURSOR,
        adduct=adduct,
        ion_mode="positive",
        instrument_type=None,
        collision_energy=None,
        mz=np.array([110.0713, 138.0662, PRECURSOR]),
        intensity=np.array([20.0, 100.0, 40.0]),
    )
    return Query(
        "q", msms=spectrum if with_spectrum else None, precursor_mz=PRECURSOR, adduct=adduct
    )


def _hit(rank: int, smiles: str) -> Hit:
    return Hit(rank, f"KEY{rank:011d}-UHFFFAOYSA-N", smiles, None, 194.08, 0.5, {"msms": 0.5})


def test_the_right_structure_explains_more_and_is_annotated_first():
    hits = [_hit(1, DECOY), _hit(2, CAFFEINE), _hit(3, CAFFEINE)]
    decoy, caffeine, third = fragment_evidence(_query(), hits, annotated=2, forward_model=None)
    assert caffeine["explained_peaks"] == 2 and caffeine["peaks"] == 2
    assert caffeine["explained_intensity"] == 1.0
    assert caffeine["fragmenter_score"] > decoy["fragmenter_score"]
    assert decoy["explained_intensity"] < caffeine["explained_intensity"]
    assert [a["formula"] for a in caffeine["annotations"]] == ["C5H8N3+", "C6H8N3O+"]
    assert caffeine["annotations"][1]["smiles"] and caffeine["annotations"][1]["ion_mz"] > 138
    assert "annotations" in decoy and "annotations" not in third  # the first two only
    assert {k: v for k, v in third.items()} == {k: caffeine[k] for k in third}


def test_no_fragment_evidence_without_a_spectrum_or_an_adduct():
    hits = [_hit(1, CAFFEINE)]
    assert fragment_evidence(_query(with_spectrum=False), hits) == [None]
    assert fragment_evidence(_query(adduct=None), hits) == [None]


def test_a_structure_rdkit_cannot_read_gets_none_and_the_rest_still_theirs():
    found = fragment_evidence(_query(), [_hit(1, "C1CC"), _hit(2, CAFFEINE)], forward_model=None)
    assert found[0] is None and found[1]["explained_peaks"] == 2


def test_the_forward_model_s_spectrum_of_the_right_structure_is_the_closer():
    from tests.models.test_fragment_model import _tiny_model

    model, _ = _tiny_model()  # learned on caffeine's spectrum
    hits = [_hit(1, DECOY), _hit(2, CAFFEINE)]
    decoy, caffeine = fragment_evidence(_query(), hits, forward_model=model)
    assert 0 <= decoy["predicted_similarity"] < caffeine["predicted_similarity"] <= 1
    (without,) = fragment_evidence(_query(), hits[1:], forward_model=None)
    assert without["predicted_similarity"] is None


def test_the_evidence_as_shown_rounded_and_checked_by_hand():
    """C6H8N3O+ is 138.06619 (72 + 8 x 1.00782503 + 3 x 14.00307401 + 15.99491462 - an
    electron), 0.08 ppm from the peak; both peaks come from ring openings (cost 7), so the
    score is (4.5 / 7)^0.47 = 0.8125 whatever their weights. 138 is methyl isocyanate lost
    from either side of the six-membered ring (two pieces of one formula and cost): the first
    piece the fragmenter cut is shown."""
    (found,) = fragment_evidence(_query(), [_hit(1, CAFFEINE)], forward_model=None)
    assert found == {
        "peaks": 2,
        "explained_peaks": 2,
        "explained_intensity": 1.0,
        "fragmenter_score": 0.8125,
        "predicted_similarity": None,
        "annotations": [
            {
                "mz": 110.0713,
                "intensity": 0.1667,
                "formula": "C5H8N3+",
                "smiles": "Cnc1cn(C)cn1",
                "ion_mz": 110.07127,
                "ppm_error": 0.24,
                "hydrogen_shift": 0,
            },
            {
                "mz": 138.0662,
                "intensity": 0.8333,
                "formula": "C6H8N3O+",
                "smiles": "Cnc1ncn(C)c1c=O",
                "ion_mz": 138.06619,
                "ppm_error": 0.08,
                "hydrogen_shift": 0,
            },
        ],
    }


def test_numbers_are_rounded_as_shown_and_the_shipped_model_is_the_default():
    query = _query()
    query.msms.mz = np.array([110.0713, 138.066213, 77.777, PRECURSOR])
    query.msms.intensity = np.array([20.0, 100.0, 50.0, 40.0])
    (found,) = fragment_evidence(query, [_hit(1, CAFFEINE)])
    assert found["explained_intensity"] == 0.7059  # 120 / 170
    assert [a["mz"] for a in found["annotations"]] == [110.0713, 138.06621]
    assert 0 < found["predicted_similarity"] <= 1  # models/pretrained/molvis-fragments.pt
    mz, intensity, formulas = predicted_spectrum_of(CAFFEINE, "[M+H]+")
    assert len(mz) == len(intensity) == len(formulas) > 0 and intensity.max() == 1.0


def test_the_predicted_spectrum_is_compared_at_the_query_s_energy_and_precursor():
    from models.fragment_model import predict_spectrum
    from registry.library.flash_index import entropy_similarity
    from tests.models.test_fragment_model import _tiny_model

    model, _ = _tiny_model()
    query = _query()
    query.msms.collision_energy = "10 eV"
    (found,) = fragment_evidence(query, [_hit(1, CAFFEINE)], forward_model=model)
    mz, intensity, _ = predict_spectrum(model, CAFFEINE, "[M+H]+", "10 eV")
    measured = (query.msms.mz, query.msms.intensity)
    expected = entropy_similarity((mz, intensity), PRECURSOR, measured, PRECURSOR)
    assert found["predicted_similarity"] == round(expected, 4)


def test_the_evaluation_s_fragmenter_row_scores_the_window_from_the_peaks():
    from models.candidate_sets import Candidate
    from models.evaluate import Query as EvaluationQuery
    from molvis.workflows.evaluation import fragmenter_scores

    spectrum = _query().msms
    query = EvaluationQuery("msms", [], "KEY", 194.08, spectrum)
    cands = [Candidate("D", DECOY, True, None), Candidate("C", CAFFEINE, True, None),
             Candidate("X", "C1CC", True, None)]  # fmt: skip
    decoy, caffeine, unreadable = fragmenter_scores(query, cands)
    assert caffeine > decoy and unreadable == 0.0
