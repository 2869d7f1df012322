"""Drawings and plots for the pages: structure SVGs and spectrum figures (matplotlib)."""

from __future__ import annotations

import base64

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from rdkit import Chem  # noqa: E402
from rdkit.Chem.Draw import rdMolDraw2D  # noqa: E402


def structure_svg(smiles: str, width: int = 260, height: int = 180) -> str:
    mol = Chem.MolFromSmiles(smiles)
    drawer = rdMolDraw2D.MolDraw2DSVG(width, height)
    if mol is not None:
        drawer.DrawMolecule(mol)
    drawer.FinishDrawing()
    return drawer.GetDrawingText()


def readable(rows) -> pd.DataFrame:
    """A table with headers as people write them: 'msms_spectra' -> 'msms spectra'."""
    frame = pd.DataFrame(rows)
    return frame.rename(columns=lambda c: str(c).replace("_", " "))


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


def matched(mz, other_mz, tolerance: float = 0.02) -> np.ndarray:
    """Which peaks of `mz` have a peak of `other_mz` within `tolerance` Da."""
    a, b = np.asarray(mz, dtype=float), np.sort(np.asarray(other_mz, dtype=float))
    if not a.size or not b.size:
        return np.zeros(a.size, dtype=bool)
    i = np.searchsorted(b, a)
    left, right = b[np.clip(i - 1, 0, b.size - 1)], b[np.clip(i, 0, b.size - 1)]
    return np.minimum(np.abs(a - left), np.abs(a - right)) <= tolerance


def mirror_frame(query_mz, query_intensity, library_mz, library_intensity, label: str):
    """The rows of a mirror plot: query peaks up, library peaks down, each marked matched or
    not (within 0.02 Da of a peak of the other spectrum, the library search's tolerance), the
    ten largest of each labelled with their m/z."""
    rows = []
    for side, mz, intensity, other, sign in (
        ("query", query_mz, query_intensity, library_mz, 1),
        (label, library_mz, library_intensity, query_mz, -1),
    ):
        relative = _relative(intensity)
        hit = matched(mz, other)
        top = set(np.argsort(-relative)[:10].tolist())
        for n, (m, r) in enumerate(zip(np.asarray(mz, float), relative, strict=True)):
            rows.append(
                {
                    "m/z": round(float(m), 4),
                    "intensity": sign * float(r),
                    "spectrum": side,
                    "peak": f"{side}: {'matched' if hit[n] else 'unmatched'}",
                    "label": f"{m:.4f}" if n in top else "",
                }
            )
    return pd.DataFrame(rows)


def mirror_chart(
    query_mz, query_intensity, library_mz, library_intensity, label: str = "library", title=""
):
    """Query up, reference (`label`) down, as GNPS draws it: matched peaks coloured, the others
    grey, the largest peaks labelled with their m/z, the m/z axis over the peaks' range, zoom
    and pan with the mouse, legend below."""
    import altair as alt

    data = mirror_frame(query_mz, query_intensity, library_mz, library_intensity, "reference")
    colours = alt.Scale(
        domain=["query: matched", "query: unmatched", "reference: matched", "reference: unmatched"],
        range=["#1f77b4", "#b0b0b0", "#d62728", "#d0d0d0"],
    )
    low, high = (data["m/z"].min(), data["m/z"].max()) if len(data) else (0.0, 100.0)
    pad = max(5.0, 0.05 * (high - low))
    base = alt.Chart(data)
    sticks = base.mark_rule(strokeWidth=1.5).encode(
        x=alt.X("m/z:Q", title="m/z", scale=alt.Scale(domain=[max(0.0, low - pad), high + pad])),
        y=alt.Y("intensity:Q", title="relative intensity (%)", scale=alt.Scale(domain=[-115, 115])),
        y2=alt.datum(0),
        color=alt.Color("peak:N", scale=colours, legend=alt.Legend(orient="bottom", title=None)),
        tooltip=["spectrum", "m/z", alt.Tooltip("intensity:Q", format=".1f")],
    )
    labels = [
        base.transform_filter((alt.datum.label != "") & (alt.datum.intensity * sign > 0))
        .mark_text(fontSize=9, dy=-6 * sign)
        .encode(x="m/z:Q", y="intensity:Q", text="label:N")
        for sign in (1, -1)
    ]
    heading = alt.TitleParams(title, subtitle=f"reference: {label}", anchor="start")
    return (
        alt.layer(sticks, *labels).properties(title=heading, height=320).interactive(bind_y=False)
    )


def fragment_frame(query_mz, query_intensity, annotations: list[dict]) -> pd.DataFrame:
    """The rows of a fragment plot: every query peak, those a fragment explains labelled with
    the fragment ion's formula (within 1 mDa of the annotated m/z)."""
    explained = {round(a["mz"], 3): a for a in annotations}
    rows = []
    for m, r in zip(np.asarray(query_mz, float), _relative(query_intensity), strict=True):
        found = explained.get(round(float(m), 3))
        rows.append(
            {
                "m/z": round(float(m), 4),
                "intensity": float(r),
                "peak": "explained" if found else "not explained",
                "fragment": found["formula"] if found else "",
                "smiles": found["smiles"] if found else "",
            }
        )
    return pd.DataFrame(rows)


def fragment_chart(query_mz, query_intensity, annotations: list[dict], title: str = ""):
    """The query spectrum with each peak the hit's in-silico fragments explain coloured and
    labelled with its fragment formula (the fragment's SMILES on hover)."""
    import altair as alt

    data = fragment_frame(query_mz, query_intensity, annotations)
    colours = alt.Scale(domain=["explained", "not explained"], range=["#2ca02c", "#b0b0b0"])
    base = alt.Chart(data)
    sticks = base.mark_rule(strokeWidth=1.5).encode(
        x=alt.X("m/z:Q", title="m/z"),
        y=alt.Y("intensity:Q", title="relative intensity (%)", scale=alt.Scale(domain=[0, 115])),
        y2=alt.datum(0),
        color=alt.Color("peak:N", scale=colours, legend=alt.Legend(orient="bottom", title=None)),
        tooltip=["m/z", alt.Tooltip("intensity:Q", format=".1f"), "fragment", "smiles"],
    )
    labels = (
        base.transform_filter(alt.datum.fragment != "")
        .mark_text(fontSize=9, dy=-6)
        .encode(x="m/z:Q", y="intensity:Q", text="fragment:N")
    )
    return alt.layer(sticks, labels).properties(title=title, height=300).interactive(bind_y=False)


def ir_overlay(wavenumbers, query, reference, label: str, title: str = ""):
    """The query's IR spectrum over the reference's, both on the registry's grid."""
    fig, ax = plt.subplots(figsize=(7, 2.8))
    ax.plot(wavenumbers, query, linewidth=0.9, color="#1f77b4", label="query")
    ax.plot(wavenumbers, reference, linewidth=0.9, color="#d62728", label=label)
    ax.invert_xaxis()
    ax.set_xlabel("wavenumber (cm⁻¹)")
    ax.set_ylabel("normalised absorbance")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.25), ncol=2, frameon=False)
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
