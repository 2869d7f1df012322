"""The MS/MS forward model: its ion descriptions, its training targets and loss, that training
lowers the loss, its predicted spectrum's shape, and its checkpoint (hyperparameters + weights,
read weights-only)."""

from dataclasses import replace

import numpy as np
import pytest
import torch
from rdkit import Chem

from models.fragment_features import (
    ATOM_TYPES,
    FEATURES,
    ION_FEATURES,
    PIECE_FEATURES,
    SCALE,
    atom_environments,
    atom_type,
    collision_energy,
    ion_columns,
    piece_features,
)
from models.fragment_model import (
    FragmentConfig,
    SpectrumExample,
    examples,
    load_model,
    predict_spectrum,
    save_model,
    spectrum_loss,
    train_model,
)
from registry.chem.explain import candidate_ions
from registry.chem.fragmenter import FragmentIons, fragments
from tests.conftest import REPO

CAFFEINE = "CN1C=NC2=C1C(=O)N(C(=O)N2C)C"
PRECURSOR = 195.087652
PEAKS = (np.array([110.0713, 138.0662, 150.5, PRECURSOR]), np.array([25.0, 100.0, 30.0, 40.0]))


def test_collision_energy_reads_the_first_number():
    assert collision_energy("35 eV") == 35.0
    assert collision_energy("10(NCE)") == 10.0
    assert collision_energy("30% (nominal)") == 30.0
    assert collision_energy(20) == 20.0
    assert collision_energy(None) is None and collision_energy("ramp") is None
    assert collision_energy(float("nan")) is None


def test_atom_environments_are_stable_and_tell_atoms_apart():
    ethanol = Chem.MolFromSmiles("CCO")
    first, again = atom_environments(ethanol), atom_environments(Chem.MolFromSmiles("OCC"))
    assert sorted(first) == sorted(again)  # the same atoms, whatever the SMILES order
    assert len(set(first)) == 3  # CH3 next to C, CH2 between C and O, OH
    ethane = atom_environments(Chem.MolFromSmiles("CC"))  # radius 1: a methyl on a carbon
    assert ethane[0] == ethane[1] == first[0]
    assert atom_environments(Chem.MolFromSmiles("CO"))[0] not in set(first)


def _piece(smiles: str, atoms: set[int]):
    mol = Chem.MolFromSmiles(smiles)
    pieces = fragments(mol, 1)
    index = next(i for i, p in enumerate(pieces) if set(p.indices(mol)) == atoms)
    return mol, pieces, index


def test_a_piece_is_described_by_what_it_keeps_what_it_loses_and_the_bond_cut():
    mol, pieces, i = _piece("CCO", {0, 1})  # ethanol's C-C piece: the C-O bond cut
    rows = piece_features(mol, pieces)
    assert rows.shape == (len(pieces), len(PIECE_FEATURES))
    row = dict(zip(PIECE_FEATURES, rows[i], strict=True))
    whole = dict(zip(PIECE_FEATURES, rows[0], strict=True))
    assert row["cut C-O"] == 1 and row["cut O-C"] == 0 and row["cut bonds"] == 1
    assert row["O lost"] == pytest.approx(1 / SCALE) and row["C lost"] == 0
    assert row["atoms lost"] == pytest.approx(1 / SCALE)
    assert row["atom share"] == pytest.approx(2 / 3) and row["O share"] == 0
    assert row["cut single"] == 1 and row["cut to heteroatom"] == 1
    assert row["mass lost"] == pytest.approx(whole["mass"] - row["mass"])
    environments = [k for k in PIECE_FEATURES if k.startswith("environment ") and "lost" not in k]
    lost = [k for k in PIECE_FEATURES if k.startswith("environment lost")]
    assert sum(row[k] for k in environments) == pytest.approx(2 / SCALE)
    assert sum(row[k] for k in lost) == pytest.approx(1 / SCALE)
    assert sum(whole[k] for k in environments) == pytest.approx(3 / SCALE)
    assert sum(whole[k] for k in lost) == 0 and whole["cut bonds"] == 0
    inside = [k for k in PIECE_FEATURES if k.startswith("cut site ") and "outside" not in k]
    outside = [k for k in PIECE_FEATURES if k.startswith("cut site outside")]
    assert sum(row[k] for k in inside) == 1 and sum(row[k] for k in outside) == 1
    _, _, o = _piece("CCO", {2})
    assert dict(zip(PIECE_FEATURES, rows[o], strict=True))["cut O-C"] == 1


def test_atom_types_tell_aromatic_carbon_and_the_heteroatoms_apart():
    mol = Chem.MolFromSmiles("c1ccccc1CNOSCl")
    kinds = [ATOM_TYPES[atom_type(a)] for a in mol.GetAtoms()]
    assert kinds == ["c"] * 6 + ["C", "N", "O", "S", "other"]


def test_a_ring_piece_is_described_by_its_ring_atoms_and_the_bond_to_its_substituent():
    mol, pieces, i = _piece("c1ccccc1C(=O)O", set(range(6)))  # phenyl of benzoic acid
    row = dict(zip(PIECE_FEATURES, piece_features(mol, pieces)[i], strict=True))
    assert row["aromatic share"] == 1 and row["ring share"] == 1 and row["C share"] == 1
    assert row["cut c-C"] == 1 and row["cut C-c"] == 0 and row["cut single"] == 1
    assert row["cut aromatic"] == 0 and row["cut in ring"] == 0 and row["cut to heteroatom"] == 0
    assert row["O lost"] == pytest.approx(2 / SCALE) and row["C lost"] == pytest.approx(1 / SCALE)
    assert row["steps"] == 1 and row["atom share"] == pytest.approx(6 / 9)


def test_a_piece_whose_cut_bond_ends_inside_it_is_read_from_its_own_side():
    """2-chloroethenamine, N-C=C-Cl: the piece C=C-Cl holds the second atom of the N-C bond
    (RDKit's bond runs N -> C), the piece C-Cl the second atom of the C=C bond."""
    mol, pieces, i = _piece("NC=CCl", {1, 2, 3})
    rows = piece_features(mol, pieces)
    row = dict(zip(PIECE_FEATURES, rows[i], strict=True))
    assert row["cut C-N"] == 1 and row["cut N-C"] == 0 and row["cut single"] == 1
    assert row["N lost"] == pytest.approx(1 / SCALE) and row["halogen share"] == pytest.approx(
        1 / 3
    )
    environment = atom_environments(mol)
    site = [k for k in PIECE_FEATURES if k.startswith("cut site ") and "outside" not in k]
    outside = [k for k in PIECE_FEATURES if k.startswith("cut site outside")]
    assert row[site[environment[1] % len(site)]] == 1  # the inside atom: C1
    assert row[outside[environment[0] % len(outside)]] == 1  # the outside atom: N0
    _, _, j = _piece("NC=CCl", {2, 3})
    double = dict(zip(PIECE_FEATURES, rows[j], strict=True))
    assert double["cut double"] == 1 and double["cut single"] == 0 and double["cut C-C"] == 1


def test_an_ion_s_own_columns_are_its_shift_m_z_share_adduct_and_energy():
    ions = FragmentIons(np.array([50.0, 100.0]), np.zeros(2), np.zeros(2, int), np.array([-2, 1]))
    rows = [dict(zip(ION_FEATURES, r, strict=True)) for r in ion_columns(ions, "[M-H]-", 35.0)]
    assert rows[0]["shift -2"] == 1 and sum(v for k, v in rows[0].items() if "shift" in k) == 1
    assert rows[1]["shift +1"] == 1 and rows[1]["shift -1"] == 0
    assert rows[0]["ion m/z share"] == 0.5 and rows[1]["ion m/z share"] == 1
    assert rows[0]["[M-H]-"] == 1 and rows[0]["[M+H]+"] == 0 and rows[0]["other adduct"] == 0
    assert (
        rows[0]["collision energy"] == pytest.approx(0.35) and rows[0]["no collision energy"] == 0
    )
    other = dict(zip(ION_FEATURES, ion_columns(ions, "[M+K]+", None)[0], strict=True))
    assert other["other adduct"] == 1 and other["[M+H]+"] == other["[M+Na]+"] == 0
    assert other["collision energy"] == 0 and other["no collision energy"] == 1
    high = dict(zip(ION_FEATURES, ion_columns(ions, "[M+Na]+", 350.0)[0], strict=True))
    assert high["collision energy"] == 2.0 and high["[M+Na]+"] == 1  # capped at 200 eV


def test_an_example_holds_the_explained_peaks_as_shares_and_their_ions():
    example = examples(CAFFEINE, "[M+H]+", "35 eV", *PEAKS, PRECURSOR, 2)
    _, _, ions = candidate_ions(CAFFEINE, "[M+H]+", 2)
    assert example.features().shape == (len(ions.mz), len(FEATURES))
    assert len(example.share) == 2  # 150.5 explains nothing; the precursor is no fragment
    assert example.share == pytest.approx([25 / 125, 100 / 125])
    for peak, mz in enumerate((110.0713, 138.0662)):
        explaining = example.pair_ion[example.pair_peak == peak]
        assert len(explaining) and np.all(np.abs(ions.mz[explaining] - mz) < 0.005)
    explained = set(example.pair_ion.tolist())
    rest = [i for i in range(len(ions.mz)) if i not in explained]
    assert not np.any(np.abs(ions.mz[rest] - 150.5) < 0.005)
    assert (
        examples(CAFFEINE, "[M+H]+", None, np.array([150.5]), np.array([1.0]), PRECURSOR, 1) is None
    )


def _example(ions: int, pairs: list[tuple[int, int]], share: list[float]) -> SpectrumExample:
    return SpectrumExample(
        np.zeros((1, 0), np.float16),
        np.zeros(ions, np.int64),
        np.zeros((ions, 0), np.float16),
        np.array([p[0] for p in pairs]),
        np.array([p[1] for p in pairs]),
        np.array(share, np.float32),
    )


def test_the_loss_is_the_cross_entropy_of_measured_and_predicted_peak_shares():
    both = _example(2, [(0, 0), (1, 0)], [1.0])  # both ions explain the one peak
    one = _example(2, [(0, 0)], [1.0])
    split = _example(3, [(0, 0), (2, 1)], [0.25, 0.75])
    zeros = torch.zeros(2)
    assert spectrum_loss(zeros, [both]).item() == pytest.approx(0, abs=1e-6)
    assert spectrum_loss(zeros, [one]).item() == pytest.approx(np.log(2), abs=1e-6)
    logits = torch.tensor([0.0, 1.0, 2.0])
    p = torch.softmax(logits, 0).numpy()
    expected = -(0.25 * np.log(p[0]) + 0.75 * np.log(p[2]))
    assert spectrum_loss(logits, [split]).item() == pytest.approx(expected, rel=1e-5)
    batch = torch.cat([zeros, logits])  # a batch: each spectrum's own softmax, the mean loss
    mean = (np.log(2) + expected) / 2
    assert spectrum_loss(batch, [one, split]).item() == pytest.approx(mean, rel=1e-5)


def test_the_loss_stays_finite_for_logits_far_from_zero():
    """Each spectrum's logits are shifted by their largest before the softmax (1,000 and 1,001
    would overflow), and a peak whose ions get no probability costs -log(1e-8), not infinity."""
    split = _example(3, [(0, 0), (2, 1)], [0.25, 0.75])
    logits = torch.tensor([1000.0, 1001.0, 1002.0])
    p = torch.softmax(logits - 1000, 0).numpy()
    expected = -(0.25 * np.log(p[0]) + 0.75 * np.log(p[2]))
    assert spectrum_loss(logits, [split]).item() == pytest.approx(expected, rel=1e-5)
    starved = spectrum_loss(torch.tensor([-1000.0, 0.0, 0.0]), [split]).item()
    assert np.isfinite(starved) and starved == pytest.approx(
        -(0.25 * np.log(1e-8) + 0.75 * np.log(0.5)), rel=1e-4
    )


def test_each_epoch_s_loss_is_the_mean_over_its_spectra_and_progress_hears_it():
    """With a learning rate of 0 the weights stay put, so every epoch's loss is the mean of the
    spectra's own losses under the first weights, whatever the batches; progress gets (epoch,
    that loss) after each epoch; the same seed trains the same weights."""
    data = [
        examples(CAFFEINE, "[M+H]+", "35 eV", *PEAKS, PRECURSOR, 1),
        examples(CAFFEINE, "[M+H]+", "10 eV", np.array([110.0713]), np.array([1.0]), PRECURSOR, 1),
        examples(CAFFEINE, "[M+H]+", None, np.array([138.0662]), np.array([1.0]), PRECURSOR, 1),
    ]
    config = FragmentConfig(hidden=8, layers=1, epochs=2, batch_size=2, lr=0.0, device="cpu")
    heard = []
    model, history = train_model(data, config, lambda epoch, loss: heard.append((epoch, loss)))
    with torch.no_grad():
        each = [spectrum_loss(model(torch.from_numpy(e.features())), [e]).item() for e in data]
    assert history == pytest.approx([np.mean(each)] * 2, rel=1e-5)
    assert heard == [(1, history[0]), (2, history[1])]
    _, alone = train_model(data[:1], replace(config, batch_size=2))
    assert alone == pytest.approx([each[0]] * 2, rel=1e-5)
    learning = replace(config, lr=1e-2, batch_size=1, epochs=3)
    first, second = train_model(data, learning)[0], train_model(data, learning)[0]
    for a, b in zip(first.parameters(), second.parameters(), strict=True):
        assert torch.equal(a, b)


def test_the_loss_follows_its_logits_device():
    """Every tensor the loss makes lives where the logits do (a GPU's training): on PyTorch's
    meta device a tensor made on the CPU would raise."""
    split = _example(3, [(0, 0), (2, 1)], [0.25, 0.75])
    loss = spectrum_loss(torch.tensor([0.0, 1.0, 2.0], device="meta"), [split])
    assert loss.device.type == "meta" and loss.shape == ()


def test_settings_come_from_a_file_with_the_rest_at_their_defaults(tmp_path):
    gpu = FragmentConfig.from_file(REPO / "models" / "configs" / "fragments-gpu.yaml")
    assert (gpu.hidden, gpu.device, gpu.max_spectra) == (512, "cuda", None)
    assert gpu.top_peaks == FragmentConfig().top_peaks and gpu.depth == FragmentConfig().depth
    (tmp_path / "small.json").write_text('{"hidden": 8, "epochs": 1, "lr": 1e-3}')
    small = FragmentConfig.from_file(tmp_path / "small.json")
    assert (small.hidden, small.epochs, small.device, small.lr) == (8, 1, "auto", 1e-3)
    (tmp_path / "bad.yaml").write_text("hidden: 8\ncolour: red\n")
    with pytest.raises(ValueError, match="^unknown forward-model settings: colour$"):
        FragmentConfig.from_file(tmp_path / "bad.yaml")
    (tmp_path / "list.yaml").write_text("- 8\n")
    with pytest.raises(ValueError, match="not a mapping of forward-model settings"):
        FragmentConfig.from_file(tmp_path / "list.yaml")


def test_training_on_the_cpu_by_name_gives_a_model_on_the_cpu():
    example = examples(CAFFEINE, "[M+H]+", "35 eV", *PEAKS, PRECURSOR, 2)
    config = FragmentConfig(hidden=8, layers=1, epochs=2, batch_size=1, device="cpu")
    model, history = train_model([example], config)
    assert len(history) == 2 and next(model.parameters()).device.type == "cpu"
    with pytest.raises(RuntimeError):  # a device that is not there is not silently the CPU
        train_model([example], FragmentConfig(hidden=8, layers=1, epochs=1, device="nodevice"))


def _tiny_model(epochs: int = 60):
    example = examples(CAFFEINE, "[M+H]+", "35 eV", *PEAKS, PRECURSOR, 2)
    config = FragmentConfig(hidden=16, layers=2, epochs=epochs, batch_size=1, top_peaks=5, lr=1e-2)
    return train_model([example], config)


def test_training_lowers_the_loss_and_the_prediction_finds_the_peak_it_learned():
    model, history = _tiny_model()
    assert history[-1] < history[0] / 2
    mz, intensity, formulas = predict_spectrum(model, CAFFEINE, "[M+H]+", "35 eV")
    assert 0 < len(mz) <= 5 and len(formulas) == len(mz) and np.all(np.diff(mz) > 0)
    assert intensity.max() == pytest.approx(1.0)
    base = int(np.argmax(intensity))
    assert abs(mz[base] - 138.0662) < 0.005 and formulas[base] == "C6H8N3O+"


def test_ions_within_a_millidalton_are_one_peak_with_their_summed_share():
    model, _ = _tiny_model(3)
    mol, pieces, ions = candidate_ions(CAFFEINE, "[M+H]+", 2)
    rows = np.concatenate(
        [piece_features(mol, pieces)[ions.fragment], ion_columns(ions, "[M+H]+", 35.0)], axis=1
    )
    logits = model(torch.from_numpy(rows))
    share = torch.softmax(logits, 0).detach().numpy()
    model.config.top_peaks = 10_000
    mz, intensity, _ = predict_spectrum(model, CAFFEINE, "[M+H]+", "35 eV")
    keys = np.round(ions.mz, 3)
    assert len(mz) == len(np.unique(keys))
    summed = np.array([share[keys == k].sum() for k in np.unique(keys)])
    assert intensity == pytest.approx(summed / summed.max(), rel=1e-4)
    strongest = [ions.mz[keys == k][np.argmax(share[keys == k])] for k in np.unique(keys)]
    assert mz == pytest.approx(strongest)


def test_the_checkpoint_round_trips_weights_only_and_refuses_a_pickle(tmp_path):
    model, _ = _tiny_model(3)
    path = tmp_path / "forward.pt"
    version = save_model(model, {"note": "tiny"}, path)
    loaded, saved = load_model(path)
    assert saved["version"] == version and saved["metrics"] == {"note": "tiny"}
    assert loaded.config == model.config
    before = predict_spectrum(model, CAFFEINE, "[M+H]+")
    after = predict_spectrum(loaded, CAFFEINE, "[M+H]+")
    assert np.array_equal(before[0], after[0]) and np.allclose(before[1], after[1])
    evil = tmp_path / "evil.pt"
    torch.save({"kind": "fragment-model", "payload": FragmentIons}, evil)  # a class: code
    with pytest.raises(ValueError, match="not a molvis forward model"):
        load_model(evil)
    torch.save({"kind": "ccs-predictor", "config": {}, "state_dict": {}}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not a molvis forward model"):
        load_model(tmp_path / "other.pt")
    old = {"kind": "fragment-model", "config": {}, "state_dict": {}}  # version 1: ions alone
    torch.save(old, tmp_path / "old.pt")
    with pytest.raises(ValueError, match="not a molvis forward model .of this molvis version"):
        load_model(tmp_path / "old.pt")
