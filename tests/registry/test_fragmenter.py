"""The combinatorial fragmenter and the peak explanation: hand-checked fragments of caffeine,
hydrogen-shift parity, the adduct's charge carrier, and peaks no fragment explains."""

import numpy as np
import pytest
from rdkit import Chem

from registry.chem.adducts import ELECTRON, ELEMENTS, PROTON, adduct_atoms
from registry.chem.explain import explain, fragment_peaks, ion_formula
from registry.chem.fragmenter import (
    BOND_PENALTY,
    fragment_adduct,
    fragment_ions,
    fragments,
    hill_formula,
    shifts,
)

CAFFEINE = "CN1C=NC2=C1C(=O)N(C(=O)N2C)C"
CAFFEINE_MH = 195.087652
H = ELEMENTS["H"]


def test_caffeine_138_is_the_loss_of_methyl_isocyanate():
    """[M+H]+ 195.088 -> 138.066 (C6H8N3O+, ring opened: two cut bonds, no hydrogen moved) and
    110.071 (C5H8N3+), both explained by the cheapest fitting fragment; 123.4567 by none."""
    found = explain(
        CAFFEINE,
        "[M+H]+",
        np.array([110.0713, 138.0662, 123.4567, CAFFEINE_MH]),
        np.array([10.0, 100.0, 30.0, 50.0]),
        CAFFEINE_MH,
    )
    assert found.peaks == 3  # the precursor's own peak is not a fragment peak
    by_mz = {round(a.mz, 4): a for a in found.annotations}
    assert set(by_mz) == {110.0713, 138.0662}
    assert by_mz[138.0662].formula == "C6H8N3O+" and by_mz[138.0662].shift == 0
    assert by_mz[138.0662].cost == 2 * BOND_PENALTY
    assert abs(by_mz[138.0662].ppm_error) < 1
    assert by_mz[110.0713].formula == "C5H8N3+"
    assert found.explained_intensity == pytest.approx(110 / 140)
    assert 0 < found.score < 1


def test_a_peak_no_fragment_explains_stays_unexplained():
    found = explain(CAFFEINE, "[M+H]+", np.array([77.777]), np.array([1.0]), CAFFEINE_MH)
    assert (found.peaks, found.explained_peaks, found.explained_intensity, found.score) == (
        1,
        0,
        0.0,
        0.0,
    )


def test_hydrogen_shifts_keep_even_electron_parity():
    assert list(shifts(0)) == [0]
    assert list(shifts(1)) == [-1, 1]
    assert list(shifts(2)) == [-2, 0, 2]
    assert list(shifts(3)) == [-1, 1]
    assert list(shifts(4)) == [-2, 0, 2]


def test_ion_masses_add_the_proton_not_a_hydrogen_atom():
    """Ethanol [M+H]+: the CH3 piece (one cut bond) at 12 + 3 H +/- 1 H + a proton; the whole
    molecule gives no fragment ion; [M-H]- removes a proton; [M+Na]+ keeps the sodium."""
    mol = Chem.MolFromSmiles("CCO")
    pieces = fragments(mol, 1)
    assert len(pieces) == 5  # the molecule; the C-C bond: CH3, CH2OH; the C-O bond: C2H5, OH
    methyl = next(f for f in pieces if f.atoms == 0b001)
    assert methyl.cut_bonds == 1 and methyl.mass == pytest.approx(12 + 3 * H)
    positive = fragment_ions(pieces, "[M+H]+")
    expected = sorted(12 + 3 * H + s * H + PROTON for s in (-1, 1))
    index = pieces.index(methyl)
    assert [m for m, f in zip(positive.mz, positive.fragment, strict=True) if f == index] == (
        pytest.approx(expected)
    )
    negative = fragment_ions(pieces, "[M-H]-")
    assert min(negative.mz) == pytest.approx(12 + 2 * H - PROTON)  # CH3, one H lost, deprotonated
    sodium = fragment_ions(pieces, "[M+Na]+")
    assert min(sodium.mz) == pytest.approx(12 + 2 * H + ELEMENTS["Na"] - ELECTRON)
    assert all(f.cut_bonds for f in pieces[1:]) and pieces[0].cut_bonds == 0
    assert len(positive.mz) == 2 * 4  # four pieces of one cut, two shifts each


def test_rings_open_as_bond_pairs_and_depth_widens_the_pieces():
    """Benzene has no single bond whose loss splits it: pieces come from pairs of ring bonds
    (two cut bonds each); depth 2 finds pieces depth 1 does not."""
    benzene = Chem.MolFromSmiles("c1ccccc1")
    one = fragments(benzene, 1)
    assert all(f.cut_bonds == 2 for f in one[1:])
    assert {bin(f.atoms).count("1") for f in one[1:]} == {1, 2, 3, 4, 5}
    assert len(fragments(Chem.MolFromSmiles(CAFFEINE), 2)) > len(
        fragments(Chem.MolFromSmiles(CAFFEINE), 1)
    )


def test_a_dimer_or_doubly_charged_precursor_gives_singly_charged_fragments():
    assert fragment_adduct("[2M+H]+").name == "[M+H]+"
    assert fragment_adduct("[M+2H]2+").name == "[M+H]+"
    assert fragment_adduct("[2M-H]-").name == "[M-H]-"
    assert fragment_adduct("[M+Na]+").name == "[M+Na]+"


def test_formulas_in_hill_order_with_the_carrier():
    assert hill_formula({"C": 6, "H": 7, "N": 3, "O": 1}) == "C6H7N3O"
    assert hill_formula({"O": 1, "H": 2}) == "H2O"
    assert adduct_atoms("[M+FA-H]-") == {"C": 1, "H": 1, "O": 2}
    assert ion_formula({"C": 6, "H": 7, "N": 3, "O": 1}, -1, "[M-H]-") == "C6H5N3O-"
    assert ion_formula({"C": 2, "H": 5}, 1, "[M+Na]+") == "C2H6Na+"


def test_the_fragment_peaks_are_below_the_precursor_above_noise_and_sum_to_one():
    mz = np.array([50.0, 60.0, 70.0, 199.8, 200.0])
    intensity = np.array([100.0, 0.5, 50.0, 80.0, 90.0])
    peaks, share = fragment_peaks(mz, intensity, 200.0)
    assert peaks.tolist() == [50.0, 70.0] and share.sum() == pytest.approx(1.0)
    assert share.tolist() == pytest.approx([100 / 150, 50 / 150])
