"""molvis query UI (Streamlit): the query page (`ui/query_page.py`), compound pages, registry
status. Connects with the read-only role. Start it with `molvis ui`."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from registry.learned.versions import list_models
from registry.read import browse
from registry.read.stats import registry_stats
from ui.components import readable
from ui.compound_page import compound_page
from ui.query_page import query_page
from ui.state import session

PAGES = ("query", "compound", "registry")


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
    st.dataframe(readable(stats["per_source"]), hide_index=True)
    st.subheader("models")
    st.dataframe(
        pd.DataFrame(
            [{"name": m.name, "version": m.version, "active": m.is_active} for m in models]
        ),
        hide_index=True,
    )
    st.subheader("recent ingest runs")
    st.dataframe(readable(runs), hide_index=True)
    st.subheader("why records were rejected (grouped by reason)")
    st.dataframe(readable(reasons), hide_index=True)


def main() -> None:
    st.set_page_config(page_title="molvis", layout="wide")
    current = st.query_params.get("page", "query")
    # the pages as a row of tabs across the top: the sidebar would take 300 of 1,440 pixels
    # that the hits table needs
    page = st.radio(
        "page",
        PAGES,
        index=PAGES.index(current) if current in PAGES else 0,
        horizontal=True,
        label_visibility="collapsed",
    )
    if page != current:
        st.query_params["page"] = page
    try:
        {"query": query_page, "compound": compound_page, "registry": registry_page}[page]()
    except LookupError as exc:
        st.error(str(exc).splitlines()[0])


main()
