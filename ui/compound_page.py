"""A compound's page: identity, its MS/MS spectra (each titled, with its similarity to the
query when one was searched, any of them chosen for the mirror plot), IR, CCS and its nearest
structures, drawn and linked; back to the results."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from registry.chem.names import display_name
from registry.library.flash_index import entropy_similarity
from registry.read import browse
from registry.search.molvis_search import similar_structures
from ui import components
from ui.state import session


def spectrum_title(spectrum: dict) -> str:
    """A stored spectrum as a chemist names it: record, ion, energy, instrument, source."""
    parts = [
        spectrum["record_id"] or f"spectrum {spectrum['id']}",
        spectrum["adduct"] or "adduct unknown",
        f"CE {spectrum['collision_energy']}" if spectrum["collision_energy"] else None,
        spectrum["instrument_type"],
        spectrum["source"],
    ]
    return " · ".join(p for p in parts if p)


def compound_page() -> None:
    if st.session_state.get("search") and st.button("← back to the results", key="back"):
        st.query_params.clear()
        st.query_params["page"] = "query"
        st.rerun()
    key = st.query_params.get("inchikey") or st.text_input("InChIKey")
    if not key:
        st.info("open a compound from the results, or type its InChIKey")
        return
    with session() as s:
        view = browse.compound(s, key)
        if view is None:
            st.error(f"no compound {key} in the registry")
            return
        neighbours = similar_structures(s, key, 8)
        landscape = {a: browse.ccs_landscape(s, a) for a in {c["adduct"] for c in view.ccs}}
    st.header(display_name(view.names[0]) if view.names else view.inchikey)
    left, right = st.columns([1, 2])
    left.image(components.structure_svg(view.smiles, 320, 240))
    right.table(
        pd.DataFrame(
            {
                "field": ["InChIKey", "formula", "monoisotopic mass", "SMILES", "sources"]
                + list(view.external_ids),
                "value": [
                    view.inchikey,
                    view.formula,
                    f"{view.monoisotopic_mass:.5f}",
                    view.smiles,
                    ", ".join(view.sources),
                    *map(str, view.external_ids.values()),
                ],
            }
        )
    )
    if view.msms:
        _msms(view.msms)
    for spectrum in view.ir:
        st.subheader("IR spectrum")
        st.pyplot(
            components.ir_plot(
                spectrum["x"],
                spectrum["y"],
                spectrum["x_units"],
                spectrum["y_units"],
                spectrum["title"] or "",
            )
        )
    if view.ccs:
        st.subheader("CCS")
        st.dataframe(components.readable(view.ccs), hide_index=True)
        for adduct, library in landscape.items():
            points = [(c["mz"], c["ccs"]) for c in view.ccs if c["adduct"] == adduct and c["mz"]]
            st.pyplot(components.ccs_plot(library, points, adduct))
    if neighbours:
        _neighbours(neighbours)


def _msms(spectra: list[dict]) -> None:
    """Every stored spectrum in a table (with its similarity to the query when there is one),
    and the chosen one drawn: mirrored against the query, else alone."""
    query = st.session_state.get("query_spectrum")
    precursor = st.session_state.get("query_precursor")
    similarity = [
        entropy_similarity(query, precursor, (s["mz"], s["intensity"]), s["precursor_mz"])
        if query
        else None
        for s in spectra
    ]
    st.subheader(f"MS/MS spectra ({len(spectra)})")
    table = pd.DataFrame(
        {
            "spectrum": [spectrum_title(s) for s in spectra],
            "precursor m/z": [s["precursor_mz"] for s in spectra],
        }
    )
    if query:
        table["similarity to the query"] = [round(x, 3) for x in similarity]
    st.dataframe(table, hide_index=True, width="stretch")
    order = sorted(range(len(spectra)), key=lambda n: -(similarity[n] or 0)) if query else None
    chosen = st.selectbox(
        "spectrum to draw",
        order or range(len(spectra)),
        key="spectrum",
        format_func=lambda n: (
            spectrum_title(spectra[n]) + (f" · similarity {similarity[n]:.3f}" if query else "")
        ),
    )
    spectrum = spectra[chosen]
    title = spectrum_title(spectrum)
    if query:
        st.altair_chart(
            components.mirror_chart(
                *query,
                spectrum["mz"],
                spectrum["intensity"],
                spectrum["record_id"] or "reference",
                title=f"{title} · entropy similarity to the query {similarity[chosen]:.3f}",
            ),
            width="stretch",
        )
    else:
        st.pyplot(components.stick_plot(spectrum["mz"], spectrum["intensity"], title))


def _neighbours(neighbours) -> None:
    st.subheader("nearest structures (Tanimoto)")
    st.dataframe(
        pd.DataFrame(
            {
                "structure": [
                    components.svg_data_url(components.structure_svg(n.smiles)) for n in neighbours
                ],
                "name": [display_name(n.name) or n.inchikey for n in neighbours],
                "Tanimoto": [round(n.tanimoto, 3) for n in neighbours],
                "open": [f"?page=compound&inchikey={n.inchikey}" for n in neighbours],
            }
        ),
        hide_index=True,
        row_height=70,
        column_config={
            "structure": st.column_config.ImageColumn("structure", width="small"),
            "open": st.column_config.LinkColumn("open", display_text="compound page"),
        },
    )
