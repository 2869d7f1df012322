"""The Mason-Schamp conversion of 1/K0 to CCS (registry/chem/ion_mobility.py)."""

import math

import pytest

from registry.chem.ion_mobility import GAS_MASS, ccs_from_inverse_mobility


def test_a_calibrant_of_the_agilent_tune_mix_gets_its_published_ccs():
    """m/z 622.0290 at 1/K0 0.9915 V s/cm2: 202.96 A^2 in N2 (the tune mix's reference CCS,
    as timsTOF software converts it at 305 K)."""
    assert ccs_from_inverse_mobility(0.9915, 622.0290, 1) == pytest.approx(202.96, rel=2e-3)


def test_small_positive_values_are_converted():
    assert ccs_from_inverse_mobility(1.0, 0.5, 1, temperature=0.5) > 0


def test_the_relation_s_parts():
    base = ccs_from_inverse_mobility(1.0, 500.0, 1)
    assert ccs_from_inverse_mobility(2.0, 500.0, 1) == pytest.approx(2 * base)  # linear in 1/K0
    assert ccs_from_inverse_mobility(1.0, 500.0, 1, temperature=4 * 305.0) == pytest.approx(
        base / 2
    )
    # charge z: z times the CCS at the same reduced mass (an ion of z x m/z)
    mu = lambda ion, gas: ion * gas / (ion + gas)  # noqa: E731
    doubly = ccs_from_inverse_mobility(1.0, 250.0, 2)
    assert doubly == pytest.approx(2 * base)  # 2 x 250 = 500 Da: the same ion mass
    helium = ccs_from_inverse_mobility(1.0, 500.0, 1, gas="He")
    ratio = math.sqrt(mu(500.0, GAS_MASS["N2"]) / mu(500.0, GAS_MASS["He"]))
    assert helium == pytest.approx(base * ratio)
    assert ccs_from_inverse_mobility(1.0, 500.0, -1) == pytest.approx(base)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"gas": "Ar"}, "drift gas 'Ar' unknown (known: N2, He)"),
        ({"inverse_k0": 0.0}, "1/K0, m/z, charge and temperature must be positive"),
        ({"charge": 0}, "1/K0, m/z, charge and temperature must be positive"),
        ({"mz": 0.0}, "1/K0, m/z, charge and temperature must be positive"),
        ({"temperature": 0.0}, "1/K0, m/z, charge and temperature must be positive"),
        ({"temperature": -1.0}, "1/K0, m/z, charge and temperature must be positive"),
    ],
)
def test_what_it_cannot_convert_is_refused(kwargs, message):
    given = {"inverse_k0": 1.0, "mz": 500.0, "charge": 1} | kwargs
    with pytest.raises(ValueError, match=f"^{message.replace('(', '.').replace(')', '.')}$"):
        ccs_from_inverse_mobility(**given)
