"""Evaluation end to end on a constructed registry whose right answers are known: hand-made
vectors stand in for the model, the mass windows come from a real database."""

import numpy as np
import pytest
import torch
from sqlalchemy import text

from models.evaluate import Embedder, Query, build_queries, evaluate_queries
from registry.db.connection import session_scope
from registry.read.training_data import window_candidates
from tests.builders import unit, write
from tests.conftest import ingest

XANTHINE_MASS = 180.064726  # C7H8N4O2: theobromine, theophylline, paraxanthine
# name -> (SMILES, direction); 4'-nitroacetanilide (C8H8N2O3, 180.0535) is 62 ppm away
LIBRARY = {
    "theobromine": ("Cn1cnc2c1c(=O)[nH]c(=O)n2C", [1.0, 0.0, 0.0]),
    "theophylline": ("Cn1c(=O)c2[nH]cnc2n(C)c1=O", [0.0, 1.0, 0.0]),
    "paraxanthine": ("Cn1cnc2c1c(=O)n(C)c(=O)[nH]2", [0.6, 0.8, 0.0]),
    "caffeine": ("Cn1cnc2c1c(=O)n(C)c(=O)n2C", [0.0, 0.0, 1.0]),
    "nitroacetanilide": ("CC(=O)Nc1ccc(cc1)[N+](=O)[O-]", [0.8, 0.6, 0.0]),
}


@pytest.fixture
def registry(engine, tmp_path):
    smi = "".join(f"{s} {n}\n" for n, (s, _) in LIBRARY.items())
    ingest(engine, "structures", write(tmp_path, "lib.smi", smi), "handmade")
    with session_scope(engine) as session:
        rows = session.execute(text("SELECT names[1], inchikey, smiles FROM compound")).all()
    keys = {name: key for name, key, _ in rows}
    by_smiles = {smiles: unit(LIBRARY[name][1], len(LIBRARY[name][1])) for name, _, smiles in rows}

    def structures(smiles: list[str]):
        return np.ones(len(smiles), bool), np.stack([by_smiles[s] for s in smiles])

    def queries(modality: str, items: list):
        assert modality in ("msms", "ir", "ccs"), modality
        return np.stack([unit(x, len(x)) for x in items])

    embedder = Embedder(
        queries=queries,
        structures=structures,
        dim=3,
    )
    test_smiles = {key: smiles for _, key, smiles in rows}
    return engine, keys, embedder, test_smiles


def msms(vector, truth, mass=XANTHINE_MASS) -> Query:
    return Query("msms", [("msms", vector)], truth, mass)


def window(engine, ppm=10.0):
    def candidates(mass: float):
        with session_scope(engine) as session:
            return [(key, smiles) for key, smiles, _, _ in window_candidates(session, mass, ppm)]

    return candidates


def test_top_k_and_random_expectation_are_exact(registry):
    engine, keys, embedder, test_smiles = registry
    queries = [
        msms([1, 0, 0], keys["theobromine"]),  # window: rank 1 of 3
        msms([0.9, 0.1, 0], keys["theophylline"]),  # window: rank 3 of 3
        msms([0, 0, 1], keys["caffeine"]),  # truth outside the window: a miss
        msms([0.6, 0.8, 0], keys["paraxanthine"], mass=None),  # no mass: no candidates, a miss
    ]
    split, mass_window = evaluate_queries(embedder, queries, test_smiles, window(engine), "msms")
    assert split == {
        "query": "msms",
        "candidate_set": "test_split",
        "n_queries": 4,
        "mean_candidates": 5.0,
        "truth_in_candidates": 1.0,
        # ranks among all five: 1, 4, 1, 1
        "top1": 0.75,
        "top5": 1.0,
        "top10": 1.0,
        "top20": 1.0,
        "random_top1": pytest.approx(0.2),
        "random_top5": 1.0,
        "random_top10": 1.0,
        "random_top20": 1.0,
    }
    assert mass_window == {
        "query": "msms",
        "candidate_set": "mass_window",
        "n_queries": 4,
        "mean_candidates": 2.25,  # 3, 3, 3, 0: the nitroacetanilide is 62 ppm away
        "truth_in_candidates": 0.5,
        "top1": 0.25,
        "top5": 0.5,
        "top10": 0.5,
        "top20": 0.5,
        "random_top1": pytest.approx((1 / 3 + 1 / 3) / 4),
        "random_top5": 0.5,
        "random_top10": 0.5,
        "random_top20": 0.5,
    }


def test_a_wider_window_holds_the_near_mass_decoy(registry):
    engine, keys, embedder, test_smiles = registry
    query = [msms([0.8, 0.6, 0], keys["paraxanthine"])]
    _, narrow = evaluate_queries(embedder, query, test_smiles, window(engine, 10), "msms")
    _, wide = evaluate_queries(embedder, query, test_smiles, window(engine, 100), "msms")
    assert (narrow["mean_candidates"], narrow["top1"]) == (3.0, 1.0)
    assert (wide["mean_candidates"], wide["top1"]) == (4.0, 0.0)  # the decoy now ranks first


def test_fused_query_averages_within_and_sums_across_modalities(registry):
    engine, keys, embedder, test_smiles = registry
    fused = Query(
        "fused",
        [("msms", [1, 0, 0]), ("msms", [0, 1, 0]), ("ccs", [0, 1, 0])],
        keys["theophylline"],
        XANTHINE_MASS,
    )
    # msms mean (0.71, 0.71) + ccs (0, 1) -> (0.38, 0.92): paraxanthine 0.97, theophylline 0.92
    _, result = evaluate_queries(embedder, [fused], test_smiles, window(engine), "fused")
    assert (result["top1"], result["top5"]) == (0.0, 1.0)
    alone = Query("fused", [("ccs", [0, 1, 0])], keys["theophylline"], XANTHINE_MASS)
    _, result = evaluate_queries(embedder, [alone], test_smiles, window(engine), "fused")
    assert result["top1"] == 1.0


def test_the_spectrum_blind_control_ranks_every_query_alike(registry):
    """What a model that ignores the peaks gives: one vector for every query."""
    engine, keys, embedder, test_smiles = registry
    blind = [msms([0.8, 0.6, 0], keys[n]) for n in ("theobromine", "theophylline", "paraxanthine")]
    _, result = evaluate_queries(embedder, blind, test_smiles, window(engine), "msms")
    # scores in the window: paraxanthine 0.96, theobromine 0.8, theophylline 0.6
    assert [result[f"top{k}"] for k in (1, 5)] == [pytest.approx(1 / 3), 1.0]
    assert result["random_top1"] == pytest.approx(1 / 3)


CAFFEINE = "RYYVLZVUVIJVGH-UHFFFAOYSA-N"
SERINE = "MTCFGRXMJLQNBG-UHFFFAOYSA-N"
GLYCINE = "DHMQDGOQFOQNFH-UHFFFAOYSA-N"
ALANINE = "QNAYBMKLOCPYGJ-UHFFFAOYSA-N"
VALINE = "KZSNJWFQEVHDMF-UHFFFAOYSA-N"
ETHANOL = "LFQSCWFLJHTTHZ-UHFFFAOYSA-N"
FUSED_KEYS = {CAFFEINE, SERINE, GLYCINE}  # two modalities or more
TEST_KEYS = FUSED_KEYS | {ALANINE, VALINE}


def _training_set():
    """Ethanol (train split) comes first in every modality. Test split: caffeine with two
    MS/MS, IR and two CCS; serine with IR and a CCS whose ion m/z implies 105.4927 (not its
    105.0426); glycine with IR and an MS/MS of an adduct molvis cannot compute; alanine with
    MS/MS only and valine with CCS only (no fused query)."""
    from registry.read.measurements import CcsRow, IrRow, MsmsRow
    from registry.read.training_data import CompoundRow, TrainingSet

    def spectrum(compound, n, precursor, adduct):
        return MsmsRow(
            compound=compound,
            measurement_id=n,
            precursor_mz=precursor,
            adduct=adduct,
            ion_mode="positive",
            instrument_type=None,
            collision_energy=None,
            mz=np.array([50.0, 138.07]),
            intensity=np.array([10.0, 100.0]),
        )

    return TrainingSet(
        compounds=[
            CompoundRow(1, ETHANOL, "CCO", 46.041865, None),
            CompoundRow(2, CAFFEINE, "Cn1cnc2c1c(=O)n(C)c(=O)n2C", 194.080376, None),
            CompoundRow(3, SERINE, "NC(CO)C(=O)O", 105.042593, None),
            CompoundRow(4, GLYCINE, "NCC(=O)O", 75.032028, None),
            CompoundRow(5, ALANINE, "CC(N)C(=O)O", 89.047678, None),
            CompoundRow(6, VALINE, "CC(C)C(N)C(=O)O", 117.078979, None),
        ],
        msms=[
            spectrum(0, 1, 47.049141, "[M+H]+"),
            spectrum(4, 13, 90.054955, "[M+H]+"),  # alanine: MS/MS only
            spectrum(1, 2, 195.087652, "[M+H]+"),
            spectrum(1, 3, 217.069597, "[M+Na]+"),
            spectrum(3, 4, 76.0393, "[M+Foo]+"),
        ],
        ir=[
            IrRow(0, 5, np.ones(825, np.float32)),
            IrRow(1, 6, np.full(825, 0.1, np.float32)),
            IrRow(2, 7, np.full(825, 0.2, np.float32)),
            IrRow(3, 8, np.full(825, 0.3, np.float32)),
        ],
        ccs=[
            CcsRow(0, 9, 110.0, 47.049141, "[M+H]+"),
            CcsRow(1, 10, 138.2, 195.087652, "[M+H]+"),
            CcsRow(1, 11, 150.0, None, "[M+Na]+"),
            CcsRow(2, 12, 120.0, 106.5, "[M+H]+"),
            CcsRow(5, 14, 125.0, None, "[M+H]+"),  # valine: CCS only
        ],
    )


def test_queries_per_modality_for_the_test_split_only():
    from models.config import TrainConfig

    queries = build_queries(_training_set(), TEST_KEYS, TrainConfig(), None)
    assert set(queries) == {"msms", "ir", "ccs", "fused"}
    for name, items in queries.items():
        assert {q.modality for q in items} == {name}
    msms = queries["msms"]
    assert [(q.truth, q.inputs[0][0]) for q in msms] == [
        (ALANINE, "msms"),
        (CAFFEINE, "msms"),
        (CAFFEINE, "msms"),
        (GLYCINE, "msms"),
    ]
    masses = [q.neutral_mass for q in msms]
    assert masses[:3] == pytest.approx([89.047678, 194.080376, 194.080376], abs=1e-5)
    assert masses[3] is None
    assert [q.inputs[0][1].n_peaks for q in msms] == [2, 2, 2, 2]
    ir = queries["ir"]
    assert [(q.truth, q.inputs[0][0], q.neutral_mass) for q in ir] == [
        (CAFFEINE, "ir", 194.080376),  # IR has no precursor: the compound's own mass
        (SERINE, "ir", 105.042593),
        (GLYCINE, "ir", 75.032028),
    ]
    assert torch.equal(ir[0].inputs[0][1], torch.full((825,), 0.1))
    ccs = queries["ccs"]
    assert [(q.truth, q.inputs[0]) for q in ccs] == [
        (CAFFEINE, ("ccs", (138.2, 195.087652, "[M+H]+"))),
        (CAFFEINE, ("ccs", (150.0, None, "[M+Na]+"))),
        (SERINE, ("ccs", (120.0, 106.5, "[M+H]+"))),
        (VALINE, ("ccs", (125.0, None, "[M+H]+"))),
    ]
    # from the ion's m/z and adduct, else (no m/z) the compound's
    assert [q.neutral_mass for q in ccs] == pytest.approx(
        [194.080376, 194.080376, 105.492724, 117.078979]
    )
    fused = {q.truth: q for q in queries["fused"]}
    assert set(fused) == FUSED_KEYS and {q.modality for q in fused.values()} == {"fused"}
    assert [m for m, _ in fused[CAFFEINE].inputs] == ["msms", "msms", "ir", "ccs", "ccs"]
    assert [m for m, _ in fused[SERINE].inputs] == ["ir", "ccs"]
    assert [m for m, _ in fused[GLYCINE].inputs] == ["msms", "ir"]
    # MS/MS mass first, else any measurement's, else the compound's
    assert fused[CAFFEINE].neutral_mass == pytest.approx(194.080376, abs=1e-5)
    assert fused[SERINE].neutral_mass == pytest.approx(105.492724, abs=1e-5)
    assert fused[GLYCINE].neutral_mass == 75.032028


def test_query_sampling_is_seeded_and_bounded():
    from models.config import TrainConfig

    data = _training_set()
    keys = TEST_KEYS
    one = build_queries(data, keys, TrainConfig(), 1)
    assert {name: len(items) for name, items in one.items()} == {
        "msms": 1,
        "ir": 1,
        "ccs": 1,
        "fused": 1,
    }
    again = build_queries(data, keys, TrainConfig(), 1)
    assert [q.inputs[0][1] for q in one["ccs"]] == [q.inputs[0][1] for q in again["ccs"]]
    # random.Random(seed).sample: pinned so that a changed default seed shows
    assert one["ir"][0].truth == SERINE and one["ccs"][0].inputs[0][1][0] == 138.2
    other_seed = build_queries(data, keys, TrainConfig(), 1, seed=3)
    assert other_seed["ir"][0].truth == GLYCINE and other_seed["ccs"][0].inputs[0][1][0] == 150.0
    exactly = build_queries(data, FUSED_KEYS, TrainConfig(), 3)  # three fused: none dropped
    unsampled = build_queries(data, FUSED_KEYS, TrainConfig(), None)
    assert [q.truth for q in exactly["fused"]] == [q.truth for q in unsampled["fused"]]


def test_blind_queries_keep_the_precursor_and_lose_every_peak():
    from models.config import TrainConfig

    data = _training_set()
    (seen, _) = build_queries(data, {CAFFEINE}, TrainConfig(), None)["msms"]
    (blind, _) = build_queries(data, {CAFFEINE}, TrainConfig(), None, blind=True)["msms"]
    assert seen.neutral_mass == blind.neutral_mass == pytest.approx(194.0804, abs=1e-3)
    seen_input, blind_input = seen.inputs[0][1], blind.inputs[0][1]
    assert seen_input.n_peaks == 2 and blind_input.n_peaks == 0
    assert np.any(seen_input.peaks) and not np.any(blind_input.peaks)
    assert blind_input.precursor_mz == seen_input.precursor_mz
    # the measured spectrum rides with the query for rankers that read peaks; never the blind
    assert seen.spectrum is not None and seen.spectrum.mz.size == 2 and blind.spectrum is None
