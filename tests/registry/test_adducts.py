"""Adduct notation and masses, checked value by value (the mass window of every search and the
precursor of every stored spectrum come from here)."""

import pytest

from registry.chem.adducts import (
    ELECTRON,
    ELEMENTS,
    UnknownAdductError,
    formula_mass,
    neutral_mass,
    parse_adduct,
)

WATER = 2 * 1.00782503 + 15.99491462


@pytest.mark.parametrize(
    "formula, mass",
    [
        ("H2O", WATER),
        ("O", 15.99491462),
        ("C6H10O5", 6 * 12 + 10 * 1.00782503 + 5 * 15.99491462),
        ("FA", 12 + 2 * 1.00782503 + 2 * 15.99491462),  # an abbreviation: formic acid
        ("NaCl", 22.98976928 + 34.96885268),
    ],
)
def test_formula_masses(formula, mass):
    assert formula_mass(formula) == pytest.approx(mass, abs=1e-9)


@pytest.mark.parametrize(
    "formula, message",
    [
        ("h2o", "cannot read formula 'h2o'"),
        ("H2O+", "cannot read formula 'H2O+'"),
        ("", "cannot read formula ''"),
        ("Xe2", "unknown element 'Xe' in 'Xe2'"),
    ],
)
def test_unreadable_formulas_say_why(formula, message):
    with pytest.raises(UnknownAdductError) as info:
        formula_mass(formula)
    assert str(info.value) == message


@pytest.mark.parametrize(
    "text, name, n, charge",
    [
        ("[M+H]+", "[M+H]+", 1, 1),
        (" [M - H] - ", "[M-H]-", 1, -1),
        ("M+H]+", "[M+H]+", 1, 1),
        ("M+H+", "M+H+", 1, 1),
        ("[M+2H]++", "[M+2H]2+", 1, 2),
        ("[M+2H]2+", "[M+2H]2+", 1, 2),
        ("[M-2H]--", "[M-2H]2-", 1, -2),
        ("[M+H]+*", "[M+H]+", 1, 1),
        ("[2M+Na]+", "[2M+Na]+", 2, 1),
        ("[M+HCOO]-", "[M+FA-H]-", 1, -1),
        ("[M-H2O+H]+", "[M+H-H2O]+", 1, 1),
        ("M+H-", "M+H-", 1, -1),
        ("[M]+.", "[M]+", 1, 1),
        ("[M+dot]+", "[M]+", 1, 1),
        ("[M+Cs]+", "[M+Cs]+", 1, 1),
    ],
)
def test_adduct_names_molecules_and_charge(text, name, n, charge):
    adduct = parse_adduct(text)
    assert (adduct.name, adduct.n_molecules, adduct.charge) == (name, n, charge)
    assert adduct.ion_mode == ("positive" if charge > 0 else "negative")


def test_mass_shift_counts_terms_signs_and_electrons():
    assert parse_adduct("[M+H]+").mass_shift == pytest.approx(ELEMENTS["H"] - ELECTRON, abs=1e-9)
    assert parse_adduct("[M-H2O+H]+").mass_shift == pytest.approx(
        ELEMENTS["H"] - WATER - ELECTRON, abs=1e-9
    )
    assert parse_adduct("[M+2Na-H]+").mass_shift == pytest.approx(
        2 * ELEMENTS["Na"] - ELEMENTS["H"] - ELECTRON, abs=1e-9
    )
    assert parse_adduct("[M-2H]2-").mass_shift == pytest.approx(
        -2 * ELEMENTS["H"] + 2 * ELECTRON, abs=1e-9
    )
    assert parse_adduct("[M+2H]2+").mz(100.0) == pytest.approx(
        (100.0 + 2 * ELEMENTS["H"] - 2 * ELECTRON) / 2, abs=1e-9
    )


@pytest.mark.parametrize("text", ["[M+Foo]+", "[M+H]", "H+", "[X+H]+", ""])
def test_unknown_adducts_are_refused(text):
    with pytest.raises(UnknownAdductError):
        parse_adduct(text)


def test_neutral_mass_is_none_without_both_parts():
    assert neutral_mass(None, "[M+H]+") is None
    assert neutral_mass(195.0, None) is None
    assert neutral_mass(195.0, "[M+Foo]+") is None
    assert neutral_mass(0.0, "[M+H]+") is None
