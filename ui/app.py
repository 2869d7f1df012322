"""molvis query UI (Streamlit): the query page (`ui/query_page.py`), compound pages, registry
status. Connects with the read-only role. Start it with `molvis ui`."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from registry import browse
from registry.model_store import list_models
from registry.names import display_name
from registry.search import similar_structures
from registry.stats import registry_stats
from ui import components
from ui.query_page import query_page
from ui.state import session

PAGES = ("query", "compound", "registry")


def compound_page() -> None:
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
                "field": [
                    "InChIKey",
                    "formula",
                    "monoisotopic mass",
                    "SMILES",
                    "sources",
                    *view.external_ids,
                ],
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
    query = st.session_state.get("query_spectrum")
    if view.msms:
        st.subheader(f"MS/MS spectra ({len(view.msms)})")
        for spectrum in view.msms[:5]:
            title = (
                f"{spectrum['record_id']} · {spectrum['adduct']} · "
                f"{spectrum['instrument_type']} · CE {spectrum['collision_energy']}"
            )
            if query:
                st.pyplot(
                    components.mirror_plot(
                        *query,
                        spectrum["mz"],
                        spectrum["intensity"],
                        spectrum["record_id"] or "library",
                    )
                )
            else:
                st.pyplot(components.stick_plot(spectrum["mz"], spectrum["intensity"], title))
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
        st.dataframe(pd.DataFrame(view.ccs), hide_index=True)
        for adduct, library in landscape.items():
            points = [(c["mz"], c["ccs"]) for c in view.ccs if c["adduct"] == adduct and c["mz"]]
            st.pyplot(components.ccs_plot(library, points, adduct))
    if neighbours:
        st.subheader("nearest structures (Tanimoto)")
        st.dataframe(pd.DataFrame([n.__dict__ for n in neighbours]), hide_index=True)


def registry_page() -> None:
    st.header("Registry")
    with session() as s:
        stats = registry_stats(s)
        models = list_models(s)
        runs = browse.recent_runs(s)
        reasons = browse.reject_reasons(s)
    counts = {k: v for k, v in stats.items() if k != "per_source"}
    cols = st.columns(4)
    for n, key in enumerate(("compounds", "msms_spectra", "ir_spectra", "ccs_values")):
        cols[n].metric(key.replace("_", " "), f"{counts[key]:,}")
    st.dataframe(pd.DataFrame(stats["per_source"]), hide_index=True)
    st.subheader("models")
    st.dataframe(
        pd.DataFrame(
            [{"name": m.name, "version": m.version, "active": m.is_active} for m in models]
        ),
        hide_index=True,
    )
    st.subheader("recent ingest runs")
    st.dataframe(pd.DataFrame(runs), hide_index=True)
    st.subheader("why records were rejected")
    st.dataframe(pd.DataFrame(reasons), hide_index=True)


def main() -> None:
    st.set_page_config(page_title="molvis", layout="wide")
    current = st.query_params.get("page", "query")
    page = st.sidebar.radio("page", PAGES, index=PAGES.index(current) if current in PAGES else 0)
    if page != current:
        st.query_params["page"] = page
    try:
        {"query": query_page, "compound": compound_page, "registry": registry_page}[page]()
    except LookupError as exc:
        st.error(str(exc).splitlines()[0])


main()
