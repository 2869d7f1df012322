"""molvis query UI (Streamlit): search by MS/MS, IR and CCS; compound pages; registry status.
Connects with the read-only role. Start it with `molvis ui`."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from molvis.workflows.model_loading import LoadedModel, load_model
from molvis.workflows.query import (
    Query,
    QueryFields,
    build_queries,
    pasted_spectrum,
    read_upload,
)
from molvis.workflows.search import SearchOptions, run_query
from registry import browse
from registry.adducts import COMMON_ADDUCTS
from registry.db import get_reader_engine
from registry.model_store import list_models
from registry.parsers import ParseError, RecordError
from registry.search import similar_structures
from registry.stats import registry_stats
from ui import components

ADDUCTS = [*COMMON_ADDUCTS["positive"], *COMMON_ADDUCTS["negative"]]
PAGES = ("query", "compound", "registry")


@st.cache_resource
def engine():
    return get_reader_engine()


def session():
    from sqlalchemy.orm import Session

    return Session(engine())


@st.cache_resource
def active_model() -> LoadedModel:
    return load_model(engine(), read_only=True)


def _read_upload(upload) -> tuple[list, object] | None:
    """The upload's spectra (MS/MS) or IR spectrum; None, with a message, when unreadable."""
    if upload is None:
        return [], None
    try:
        return read_upload(upload.name, upload.getvalue())
    except (ParseError, RecordError, ValueError) as exc:
        st.error(str(exc).splitlines()[0])
        return None


def query_page() -> None:
    st.header("Which structures fit my unknown?")
    left, right = st.columns(2)
    with left:
        upload = st.file_uploader(
            "MS/MS (MGF, MSP, MassBank) or IR (JCAMP-DX) file",
            type=["mgf", "msp", "txt", "jdx", "dx", "gz"],
            key="upload",
        )
        read = _read_upload(upload)
        if read is None:
            return
        spectra, ir = read
        chosen = 0
        if len(spectra) > 1:
            chosen = st.selectbox(
                f"spectrum of the file ({len(spectra)})",
                range(len(spectra)),
                format_func=lambda n: spectra[n].record_id or f"spectrum {n + 1}",
                key="spectrum",
            )
        pasted = st.text_area("…or paste peaks, one 'm/z intensity' per line", height=120)
    with right:
        precursor = st.number_input(
            "precursor m/z (0 = from the file)", min_value=0.0, value=0.0, format="%.5f"
        )
        adduct = st.selectbox("adduct", ["from the file", *ADDUCTS])
        ppm = st.number_input("mass window (ppm)", min_value=0.1, value=10.0)
        formula = st.text_input("formula (optional)").strip() or None
        ccs = st.number_input("CCS (Å², 0 = none)", min_value=0.0, value=0.0)
        ccs_adduct = st.selectbox("CCS adduct", ADDUCTS)
        k = st.slider("hits", 5, 100, 20)
    w1, w2, w3 = st.columns(3)
    weights = {
        "msms": w1.slider("MS/MS weight", 0.0, 1.0, 1.0, key="w_msms"),
        "ir": w2.slider("IR weight", 0.0, 1.0, 1.0, key="w_ir"),
        "ccs": w3.slider("CCS weight", 0.0, 1.0, 0.5, key="w_ccs"),
    }
    if not st.button("Search", type="primary"):
        return
    fields = QueryFields(
        precursor_mz=precursor or None,
        adduct=None if adduct == "from the file" else adduct,
        ccs=ccs or None,
        ccs_adduct=ccs_adduct if ccs else None,
    )
    try:
        options = SearchOptions(ppm=ppm, formula=formula, k=k, weights=weights)
        if not spectra and pasted.strip():
            spectra = [pasted_spectrum(pasted, fields)]
        if not spectra and ir is None and fields.ccs is None:
            raise ValueError("give a spectrum (upload or paste) or a CCS value")
        name = upload.name if upload is not None else "query"
        queries = build_queries(spectra, ir, fields, name)
        show_results(queries[chosen if len(queries) > 1 else 0], options)
    except (ParseError, RecordError, ValueError, LookupError) as exc:
        st.error(str(exc).splitlines()[0])


def show_results(query: Query, options: SearchOptions) -> None:
    """Rank the query as `molvis search` does and show its hits."""
    loaded = active_model()
    if query.msms is not None:
        st.session_state["query_spectrum"] = (query.msms.mz.tolist(), query.msms.intensity.tolist())
    with session() as s:
        result = run_query(s, loaded, query, options)
    mass = query.neutral_mass
    st.caption(
        f"{query.title} · model {loaded.info.name} · {result.candidates} candidates"
        + (f" within {options.ppm:g} ppm of {mass:.5f}" if mass else " (no mass filter)")
        + "".join(f" ({note})" for note in query.notes)
    )
    if not result.hits:
        st.warning("no candidate passed the filters")
        return
    rows = [
        {
            "structure": components.svg_data_url(components.structure_svg(h.smiles)),
            "rank": h.rank,
            "name": h.name,
            "score": round(h.score, 4),
            **{f"{m} score": round(v, 4) for m, v in h.scores.items()},
            "inchikey": h.inchikey,
            "open": f"?page=compound&inchikey={h.inchikey}",
        }
        for h in result.hits
    ]
    st.dataframe(
        pd.DataFrame(rows),
        hide_index=True,
        use_container_width=True,
        row_height=90,
        column_config={
            "structure": st.column_config.ImageColumn("structure", width="medium"),
            "open": st.column_config.LinkColumn("compound page", display_text="open"),
        },
    )


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
    st.header(view.names[0] if view.names else view.inchikey)
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
