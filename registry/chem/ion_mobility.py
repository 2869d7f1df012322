"""A CCS from an ion's measured mobility: the Mason-Schamp relation, as instrument software
(timsTOF's, MS-DIAL) converts 1/K0 to CCS.

CCS = (3 e z / 16 N0) sqrt(2 pi / (mu k_B T)) / K0, with mu the reduced mass of ion and drift
gas and K0 the reduced mobility; in the units the files give (1/K0 in V s/cm2, masses in Da,
T in K, CCS in A^2) the constants fold into 18509.8632 (Bruker's own constant)."""

from __future__ import annotations

import math

MASON_SCHAMP = 18509.8632163405  # (3 e / 16 N0) sqrt(2 pi / (Da k_B)) in A^2 V s/cm2 K^0.5 Da^0.5
GAS_MASS = {"N2": 28.006148, "He": 4.002602}  # monoisotopic, Da
DEFAULT_GAS, DEFAULT_TEMPERATURE = "N2", 305.0  # a timsTOF's tunnel gas and temperature (K)


def ccs_from_inverse_mobility(
    inverse_k0: float,
    mz: float,
    charge: int,
    gas: str = DEFAULT_GAS,
    temperature: float = DEFAULT_TEMPERATURE,
) -> float:
    """The CCS (A^2) of an ion of `mz` and `charge` whose 1/K0 (V s/cm2) was measured in `gas`
    at `temperature` (K)."""
    if gas not in GAS_MASS:
        raise ValueError(f"drift gas {gas!r} unknown (known: {', '.join(GAS_MASS)})")
    if inverse_k0 <= 0 or mz <= 0 or charge == 0 or temperature <= 0:
        raise ValueError("1/K0, m/z, charge and temperature must be positive")
    z = abs(charge)
    ion = mz * z
    mu = ion * GAS_MASS[gas] / (ion + GAS_MASS[gas])
    return MASON_SCHAMP * z / math.sqrt(temperature * mu) * inverse_k0
