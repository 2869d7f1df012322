"""Spectrum processing shared by ingestion and models: the IR grid of METHOD.md."""

from __future__ import annotations

import numpy as np

from registry.ingest.parsers import RecordError

IR_MIN_CM1 = 550.0
IR_MAX_CM1 = 3846.0
IR_STEP_CM1 = 4.0
IR_GRID = np.arange(IR_MIN_CM1, IR_MAX_CM1 + IR_STEP_CM1 / 2, IR_STEP_CM1)
MIN_GRID_COVERAGE = 0.5

_WAVENUMBER_UNITS = {"1/cm", "cm-1", "cm^-1", "1/cm-1", "wavenumbers", "wavenumber", "cm**-1"}
_MICROMETRE_UNITS = {"micrometers", "micrometres", "microns", "micron", "um", "µm", "micrometer"}
_NANOMETRE_UNITS = {"nanometers", "nanometres", "nm"}


def to_wavenumber(x: np.ndarray, units: str) -> np.ndarray:
    """x values in cm-1, converting micrometre and nanometre axes."""
    unit = units.strip().lower()
    if unit in _WAVENUMBER_UNITS:
        return x
    if unit in _MICROMETRE_UNITS:
        return 1e4 / x
    if unit in _NANOMETRE_UNITS:
        return 1e7 / x
    raise RecordError(f"unknown IR x units {units!r} (expected 1/CM, MICROMETERS or NANOMETERS)")


def to_absorbance(y: np.ndarray, units: str) -> np.ndarray:
    """y values as absorbance: transmittance (fraction or %) is converted by -log10(T)."""
    unit = units.strip().lower()
    if "transmittance" in unit or unit in {"%t", "t"}:
        t = y / 100.0 if np.nanmax(y) > 1.5 or "%" in unit or "percent" in unit else y
        return -np.log10(np.clip(t, 1e-4, None))
    if "absorbance" in unit or unit in {"a", "(micromol/mol)-1m-1 (base 10)"} or "m-1" in unit:
        return y
    raise RecordError(f"unknown IR y units {units!r} (expected TRANSMITTANCE or ABSORBANCE)")


def ir_grid_vector(x: np.ndarray, y: np.ndarray, x_units: str, y_units: str) -> np.ndarray:
    """METHOD.md processing: absorbance on 550-3846 cm-1 every 4 cm-1 (825 points), unit L2 norm.

    Grid points outside the measured range are 0; negative absorbance (baseline noise) is
    clipped to 0. A spectrum covering under half the grid is refused.
    """
    wn = to_wavenumber(np.asarray(x, dtype=np.float64), x_units)
    a = to_absorbance(np.asarray(y, dtype=np.float64), y_units)
    finite = np.isfinite(wn) & np.isfinite(a)
    wn, a = wn[finite], a[finite]
    if wn.size < 2:
        raise RecordError("IR spectrum has fewer than two finite points")
    order = np.argsort(wn)
    wn, a = wn[order], a[order]
    covered = (IR_GRID >= wn[0]) & (IR_GRID <= wn[-1])
    if covered.mean() < MIN_GRID_COVERAGE:
        raise RecordError(
            f"IR spectrum covers {wn[0]:.0f}-{wn[-1]:.0f} cm-1, under half of "
            f"{IR_MIN_CM1:.0f}-{IR_MAX_CM1:.0f} cm-1"
        )
    grid = np.where(covered, np.interp(IR_GRID, wn, a), 0.0)
    grid = np.clip(grid, 0.0, None)
    norm = np.linalg.norm(grid)
    if not np.isfinite(norm) or norm == 0:
        raise RecordError("IR spectrum is flat (no absorbance on 550-3846 cm-1)")
    return grid / norm
