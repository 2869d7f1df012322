"""The combinatorial fragmenter and the peak explanation: hand-checked fragments of caffeine,
hydrogen-shift parity, the adduct's charge carrier, and peaks no fragment explains."""

import numpy as np
import pytest
from rdkit import Chem
from rdkit.Chem import Descriptors

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


def _pieces_by_brute_force(mol: Chem.Mol, depth: int) -> dict[int, int]:
    """Each piece (atom bits) and the fewest steps that cut it out: every single bond and every
    pair of bonds of one ring tried on each piece, its parts found by union-find."""
    bonds = [(b.GetBeginAtomIdx(), b.GetEndAtomIdx()) for b in mol.GetBonds()]
    rings = [set(r) for r in mol.GetRingInfo().BondRings()]

    def parts(piece: int, removed: set[int]) -> list[int]:
        root = {a: a for a in range(mol.GetNumAtoms()) if piece >> a & 1}

        def find(a):
            while root[a] != a:
                a = root[a]
            return a

        for n, (a, b) in enumerate(bonds):
            if n not in removed and a in root and b in root:
                root[find(a)] = find(b)
        groups: dict[int, int] = {}
        for a in root:
            groups[find(a)] = groups.get(find(a), 0) | 1 << a
        return list(groups.values())

    whole = (1 << mol.GetNumAtoms()) - 1
    steps, frontier = {whole: 0}, [whole]
    for step in range(1, depth + 1):
        found = []
        for piece in frontier:
            inside = {n for n, (a, b) in enumerate(bonds) if piece >> a & piece >> b & 1}
            cuts = [{n} for n in inside]
            cuts += [{x, y} for r in rings if r <= inside for x in r for y in r if x < y]
            for cut in cuts:
                split = parts(piece, cut)
                for part in split if len(split) > 1 else []:
                    if part not in steps:
                        steps[part] = step
                        found.append(part)
        frontier = found
    return steps


@pytest.mark.parametrize(
    "smiles",
    [
        "c1ccc2ccccc2c1CC(=O)O",  # fused rings: a pair of one ring the other ring bridges
        "C1CC2(CC1)CCOC2",  # spiro
        "OC1C2CCC1CC2",  # bridged
        "C12C3C4C1C5C2C3C45",  # cubane: every ring bridged by the others
        "C1CCCCCCCCCC1N",  # a large ring
        CAFFEINE,
    ],
)
def test_pieces_are_those_single_bonds_and_ring_bond_pairs_cut_out(smiles):
    """Ring pairs are found from what each ring atom reaches without the ring: the same
    pieces and steps as cutting every pair and looking, two and three steps deep."""
    mol = Chem.MolFromSmiles(smiles)
    for depth in (2, 3):
        found = {f.atoms: f.steps for f in fragments(mol, depth)}
        assert found == _pieces_by_brute_force(mol, depth)


def test_a_structure_of_more_than_64_atoms_is_cut_as_a_small_one():
    """Pieces are rows of 64-atom words: rings on both sides of atom 64 (a naphthalene, a
    cyclobutanol 56 carbons away), the same pieces, steps, masses and cut bonds as by hand."""
    mol = Chem.MolFromSmiles("c1ccc2ccccc2c1" + "C" * 56 + "C1CC(O)C1")
    assert mol.GetNumAtoms() == 71
    found = fragments(mol, 2)
    assert {f.atoms: f.steps for f in found} == _pieces_by_brute_force(mol, 2)
    bonds = [(b.GetBeginAtomIdx(), b.GetEndAtomIdx()) for b in mol.GetBonds()]
    for f in found[:: max(1, len(found) // 50)]:
        assert f.mass == pytest.approx(Descriptors.ExactMolWt(_piece(mol, f.indices(mol))))
        assert f.cut_bonds == sum((f.atoms >> a & 1) != (f.atoms >> b & 1) for a, b in bonds)


def test_a_structure_without_atoms_is_its_only_piece():
    """RDKit reads an empty SMILES as a molecule of no atoms: nothing to cut, no ion."""
    (whole,) = fragments(Chem.MolFromSmiles(""), 2)
    assert (whole.atoms, whole.mass, whole.cut_bonds, whole.steps) == (0, 0.0, 0, 0)
    assert len(fragment_ions(fragments(Chem.MolFromSmiles(""), 2), "[M+H]+").mz) == 0


def test_pieces_own_their_rows_not_the_cutting_s_buffers():
    """The cutting fills buffers of MAX_PIECES rows; a structure's pieces keep their own rows
    only (a view would keep 320 kB a structure alive in the fragment cache)."""
    pieces = fragments(Chem.MolFromSmiles(CAFFEINE), 2)
    for column in (pieces.words, pieces.steps, pieces.inside, pieces.mass, pieces.cut_bonds):
        assert column.base is None or column.base.nbytes == column.nbytes
        assert len(column) == len(pieces)


def _piece(mol: Chem.Mol, atoms: list[int]) -> Chem.Mol:
    """The piece of `mol` on `atoms` with the hydrogens its atoms carry in the molecule."""
    piece = Chem.RWMol(mol)
    for atom in piece.GetAtoms():
        atom.SetNumExplicitHs(atom.GetTotalNumHs())
        atom.SetNoImplicit(True)
    for i in sorted(set(range(mol.GetNumAtoms())) - set(atoms), reverse=True):
        piece.RemoveAtom(i)
    return piece.GetMol()


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


def test_each_ion_keeps_its_shift_and_cost():
    """The ion one hydrogen lighter is the one with shift -1; cost = 3.5 per cut bond + |shift|."""
    pieces = fragments(Chem.MolFromSmiles("CCO"), 1)
    ions = fragment_ions(pieces, "[M+H]+")
    methyl = pieces.index(next(f for f in pieces if f.atoms == 0b001))
    mine = [(m, s, c) for m, f, s, c in zip(ions.mz, ions.fragment, ions.shift, ions.cost,
                                             strict=True) if f == methyl]  # fmt: skip
    assert [s for _, s, _ in mine] == [-1, 1] and mine[0][0] < mine[1][0]
    assert mine[0][0] == pytest.approx(12 + 2 * H + PROTON)
    assert [c for *_, c in mine] == [BOND_PENALTY + 1] * 2
    assert np.all(np.diff(ions.mz) >= 0)
    benzene = fragments(Chem.MolFromSmiles("c1ccccc1"), 1)
    ring = fragment_ions(benzene, "[M+H]+")
    assert set(ring.cost.tolist()) == {2 * BOND_PENALTY, 2 * BOND_PENALTY + 2}
    assert len(fragment_ions(fragments(Chem.MolFromSmiles("C"), 2), "[M+H]+").mz) == 0


def test_pieces_record_the_steps_that_first_cut_them_out():
    """Propanol C-C-C-O: one step cuts C | CCO, CC | CO, CCC | O; two steps add the middle
    carbons C and CC(O)-less pieces; the molecule itself is step 0."""
    pieces = {f.atoms: f.steps for f in fragments(Chem.MolFromSmiles("CCCO"), 2)}
    assert pieces[0b1111] == 0
    assert {a for a, s in pieces.items() if s == 1} == {
        0b0001,
        0b1110,
        0b0011,
        0b1100,
        0b0111,
        0b1000,
    }
    assert {a for a, s in pieces.items() if s == 2} == {0b0010, 0b0100, 0b0110}
    assert len(fragments(Chem.MolFromSmiles(CAFFEINE), 2)) == 231  # a regression pin


def test_large_structures_are_cut_one_step_deep_and_the_pieces_capped(monkeypatch):
    from registry.chem import fragmenter

    chain = Chem.MolFromSmiles("C" * 12)
    monkeypatch.setattr(fragmenter, "MAX_ATOMS", 12)
    assert max(f.steps for f in fragments(chain, 3)) == 2  # 12 atoms: not above the limit
    monkeypatch.setattr(fragmenter, "MAX_ATOMS", 11)
    assert max(f.steps for f in fragments(chain, 3)) == 1
    monkeypatch.setattr(fragmenter, "MAX_PIECES", 10)
    assert len(fragments(chain, 3)) == 10


def test_hill_order_puts_carbon_and_hydrogen_first_only_with_carbon():
    assert hill_formula({"C": 2, "H": 5, "Cl": 1}) == "C2H5Cl"
    assert hill_formula({"H": 1, "Cl": 1}) == "ClH"
    assert hill_formula({"N": 1, "H": 3, "B": 1}) == "BH3N"


def test_a_peak_matches_within_10_ppm_or_5_mda_whichever_is_wider():
    """At m/z 138 10 ppm is 1.4 mDa: 4 mDa off still matches (5 mDa), 6 mDa does not; the
    closer of two equally cheap ions is chosen and its error reported in ppm."""
    near = explain(CAFFEINE, "[M+H]+", np.array([138.0702]), np.array([1.0]), CAFFEINE_MH)
    far = explain(CAFFEINE, "[M+H]+", np.array([138.0722]), np.array([1.0]), CAFFEINE_MH)
    assert near.explained_peaks == 1 and far.explained_peaks == 0
    (a,) = near.annotations
    assert a.ppm_error == pytest.approx((138.0702 - a.ion_mz) / a.ion_mz * 1e6)
    assert 28 < a.ppm_error < 30


def test_the_score_is_metfrags_sum_as_a_share_of_one_cut_per_peak():
    """Two peaks, one explained by a ring opening (two cut bonds, cost 7): the score is its
    (m/z)^1.84 x share^0.59 x (4.5 / 7)^0.47 over both peaks' (m/z)^1.84 x share^0.59."""
    mz, intensity = np.array([77.777, 138.0662]), np.array([30.0, 100.0])
    found = explain(CAFFEINE, "[M+H]+", mz, intensity, CAFFEINE_MH)
    share = intensity / intensity.sum()
    weight = mz**1.84 * share**0.59
    assert found.score == pytest.approx(weight[1] * (4.5 / 7) ** 0.47 / weight.sum())
    nothing = explain(CAFFEINE, "[M+H]+", np.array([200.0]), np.array([1.0]), CAFFEINE_MH)
    assert nothing.peaks == 0 and nothing.score == 0.0


def test_fragment_peaks_drop_zero_and_noise_and_keep_the_most_intense(monkeypatch):
    from registry.chem import explain as module

    mz = np.array([50.0, 60.0, 70.0, 80.0, 99.4, 99.6])
    intensity = np.array([0.0, 1.0, 100.0, 50.0, 10.0, 10.0])
    peaks, _ = fragment_peaks(mz, intensity, 100.0)
    assert peaks.tolist() == [60.0, 70.0, 80.0, 99.4]  # 99.6 is within 0.5 of the precursor
    monkeypatch.setattr(module, "MAX_PEAKS", 2)
    assert fragment_peaks(mz, intensity, None)[0].tolist() == [70.0, 80.0]
    assert fragment_peaks([], [], 100.0)[0].tolist() == []


def test_within_10_ppm_when_that_is_the_wider(monkeypatch):
    from registry.chem import explain as module

    monkeypatch.setattr(module, "ABS_TOLERANCE", 0.0)  # 10 ppm alone: 1.38 mDa at m/z 138
    inside = explain(CAFFEINE, "[M+H]+", np.array([138.0674]), np.array([1.0]), CAFFEINE_MH)
    outside = explain(CAFFEINE, "[M+H]+", np.array([138.0678]), np.array([1.0]), CAFFEINE_MH)
    assert inside.explained_peaks == 1 and outside.explained_peaks == 0


def test_a_peak_half_a_dalton_below_the_precursor_is_the_precursor_s():
    peaks, _ = fragment_peaks(np.array([70.0, 99.5]), np.array([1.0, 1.0]), 100.0)
    assert peaks.tolist() == [70.0]
