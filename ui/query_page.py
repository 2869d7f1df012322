"""The query page: an unknown's spectra (a file of many, or pasted peaks) searched as
`molvis search` does, every query at once; a table of the queries, the hits of the chosen one
with their evidence, the mirror plot of a hit against its library spectrum, the export.

The answers live in the session, so choosing another query, another hit or opening a compound
page keeps them."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from molvis.workflows.export import table_text
from molvis.workflows.library_match import Library
from molvis.workflows.query import QueryFields, build_queries, pasted_spectrum, read_upload
from molvis.workflows.search import SearchOptions, result_dict, run_query
from registry import browse
from registry.adducts import COMMON_ADDUCTS
from registry.parsers import ParseError, RecordError
from registry.settings import load_settings
from ui import components
from ui.state import active_model, session

ADDUCTS = [*COMMON_ADDUCTS["positive"], *COMMON_ADDUCTS["negative"]]
HELP = {
    "level": "Schymanski confidence level: 2a library match, 3 tentative candidate (spectral "
    "evidence in the mass window), 4 formula only, 5 mass only",
    "probability": "calibrated probability that this hit is the right structure (fitted on "
    "held-out spectra; empty when the model has no calibration)",
    "library score": "entropy similarity to the best stored reference spectrum of this "
    "structure (precursor within the window); >= 0.7 with >= 6 matched peaks is confident",
    "matched peaks": "fragment peaks shared with that reference spectrum",
    "score": "the model's reference-free score: cosine of the query and structure embeddings "
    "(weighted mean over the modalities)",
    "ppm error": "candidate's monoisotopic mass against the query's neutral mass, in ppm",
    "CCS dev. %": "query CCS against the candidate's measured CCS of the same ion (its predicted"
    " CCS where none was measured), in %",
    "CCS from": "measured: a stored measurement of that ion; predicted: the CCS predictor's value",
}


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
        if len(spectra) > 1:
            st.caption(f"{len(spectra)} spectra in the file: each is searched")
        pasted = st.text_area("…or paste peaks, one 'm/z intensity' per line", height=120)
    with right:
        precursor = st.number_input("precursor m/z (0 = from the file)", value=0.0, format="%.5f")
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
            )
            if not spectra and pasted.strip():
                spectra = [pasted_spectrum(pasted, fields)]
            if not spectra and ir is None and fields.ccs is None:
                raise ValueError("give a spectrum (upload or paste) or a CCS value")
            name = upload.name if upload is not None else "query"
            search(build_queries(spectra, ir, fields, name), options)
        except (ParseError, RecordError, ValueError, LookupError) as exc:
            st.session_state.pop("search", None)
            st.error(str(exc).splitlines()[0])
            return
    show_search()


def search(queries: list, options: SearchOptions) -> None:
    """Answer every query and keep the answers in the session."""
    loaded = active_model()
    bar = st.progress(0.0, text="searching") if len(queries) > 1 else None
    results = []
    with session() as s:
        library = Library(s, load_settings().home, options.library)
        for n, query in enumerate(queries, start=1):
            results.append(result_dict(run_query(s, loaded, query, options, library), loaded))
            if bar:
                bar.progress(n / len(queries), text=f"searched {n} of {len(queries)}")
    st.session_state["search"] = {
        "results": results,
        "spectra": [
            (q.msms.mz.tolist(), q.msms.intensity.tolist()) if q.msms is not None else None
            for q in queries
        ],
        "ppm": options.ppm,
    }


def caption(result: dict, ppm: float) -> str:
    """What was searched and which filter left how many candidates."""
    mass = result["neutral_mass"]
    text = f"{result['query']} · model {result['model']} · {result['candidates']} candidates"
    text += f" within {ppm:g} ppm of {mass:.5f}" if mass else " (no mass filter)"
    counts = result["filters"]
    if counts:
        text += f" (mass window {counts['mass_window']}"
        for key, label in (("formula", "formula"), ("sources", "source"), ("ccs", "CCS")):
            previous = list(counts)[list(counts).index(key) - 1]
            if counts[key] != counts[previous]:
                text += f", the {label} filter kept {counts[key]}"
        text += ")"
    return text + "".join(f" ({note})" for note in result["notes"])


def show_search() -> None:
    state = st.session_state.get("search")
    if not state:
        return
    results = state["results"]
    chosen = 0
    if len(results) > 1:
        st.subheader(f"{len(results)} queries")
        st.dataframe(
            pd.DataFrame([_query_row(r) for r in results]),
            hide_index=True,
            use_container_width=True,
        )
        chosen = st.selectbox(
            "query", range(len(results)), key="query", format_func=lambda n: results[n]["query"]
        )
    result = results[chosen]
    st.caption(caption(result, state["ppm"]))
    if not result["hits"]:
        st.warning("no candidate passed the filters")
    else:
        _hits(result, state["spectra"][chosen])
    a, b = st.columns(2)
    a.download_button("results as CSV", table_text(results, ","), "molvis-results.csv", "text/csv")
    b.download_button(
        "results as TSV", table_text(results), "molvis-results.tsv", "text/tab-separated-values"
    )


def _query_row(result: dict) -> dict:
    best = result["hits"][0] if result["hits"] else {}
    return {
        "query": result["query"],
        "precursor m/z": result["precursor_mz"],
        "adduct": result["adduct"],
        "candidates": result["candidates"],
        "best hit": best.get("name") or best.get("inchikey"),
        "level": best.get("level"),
        "probability": best.get("probability"),
    }


def _hits(result: dict, query_spectrum) -> None:
    rows = []
    for h in result["hits"]:
        lib, ccs = h["evidence"]["library"] or {}, h["evidence"]["ccs"] or {}
        rows.append(
            {
                "structure": components.svg_data_url(components.structure_svg(h["smiles"])),
                "rank": h["rank"],
                "name": h["name"],
                "level": h["level"],
                "probability": h["probability"],
                "library score": lib.get("score"),
                "matched peaks": lib.get("matched_peaks"),
                "score": None if h["score"] is None else round(h["score"], 4),
                **{f"{m} score": round(v, 4) for m, v in h["scores"].items()},
                "ppm error": h["evidence"]["ppm_error"],
                "CCS dev. %": ccs.get("deviation_pct"),
                "CCS from": ccs.get("basis"),
                "formula": h["formula"],
                "inchikey": h["inchikey"],
            }
        )
    config = {name: st.column_config.Column(name, help=text) for name, text in HELP.items()}
    config["structure"] = st.column_config.ImageColumn("structure", width="medium")
    st.dataframe(
        pd.DataFrame(rows),
        hide_index=True,
        use_container_width=True,
        row_height=90,
        column_config=config,
    )
    hits = result["hits"]
    pick = st.selectbox(
        "hit",
        range(len(hits)),
        key="hit",
        format_func=lambda n: f"{hits[n]['rank']}. {hits[n]['name'] or hits[n]['inchikey']}",
    )
    _evidence(hits[pick], result, query_spectrum)
    if result["analogues"]:
        st.caption("analogue matches (other precursors: a related structure, not this one)")
        st.dataframe(pd.DataFrame(result["analogues"]), hide_index=True)


def _evidence(hit: dict, result: dict, query_spectrum) -> None:
    """The hit's mirror plot against its best library spectrum, and the compound page."""
    lib = hit["evidence"]["library"]
    if lib and lib["search"] == "ir":
        st.caption(
            f"IR library match: cosine {lib['score']:.3f} on the 825-point grid to "
            f"{lib['record_id'] or 'a stored spectrum'} ({lib['source']})"
        )
    elif lib and query_spectrum:
        with session() as s:
            reference = browse.msms_peaks(s, lib["spectrum_id"])
        if reference:
            st.pyplot(
                components.mirror_plot(
                    *query_spectrum,
                    *reference,
                    f"{lib['record_id'] or 'library'} ({lib['adduct']})",
                    title=f"entropy similarity {lib['score']:.3f}, {lib['matched_peaks']} matched "
                    f"peaks · query {result['adduct']} / reference {lib['adduct']}",
                )
            )
    elif query_spectrum:
        st.caption("no library spectrum of this structure matched: the model ranks it")
    if st.button("open its compound page", key="open"):
        st.session_state["query_spectrum"] = query_spectrum
        st.query_params["page"] = "compound"
        st.query_params["inchikey"] = hit["inchikey"]
        st.rerun()
