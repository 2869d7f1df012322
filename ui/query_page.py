"""The query page's form: an unknown's spectra (a file of many, or pasted peaks) searched as
`molvis search` does, every query at once; the answers are shown by `ui/results.py`.

The answers live in the session, so choosing another query, another hit, opening a compound
page or a failed search keeps them."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from molvis.workflows.consensus import merge_repeated_scans
from molvis.workflows.library_match import Library
from molvis.workflows.query import (
    QueryFields,
    build_queries,
    pasted_spectrum,
    read_upload,
    where_why,
)
from molvis.workflows.search import SearchOptions, result_dict, run_query
from registry.chem.adducts import COMMON_ADDUCTS
from registry.db.settings import load_settings
from registry.ingest.parsers import ParseError, RecordError
from ui.results import plural, show_search
from ui.state import active_model, session

ADDUCTS = [*COMMON_ADDUCTS["positive"], *COMMON_ADDUCTS["negative"]]


# What the uploader offers: every file `read_upload` reads (gz: any of them compressed).
UPLOAD_TYPES = ("mgf", "msp", "txt", "json", "mzml", "mzxml", "jdx", "dx", "gz")


def _read_upload(upload) -> tuple[list, object]:
    """The upload's spectra (MS/MS) or IR spectrum; an unreadable upload is said in one line
    and searched as no upload, so the form and earlier results stay; skipped records listed."""
    if upload is None:
        return [], None
    try:
        spectra, ir, skipped = read_upload(upload.name, upload.getvalue())
    except (ParseError, RecordError, ValueError) as exc:
        st.error(str(exc).splitlines()[0])
        return [], None
    read = len(spectra)
    spectra = merge_repeated_scans(spectra)
    if spectra:
        merged = f" ({len(spectra)} after merging repeated scans)" if len(spectra) < read else ""
        st.caption(
            f"{upload.name}: {plural(read, 'spectrum', 'spectra')} read{merged}"
            + (f", {plural(len(skipped), 'record')} skipped" if skipped else "")
            + (": each is searched" if len(spectra) > 1 else "")
        )
    if skipped:
        with st.expander(f"skipped records ({len(skipped)})"):
            st.dataframe(
                pd.DataFrame([where_why(p) for p in skipped], columns=["record", "reason"]),
                hide_index=True,
            )
    return spectra, ir


def query_page() -> None:
    st.header("Which structures fit my unknown?")
    left, right = st.columns(2)
    with left:
        upload = st.file_uploader(
            "MS/MS (MGF, MSP, MassBank, GNPS/MoNA JSON, mzML, mzXML) or IR (JCAMP-DX) file",
            type=list(UPLOAD_TYPES),
            key="upload",
        )
        spectra, ir = _read_upload(upload)
        pasted = st.text_area("…or paste peaks, one 'm/z intensity' per line", height=120)
    with right:
        precursor = st.number_input(
            "precursor m/z (0 = from the file; a value replaces every spectrum's own)",
            value=0.0,
            format="%.5f",
        )
        adduct = st.selectbox("adduct", ["from the file", *ADDUCTS])
        ppm = st.number_input("mass window (ppm)", value=10.0)
        formula = st.text_input("formula (optional)").strip() or None
        ccs = st.number_input("CCS (Å², 0 = none)", value=0.0)
        ccs_adduct = st.selectbox("CCS adduct", ADDUCTS)
        ccs_tol = st.number_input("CCS window for measured values (%)", value=3.0)
        predicted_tol = st.number_input(
            "CCS window for predicted values (%, 0 = the predictor's own)", value=0.0
        )
        k = st.slider("hits", 5, 100, 20)
        ranker = st.radio(
            "ranking",
            ["learned", "hand"],
            horizontal=True,
            help="learned: the model's ranker over all the evidence (model score, fragments, "
            "predicted spectrum, library score, mass error), fitted on validation windows; "
            "hand: model score + 0.25 x library score",
        )
    w1, w2, w3 = st.columns(3)
    weights = {
        "msms": w1.slider("MS/MS weight", 0.0, 1.0, 1.0, key="w_msms"),
        "ir": w2.slider("IR weight", 0.0, 1.0, 1.0, key="w_ir"),
        "ccs": w3.slider("CCS weight", 0.0, 1.0, 0.5, key="w_ccs"),
    }
    if st.button("Search", type="primary"):
        try:
            if precursor < 0 or ccs < 0:
                raise ValueError("precursor m/z and CCS cannot be negative (0 = none)")
            fields = QueryFields(
                precursor_mz=precursor or None,
                adduct=None if adduct == "from the file" else adduct,
                ccs=ccs or None,
                ccs_adduct=ccs_adduct if ccs else None,
            )
            options = SearchOptions(
                ppm=ppm,
                formula=formula,
                k=k,
                weights=weights,
                ccs_tolerance_pct=ccs_tol,
                ccs_predicted_tolerance_pct=predicted_tol or None,
                ranker=ranker,
            )
            if not spectra and pasted.strip():
                spectra = [pasted_spectrum(pasted, fields)]
            if not spectra and ir is None and fields.ccs is None:
                raise ValueError("give a spectrum (upload or paste) or a CCS value")
            name = upload.name if upload is not None else "query"
            search(build_queries(spectra, ir, fields, name), options)
        except (ParseError, RecordError, ValueError, LookupError) as exc:
            st.error(str(exc).splitlines()[0])  # earlier results stay below
    show_search()


def search(queries: list, options: SearchOptions) -> None:
    """Answer every query and keep the answers in the session (a new `run` each time, so the
    choosers below start at the new answers' first query and hit)."""
    loaded = active_model()
    bar = st.progress(0.0, text="searching") if len(queries) > 1 else None
    results = []
    with session() as s:
        library = Library(s, load_settings().home, options.library)
        for n, query in enumerate(queries, start=1):
            results.append(result_dict(run_query(s, loaded, query, options, library), loaded))
            if bar:
                bar.progress(n / len(queries), text=f"searched {n} of {len(queries)}")
    previous = st.session_state.get("search", {}).get("run", 0)
    st.session_state["search"] = {
        "run": previous + 1,
        "results": results,
        "spectra": [
            (q.msms.mz.tolist(), q.msms.intensity.tolist()) if q.msms is not None else None
            for q in queries
        ],
        "ir": [q.ir.processed.tolist() if q.ir is not None else None for q in queries],
        "ppm": options.ppm,
    }
