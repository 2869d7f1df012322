"""The CCS predictor on a tiny slice: the power-law baseline is fitted, training lowers the
error below it, the model round-trips through its file, bad inputs name themselves."""

from dataclasses import replace

import numpy as np
import pytest
import torch

from models.ccs import CcsInputError, featurize, load_predictor, save_predictor
from models.ccs_inputs import ADDUCTS, CcsConfig, Ion
from models.ccs_train import baseline_predictions, relative_errors, train_predictor
from registry.chem.identity import fingerprint_bits, identify

SMILES = [
    "CCCCCCCCCCCCCCCC(=O)O",
    "CCCCCCCCC=CCCCCCCCC(=O)O",
    "c1ccc2ccccc2c1",
    "c1ccc2cc3ccccc3cc2c1",
    "OC1C(O)C(O)C(O)C(O)C1O",
    "Cn1cnc2c1c(=O)n(C)c(=O)n2C",
    "CC(C)Cc1ccc(C(C)C(=O)O)cc1",
    "OC(=O)C(F)(F)C(F)(F)C(F)(F)C(F)(F)C(F)(F)C(F)(F)C(F)(F)F",
    "NC(Cc1ccccc1)C(=O)O",
    "NC(Cc1c[nH]c2ccccc12)C(=O)O",
    "CC12CCC3c4ccc(O)cc4CCC3C1CCC2O",
    "CCN(CC)CC",
]


def ions(adduct="[M+H]+", method="DT"):
    out = []
    for smi in SMILES:
        identity = identify(smi)
        out.append(
            Ion(
                fingerprint_bits(identity.smiles),
                identity.formula,
                identity.monoisotopic_mass,
                adduct,
                method,
                identity.smiles,
            )
        )
    return out


def synthetic_ccs(items):
    """A CCS that depends on m/z and on structure (fluorine makes ions denser)."""
    feats = featurize(items, CcsConfig())
    mz = np.exp(feats.log_mz.numpy())
    fluorine = np.array([it.formula.count("F") for it in items], dtype=float)
    return 40 * mz**0.33 * (1 - 0.015 * (fluorine > 0))


def test_training_beats_the_mz_baseline_and_the_file_round_trips(tmp_path):
    items = ions() + ions("[M+Na]+")
    ccs = synthetic_ccs(items) * np.r_[np.ones(len(SMILES)), 1.05 * np.ones(len(SMILES))]
    rng = np.random.default_rng(0)
    ccs = ccs * (1 + 0.03 * rng.standard_normal(len(ccs)))  # what m/z alone cannot explain
    config = CcsConfig(
        hidden=64, layers=1, epochs=150, lr=3e-3, batch_size=8, dropout=0.0, members=2
    )
    inputs = featurize(items, config)
    model, history = train_predictor((inputs, ccs), (inputs, ccs), config)
    assert history[-1]["train_l1_log"] < history[0]["train_l1_log"]
    trained = np.median(relative_errors(model.predict(inputs), ccs))
    baseline = np.median(relative_errors(baseline_predictions(model, inputs), ccs))
    assert trained < baseline / 2
    path = tmp_path / "ccs.pt"
    version = save_predictor(model, {"note": "test"}, path)
    again, saved = load_predictor(path)
    assert saved["version"] == version and saved["metrics"] == {"note": "test"}
    assert len(inputs.structure) == len(SMILES)  # one structure row for both adducts
    assert np.allclose(again.predict(inputs), model.predict(inputs))


def test_the_method_is_an_input():
    dt, tw = (
        featurize(ions(method="DT")[:1], CcsConfig()),
        featurize(ions(method="TW")[:1], CcsConfig()),
    )
    assert not torch.equal(dt.ion, tw.ion) and torch.equal(dt.structure, tw.structure)
    odd = featurize(ions(method="something else")[:1], CcsConfig())
    assert odd.ion[0, -1] == 1.0  # "unknown" is the last method column


def test_unknown_adducts_and_missing_fingerprints_are_named():
    item = ions()[0]
    with pytest.raises(CcsInputError, match=r"adduct \[M\+Li\]\+ is not one"):
        featurize([replace(item, adduct="[M+Li]+")], CcsConfig())
    with pytest.raises(CcsInputError, match="fingerprint"):
        featurize([replace(item, fingerprint="01")], CcsConfig(stored_fingerprint=True))
    featurize([replace(item, fingerprint="01")], CcsConfig())  # one that does not read it
    with pytest.raises(CcsInputError, match="below the predictor's range"):
        featurize([replace(item, formula="CH4O", mass=32.03, adduct="[M+H-H2O]+")], CcsConfig())
    assert set(ADDUCTS) >= {"[M+H]+", "[M+Na]+", "[M-H]-", "[M+FA-H]-"}


def test_a_file_that_is_not_a_predictor_or_would_run_code_is_refused(tmp_path):
    from tests.models.test_models import _Payload

    path = tmp_path / "other.pt"
    torch.save({"kind": "something"}, path)
    with pytest.raises(CcsInputError, match="not a molvis CCS predictor"):
        load_predictor(path)
    marker = tmp_path / "pwned"
    torch.save({"kind": "ccs-predictor", "config": {}, "x": _Payload(marker)}, path)
    with pytest.raises(CcsInputError, match="not a molvis CCS predictor"):
        load_predictor(path)
    assert not marker.exists()


def test_errors_are_percent_and_the_search_window_rounds_them_up():
    from models.ccs_train import error_summary
    from molvis.workflows.ccs_prediction import search_tolerance

    errors = relative_errors(np.array([105.0, 98.0, 100.0]), np.array([100.0, 100.0, 100.0]))
    assert errors.tolist() == pytest.approx([5.0, 2.0, 0.0])  # percent, not fractions
    summary = error_summary(np.array([1.0, 2.0, 3.0, 4.0]))
    assert summary["median_pct"] == 2.5 and summary["p95_pct"] == pytest.approx(3.85)
    assert summary["within_3pct"] == 0.75  # 3 % itself counts as within
    # the predicted-CCS window: the p95 error in %, rounded up to 0.1 %, never down
    assert search_tolerance(2.31) == 2.4 and search_tolerance(2.3) == 2.3
    assert search_tolerance(0.04) == 0.1 and search_tolerance(3.0) == 3.0


def test_element_counts_read_every_listed_element_and_nothing_else():
    from models.ccs_structure import ELEMENTS, element_counts

    counts = dict(zip(ELEMENTS, element_counts("C8H10N4O2").tolist(), strict=True))
    assert counts == {"C": 8, "H": 10, "N": 4, "O": 2} | dict.fromkeys(ELEMENTS[4:], 0)
    halides = element_counts("C2HBr2ClNaO")  # Na is not an input: left out
    assert halides[ELEMENTS.index("Br")] == 2 and halides[ELEMENTS.index("Cl")] == 1
    assert halides.sum() == 2 + 1 + 2 + 1 + 1 and halides.dtype == np.float32
    ethanol = element_counts("CH3CH2OH")  # an element written twice counts twice
    assert ethanol[:4].tolist() == [2, 6, 0, 1]
    assert element_counts("").tolist() == [0.0] * len(ELEMENTS)
    assert element_counts(None).tolist() == [0.0] * len(ELEMENTS)


def test_an_ions_columns_are_its_log_mz_adduct_and_method():
    """Column 0: log m/z - 6; then the adduct's composition, one adduct column and one method
    column set to 1; a structure row per (fingerprint, formula), its element counts as log1p."""
    from models.ccs_adducts import ADDUCT_WIDTH, adduct_composition
    from models.ccs_inputs import METHODS, ion_mz
    from models.ccs_structure import ELEMENTS, element_counts, structure_width

    item = ions()[5]  # caffeine
    sodium = replace(item, adduct="[M+Na]+", method="TW")
    other_formula = replace(item, formula="C8H10N4O3")
    feats = featurize([item, sodium, other_formula], CcsConfig())
    assert feats.log_mz.dtype == torch.float32
    mz = ion_mz(item.mass, "[M+Na]+")
    assert feats.log_mz[1].item() == pytest.approx(np.log(mz), abs=1e-5)
    expected = np.zeros(1 + ADDUCT_WIDTH + len(ADDUCTS) + len(METHODS), dtype=np.float32)
    expected[0] = np.log(mz) - 6.0
    expected[1 : 1 + ADDUCT_WIDTH] = adduct_composition("[M+Na]+")
    expected[1 + ADDUCT_WIDTH + ADDUCTS.index("[M+Na]+")] = 1.0
    expected[1 + ADDUCT_WIDTH + len(ADDUCTS) + METHODS.index("TW")] = 1.0
    assert feats.ion[1].numpy() == pytest.approx(expected, abs=1e-5)
    assert feats.row.tolist() == [0, 0, 1]  # another formula is another structure row
    counts = feats.structure[:, : len(ELEMENTS)]  # first: the stored bits are not read
    assert counts[1].numpy() == pytest.approx(np.log1p(element_counts("C8H10N4O3")))
    config = CcsConfig()
    width = structure_width(config)
    assert feats.structure.shape[1] == width
    empty = featurize([], CcsConfig()).structure
    assert empty.shape == (0, width) and empty.dtype == feats.structure.dtype == torch.float32


def test_the_range_starts_at_min_mz_itself():
    from models.ccs_inputs import MIN_MZ, ion_mz, predictable

    item = ions()[0]
    mass = MIN_MZ - ion_mz(0.0, "[M+H]+")
    while ion_mz(mass, "[M+H]+") < MIN_MZ:  # the mass whose ion lies exactly at MIN_MZ
        mass = np.nextafter(mass, np.inf)
    assert ion_mz(mass, "[M+H]+") == MIN_MZ and predictable(mass, "[M+H]+")
    assert not predictable(np.nextafter(mass, -np.inf), "[M+H]+")
    featurize([replace(item, mass=mass)], CcsConfig())
    with pytest.raises(CcsInputError) as caught:
        featurize([replace(item, fingerprint="01")], CcsConfig(stored_fingerprint=True))
    assert str(caught.value) == "no 2048-bit fingerprint"
    with pytest.raises(CcsInputError, match="unknown element 'Q'"):
        ion_mz(100.0, "[M+Q]+")


def test_each_members_first_layer_split_equals_the_whole_mlp():
    """The residual reads each structure once through the split first layer: the same as the
    member's MLP over [structure, ion] for every ion."""
    from models.ccs import CcsPredictor

    torch.manual_seed(0)
    model = CcsPredictor(CcsConfig(hidden=16, members=2)).eval()
    feats = featurize(ions()[:3] + ions("[M+Na]+")[:3], CcsConfig())
    structure = model.standardised(feats.structure)
    whole = torch.cat([structure[feats.row], feats.ion], dim=1)
    with torch.no_grad():
        for mlp in model.mlps:
            split = model._residual(mlp, structure, feats).numpy()
            assert split == pytest.approx(mlp(whole).squeeze(-1).numpy(), abs=1e-5)


def test_the_baseline_is_fitted_per_adduct_from_ten_values_and_pooled_below():
    from models.ccs import CcsInputs, CcsPredictor

    log_mz = torch.log(torch.linspace(100, 900, 31))
    adduct = torch.tensor([0] * 11 + [1] * 10 + [2] * 9 + [3])
    lines = {0: (2.0, 0.5), 1: (2.5, 0.4), 2: (1.0, 0.9), 3: (1.0, 0.9)}
    log_ccs = torch.stack(
        [lines[int(a)][0] + lines[int(a)][1] * m for a, m in zip(adduct, log_mz, strict=True)]
    )
    inputs = CcsInputs(
        torch.zeros(1, 1), torch.zeros(31, dtype=torch.long), torch.zeros(31, 1), adduct, log_mz
    )
    model = CcsPredictor(CcsConfig(members=1))
    model.fit_baseline(inputs, log_ccs)
    pooled = np.polyfit(log_mz.numpy(), log_ccs.numpy(), 1)
    assert model.intercept[0].item() == pytest.approx(2.0, abs=1e-4)
    assert model.slope[0].item() == pytest.approx(0.5, abs=1e-4)
    assert model.slope[1].item() == pytest.approx(0.4, abs=1e-4)  # ten values: its own fit
    for sparse in (2, 3, 4):  # nine values, one, none: the pooled fit
        assert model.slope[sparse].item() == pytest.approx(pooled[0], abs=1e-4)
        assert model.intercept[sparse].item() == pytest.approx(pooled[1], abs=1e-4)


def test_a_saved_predictor_carries_its_version_and_config(tmp_path):
    from dataclasses import asdict

    from models.ccs import CcsPredictor
    from models.checkpoint import content_version

    model = CcsPredictor(CcsConfig(hidden=8, members=1))
    version = save_predictor(model, {"median_pct": 1.0}, tmp_path / "p.pt")
    assert version == content_version(model.state_dict()) and len(version) >= 8
    loaded, saved = load_predictor(tmp_path / "p.pt")
    assert saved["version"] == version and loaded.config == model.config
    assert CcsConfig.from_dict(asdict(model.config) | {"adducts": list(ADDUCTS)}) == model.config
    torch.save({"kind": "structure", "config": {}, "state_dict": {}}, tmp_path / "other.pt")
    with pytest.raises(CcsInputError, match="other.pt: not a molvis CCS predictor"):
        load_predictor(tmp_path / "other.pt")


def test_spellings_of_one_adduct_are_one_adduct_and_its_composition_is_counted():
    from models.ccs_adducts import ADDUCT_ELEMENTS, adduct_composition, adduct_key

    assert adduct_key("[M-H2O-H]-") == adduct_key("[M-H-H2O]-") == (1, -1, (("H", -3), ("O", -1)))
    assert adduct_key("[M+CH3COO]-") == adduct_key("[M+Hac-H]-")
    assert adduct_key("[M+H]+") != adduct_key("[M+H]2+")
    columns = ("molecules-1", "charge", "|charge|-1", *ADDUCT_ELEMENTS, "other")

    def named(adduct):
        return {k: v for k, v in zip(columns, adduct_composition(adduct), strict=True) if v}

    assert named("[2M+Na]+") == {"molecules-1": 1, "charge": 1, "Na": 1}
    assert named("[M-H-CO2]-") == {"charge": -1, "H": -1, "C": -1, "O": -2}
    assert named("[M-2H]2-") == {"charge": -2, "|charge|-1": 1, "H": -2}
    assert named("[M+Li-2H]-") == {"charge": -1, "H": -2, "other": 1}
    assert named("[M]+") == {"charge": 1}
    with pytest.raises(CcsInputError, match="cannot read adduct"):
        adduct_key("[M-ClO]?")


def test_a_known_adduct_is_found_by_any_spelling():
    item = ions()[5]
    config = CcsConfig(adducts=("[M+H]+", "[M-H-H2O]-"))
    one = featurize([replace(item, adduct="[M-H2O-H]-")], config)
    other = featurize([replace(item, adduct="[M-H-H2O]-")], config)
    assert one.adduct.tolist() == [1] and torch.equal(one.ion, other.ion)
    with pytest.raises(CcsInputError, match=r"\[M\+Na\]\+ is not one .* at least 20 measured"):
        featurize([replace(item, adduct="[M+Na]+")], config)


def test_known_adducts_need_the_minimum_of_training_ions_counted_over_spellings():
    from models.ccs_train import known_adducts

    seen = ["[M+H]+"] * 5 + ["[M-H-H2O]-"] * 2 + ["[M-H2O-H]-"] * 1 + ["[M+Na]+"] * 2
    seen += ["[M-ClO]?"] * 9  # unreadable: left out, however common
    assert known_adducts(seen, 3) == ("[M+H]+", "[M-H-H2O]-")  # 2 + 1 spellings count as 3
    assert known_adducts(seen, 2) == ("[M+H]+", "[M-H-H2O]-", "[M+Na]+")
    assert known_adducts(seen, 6) == ()


class _Deviations:
    """A stand-in predictor whose values and deviations are given (fit_interval's inputs)."""

    def __init__(self, values, deviations):
        self.values, self.deviations = values, deviations
        self.interval = torch.tensor([0.0, 0.0])

    def predict_with_deviation(self, inputs):
        return self.values, self.deviations


def test_the_interval_is_calibrated_to_95_percent_and_uses_the_deviation_where_it_tells():
    from models.ccs_train import fit_interval

    rng = np.random.default_rng(1)
    deviation = rng.uniform(0.5, 5.0, 2000)
    errors = deviation * rng.uniform(0, 2, 2000)  # the error grows with the deviation
    stand_in = _Deviations(100 + errors, deviation)
    fitted = fit_interval(stand_in, None, np.full(2000, 100.0))
    floor, scale = stand_in.interval.tolist()
    assert (fitted["interval_floor_pct"], fitted["interval_scale"]) == (round(floor, 3), scale)
    assert scale > 0 and np.mean(errors <= floor + scale * deviation) == pytest.approx(
        0.95, abs=0.002
    )
    # narrower on average than the best constant interval (scale 0: the p95 error)
    assert floor + scale * deviation.mean() < np.percentile(errors, 95)
    flat = _Deviations(100 + errors, np.ones(2000))  # a deviation that tells nothing
    fit_interval(flat, None, np.full(2000, 100.0))
    floor, scale = flat.interval.tolist()
    assert floor + scale == pytest.approx(np.percentile(errors, 95), abs=1e-3)


def test_the_uncertainty_is_the_ensembles_deviation_through_the_fitted_interval():
    from models.ccs import CcsPredictor

    torch.manual_seed(0)
    model = CcsPredictor(CcsConfig(hidden=16, members=3)).eval()
    feats = featurize(ions()[:4], CcsConfig())
    with torch.no_grad():
        log_ccs = model.members_out(feats)
        model.interval.copy_(torch.tensor([1.5, 2.0]))
    values, deviation = model.predict_with_deviation(feats)
    assert values == pytest.approx(torch.exp(log_ccs.mean(0)).numpy(), rel=1e-6)
    spread = np.sqrt(((log_ccs - log_ccs.mean(0)) ** 2).mean(0).numpy())  # not n - 1
    assert deviation == pytest.approx(100 * spread, rel=1e-5) and deviation.min() > 0
    _, half_width = model.predict_with_uncertainty(feats)
    assert half_width == pytest.approx(1.5 + 2.0 * deviation, rel=1e-5)
    alone = CcsPredictor(CcsConfig(hidden=16, members=1)).eval()
    assert alone.predict_with_deviation(feats)[1].tolist() == [0.0] * 4  # one member: no spread


def test_ring_scaffolds():
    from models.ccs_classes import ring_scaffold

    assert ring_scaffold("CC(C)Cc1ccc(C(C)C(=O)O)cc1") == "c1ccccc1"
    assert ring_scaffold("CCCCCC(=O)O") == "" and ring_scaffold("C1CC(") == ""


def test_the_descriptors_are_rdkits_in_their_named_order_after_bits_and_counts():
    """Caffeine checked by hand: 2 rings, both aromatic, 14 heavy atoms, no donor, 3 of 8
    carbons sp3, TPSA 61.82 (Ertl's table)."""
    from models.ccs_structure import DESCRIPTORS, molecule_columns

    item = ions()[5]
    values = molecule_columns(item.smiles, CcsConfig(count_bits=0, pair_bits=0))
    named = dict(zip(DESCRIPTORS, values, strict=True))
    assert named["rings"] == 2 and named["aromatic_rings"] == 2 and named["aliphatic_rings"] == 0
    assert named["heavy_atoms"] == 14 and named["h_donors"] == 0
    assert named["fraction_csp3"] == pytest.approx(3 / 8) and named["tpsa"] == pytest.approx(61.82)
    feats = featurize([item], CcsConfig())
    tail = feats.structure[0, -len(DESCRIPTORS) :].numpy()
    assert tail == pytest.approx(np.array(list(named.values()), dtype=np.float32))
    reversed_names = tuple(reversed(DESCRIPTORS))
    assert (
        molecule_columns(
            item.smiles, CcsConfig(descriptors=reversed_names, count_bits=0, pair_bits=0)
        ).tolist()
        == list(named.values())[::-1]
    )


def test_the_morgan_counts_are_how_often_each_environment_occurs_between_elements_and_descriptors():
    """Octane checked by hand: eight atoms at radii 0, 1 and 2 are 24 environments less the end
    atoms' radius-2 ones (the same bonds as their neighbours' radius 1: RDKit keeps one), 22;
    the six CH2 atoms at radius 0 count 6 in one column: counts, not bits, as log(1 + count)."""
    from rdkit import Chem
    from rdkit.Chem import rdFingerprintGenerator

    from models.ccs_structure import (
        COUNT_RADIUS,
        DESCRIPTORS,
        ELEMENTS,
        molecule_columns,
    )

    counts = np.expm1(
        molecule_columns("CCCCCCCC", CcsConfig(descriptors=(), count_bits=64, pair_bits=0))
    )
    assert len(counts) == 64 and counts.sum() == pytest.approx(8 * (COUNT_RADIUS + 1) - 2)
    assert counts.max() == pytest.approx(6)
    generator = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=1024)
    item = ions()[5]  # caffeine
    expected = generator.GetCountFingerprintAsNumPy(Chem.MolFromSmiles(item.smiles))
    feats = featurize([item], CcsConfig(count_bits=1024, pair_bits=0))
    start = len(ELEMENTS)
    middle = feats.structure[0, start : start + 1024].numpy()
    assert middle == pytest.approx(np.log1p(expected.astype(np.float32)))
    assert feats.structure.shape[1] == start + 1024 + len(DESCRIPTORS)


def test_the_atom_pairs_are_counted_after_the_morgan_counts_and_before_descriptors():
    """Octane by hand: eight carbons make 28 pairs, one column per (type, type, distance): the
    two CH3 at distance 7 once; CH3 to CH2 at distances 1-6 twice each (one per end); the six
    CH2 among themselves 5, 4, 3, 2, 1 times at distances 1-5. Caffeine's columns are RDKit's
    own atom-pair count fingerprint, between the Morgan counts and the descriptors."""
    from rdkit import Chem
    from rdkit.Chem import rdFingerprintGenerator

    from models.ccs_structure import DESCRIPTORS, ELEMENTS, molecule_columns

    pairs = np.expm1(
        molecule_columns("CCCCCCCC", CcsConfig(descriptors=(), count_bits=0, pair_bits=256))
    )
    assert len(pairs) == 256 and pairs.sum() == pytest.approx(28)
    assert sorted(np.round(pairs[pairs > 0]).tolist()) == [1, 1, 2, 2, 2, 2, 2, 2, 2, 3, 4, 5]
    assert molecule_columns("CCCCCCCC", CcsConfig(descriptors=(), count_bits=64, pair_bits=256))[
        64:
    ].tolist() == pytest.approx(np.log1p(pairs).tolist())
    generator = rdFingerprintGenerator.GetAtomPairGenerator(fpSize=512)
    item = ions()[5]  # caffeine
    expected = generator.GetCountFingerprintAsNumPy(Chem.MolFromSmiles(item.smiles))
    feats = featurize([item], CcsConfig(count_bits=1024, pair_bits=512))
    start = len(ELEMENTS) + 1024
    middle = feats.structure[0, start : start + 512].numpy()
    assert middle == pytest.approx(np.log1p(expected.astype(np.float32)))
    assert feats.structure.shape[1] == start + 512 + len(DESCRIPTORS)


def test_descriptors_need_a_readable_structure_and_a_predictor_without_them_needs_none():
    item = ions()[5]
    with pytest.raises(CcsInputError, match="RDKit cannot read the structure 'C1CC'$"):
        featurize([replace(item, smiles="C1CC")], CcsConfig())
    with pytest.raises(CcsInputError, match="^no SMILES: the predictor reads the structure"):
        featurize([replace(item, smiles=None)], CcsConfig())
    with pytest.raises(CcsInputError, match="^no SMILES"):
        featurize([replace(item, smiles=None)], CcsConfig(descriptors=()))  # the counts read it
    with pytest.raises(CcsInputError, match="^no SMILES"):
        featurize([replace(item, smiles=None)], CcsConfig(descriptors=(), count_bits=0))  # pairs
    bare = featurize(
        [replace(item, smiles=None)], CcsConfig(descriptors=(), count_bits=0, pair_bits=0)
    )
    assert bare.structure.shape == (1, 11)  # element counts alone
    stored = CcsConfig(descriptors=(), count_bits=0, pair_bits=0, stored_fingerprint=True)
    with_bits = featurize([replace(item, smiles=None)], stored).structure
    assert with_bits.shape == (1, 2048 + 11)
    assert with_bits[0, :2048].tolist() == [float(b) for b in item.fingerprint]


def test_one_fingerprint_and_formula_with_two_structures_is_two_rows_when_the_structure_is_read():
    """Descriptors, Morgan counts or atom pairs, each alone, read the structure itself: two
    structures given one fingerprint and formula are two rows; reading none of them, one."""
    item = ions()[6]  # ibuprofen; the same bits and formula given for a branched isomer
    isomer = replace(item, smiles="CCCCc1ccc(C(C)C(=O)O)cc1")
    assert featurize([item, isomer], CcsConfig()).row.tolist() == [0, 1]
    blind = CcsConfig(descriptors=(), count_bits=0, pair_bits=0)
    assert featurize([item, isomer], blind).row.tolist() == [0, 0]
    for reads in ({"descriptors": ("tpsa",)}, {"count_bits": 64}, {"pair_bits": 64}):
        assert featurize([item, isomer], replace(blind, **reads)).row.tolist() == [0, 1], reads


def test_descriptors_are_standardised_by_the_training_structures():
    from models.ccs import CcsPredictor

    model = CcsPredictor(CcsConfig(hidden=8, members=1))
    feats = featurize(ions(), CcsConfig())
    model.fit_standardisation(feats)
    scaled = model.standardised(feats.structure)
    k = len(CcsConfig().descriptors)
    assert torch.equal(scaled[:, :-k], feats.structure[:, :-k])  # bits and counts untouched
    assert scaled[:, -k:].mean(0).abs().max() < 1e-5
    spread = feats.structure[:, -k:].std(0)
    assert scaled[:, -k:].std(0).numpy() == pytest.approx((spread / (spread + 1e-6)).numpy())


def test_a_predictor_saved_before_descriptors_reads_none_and_still_loads(tmp_path):
    from dataclasses import asdict

    from models.ccs import CcsPredictor

    bare = CcsConfig(hidden=8, members=1, descriptors=(), count_bits=0, pair_bits=0)
    old = CcsPredictor(replace(bare, stored_fingerprint=True))
    assert not any("descriptor" in name for name in old.state_dict())
    saved = asdict(old.config)
    for added in ("descriptors", "count_bits", "pair_bits", "stored_fingerprint"):
        del saved[added]  # what an older molvis wrote
    assert CcsConfig.from_dict(saved) == old.config  # none read, the stored bits read
    counts_era = asdict(CcsConfig(count_bits=1024))  # as the predictor before atom pairs wrote it
    del counts_era["pair_bits"], counts_era["stored_fingerprint"]
    read = CcsConfig.from_dict(counts_era)
    assert (read.count_bits, read.pair_bits, read.stored_fingerprint) == (1024, 0, True)
    torch.save(
        {"kind": "ccs-predictor", "config": saved, "state_dict": old.state_dict(), "metrics": {}},
        tmp_path / "old.pt",
    )
    loaded, _ = load_predictor(tmp_path / "old.pt")
    bare = featurize([replace(ions()[0], smiles=None)], loaded.config)
    assert loaded.predict(bare) == pytest.approx(old.eval().predict(bare))


def test_rows_featurised_one_at_a_time_predict_as_one_batch_does():
    """`molvis ccs predict` reads each row once and predicts the rows together: the same
    values as featurising the whole list (structures shared) at once."""
    from models.ccs import CcsPredictor
    from molvis.workflows.ccs_file import one_batch

    items = [x for pair in zip(ions(), ions("[M+Na]+"), strict=True) for x in pair]
    torch.manual_seed(0)
    model = CcsPredictor(CcsConfig()).eval()
    batch = model.predict_with_uncertainty(featurize(items, CcsConfig()))
    joined = model.predict_with_uncertainty(one_batch([featurize([i], CcsConfig()) for i in items]))
    assert len(set(batch[0].tolist())) == len(items)  # every ion its own value
    assert joined[0] == pytest.approx(batch[0], rel=1e-5)
    assert joined[1] == pytest.approx(batch[1], rel=1e-4, abs=1e-5)
