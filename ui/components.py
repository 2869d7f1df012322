"""Drawings and plots for the pages: structure SVGs and spectrum figures (matplotlib)."""

from __future__ import annotations

import base64

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from rdkit import Chem  # noqa: E402
from rdkit.Chem.Draw import rdMolDraw2D  # noqa: E402


def structure_svg(smiles: str, width: int = 260, height: int = 180) -> str:
    mol = Chem.MolFromSmiles(smiles)
    drawer = rdMolDraw2D.MolDraw2DSVG(width, height)
    if mol is not None:
        drawer.DrawMolecule(mol)
    drawer.FinishDrawing()
    return drawer.GetDrawingText()


def svg_data_url(svg: str) -> str:
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()


def _relative(intensity) -> np.ndarray:
    values = np.asarray(intensity, dtype=float)
    return 100 * values / values.max() if values.size and values.max() > 0 else values


def stick_plot(mz, intensity, title: str = ""):
    fig, ax = plt.subplots(figsize=(7, 2.6))
    ax.vlines(mz, 0, _relative(intensity), color="#1f77b4", linewidth=1)
    ax.set_xlabel("m/z")
    ax.set_ylabel("rel. intensity (%)")
    ax.set_ylim(0, 105)
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return fig


def mirror_plot(
    query_mz, query_intensity, library_mz, library_intensity, label: str = "", title: str = ""
):
    """Query spectrum up, library spectrum down (the field's usual comparison view)."""
    fig, ax = plt.subplots(figsize=(7, 3.2))
    ax.vlines(query_mz, 0, _relative(query_intensity), color="#1f77b4", linewidth=1, label="query")
    ax.vlines(
        library_mz,
        0,
        -_relative(library_intensity),
        color="#d62728",
        linewidth=1,
        label=label or "library",
    )
    ax.axhline(0, color="black", linewidth=0.5)
    ax.set_xlabel("m/z")
    ax.set_ylabel("rel. intensity (%)")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8, loc="upper right")
    fig.tight_layout()
    return fig


def ir_plot(x, y, x_units: str, y_units: str, title: str = ""):
    fig, ax = plt.subplots(figsize=(7, 2.6))
    ax.plot(x, y, linewidth=0.8, color="#2ca02c")
    if "cm" in x_units.lower():
        ax.invert_xaxis()
    ax.set_xlabel(x_units)
    ax.set_ylabel(y_units)
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return fig


def ccs_plot(library: list[tuple[float, float]], points: list[tuple[float, float]], adduct: str):
    fig, ax = plt.subplots(figsize=(5, 3.2))
    if library:
        mz, ccs = zip(*library, strict=True)
        ax.scatter(mz, ccs, s=3, alpha=0.3, color="grey", label=f"library {adduct}")
    if points:
        mz, ccs = zip(*points, strict=True)
        ax.scatter(mz, ccs, s=40, color="#d62728", label="this compound")
    ax.set_xlabel("m/z")
    ax.set_ylabel("CCS (Å²)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
