"""The query page's answers: the queries, the hits of the chosen one with their evidence in
numbers and words, the query's confidence, the mirror plot (or IR overlay) of the chosen hit,
the analogues, and the export. A click on a table row chooses that query or hit."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from molvis.workflows.export import table_text
from molvis.workflows.fragment_evidence import predicted_spectrum_of
from registry.chem.ir_grid import IR_GRID
from registry.read import browse
from ui import components
from ui.state import session

HELP = {
    "level": "Schymanski confidence level: 2a confident library match; 3 tentative candidate "
    "(positive spectral evidence and the mass or formula fits); 4 formula only; 5 mass only; "
    "empty: no mass, formula or spectral evidence",
    "probability": "probability that this hit is the right structure when the right one may be "
    "missing from the registry (open-world calibration on held-out spectra); a query's "
    "probabilities add up to at most 1; empty without a calibration or an MS/MS spectrum",
    "ranking value": "what the hits are ordered by: a confident library match's score first, "
    "then the learned ranker's score (or, ranked by hand, the model's score + 0.25 x library "
    "score)",
    "in-window p": "the learned ranker's probability that this hit is the right one if the "
    "right one is among the candidates it re-ranked (calibrated on held-out windows)",
    "library score": "entropy similarity to the best stored reference spectrum of this "
    "structure (precursor within the window); >= 0.7 with >= 6 matched peaks is confident",
    "matched peaks": "fragment peaks shared with that reference spectrum",
    "score": "the model's reference-free score: cosine of the query and structure embeddings "
    "(weighted mean over the modalities)",
    "ppm error": "candidate's monoisotopic mass against the query's neutral mass, in ppm",
    "CCS dev. %": "query CCS against the candidate's measured CCS of the same ion (its predicted"
    " CCS where none was measured), in %",
    "CCS ± %": "the predicted CCS's 95 % interval, in % (the search's window for it unless a"
    " predicted-CCS tolerance is given; empty for a measured value)",
}


def plural(n: int, word: str, words: str | None = None) -> str:
    """'1 candidate', '2 candidates'; `words` where the plural is not word + s."""
    return f"{n:,} {word if n == 1 else words or word + 's'}"


def caption(result: dict, ppm: float) -> str:
    """What was searched and how many candidates each filter left."""
    mass = result["neutral_mass"]
    text = (
        f"{result['query']} · model {result['model']} · {plural(result['candidates'], 'candidate')}"
    )
    text += f" within {ppm:g} ppm of {mass:.5f}" if mass else " (no mass filter)"
    counts = result["filters"]
    if counts:
        first = "mass window" if mass else "all structures"
        text += f" ({first} {counts['mass_window']:,}"
        for key, label in (("formula", "formula"), ("sources", "source"), ("ccs", "CCS")):
            previous = list(counts)[list(counts).index(key) - 1]
            if counts[key] != counts[previous]:
                text += f", the {label} filter kept {counts[key]:,}"
        text += ")"
    return text + "".join(f" ({note})" for note in result["notes"])


def confidence_line(result: dict) -> str | None:
    """The query's confidence in words: how likely the top hit is right, and how near the
    library comes to the unknown."""
    c = result["confidence"]
    if c["top_hit_probability"] is None:
        return None
    p = c["top_hit_probability"]
    verdict = "likely right" if p >= 0.8 else "uncertain" if p >= 0.5 else "probably not the answer"
    text = f"Top hit {verdict}: probability {p:.2f} that it is the right structure"
    best = c["best_library_score"]
    if best is None or best < 0.5:
        text += " · no library spectrum at this precursor matches: the compound may be new to it"
    if c["best_analogue_score"] is not None:
        text += f" · nearest library spectrum (any precursor) {c['best_analogue_score']:.2f}"
    return text


def suggestions(result: dict, ppm: float) -> str:
    """What to widen when a query has no candidate."""
    tips = []
    if result["neutral_mass"]:
        tips.append(f"widen the mass window (now {ppm:g} ppm)")
        tips.append(f"check the adduct (searched as {result['adduct']})")
    counts = result["filters"]
    for key, label in (("formula", "formula"), ("sources", "sources"), ("ccs", "CCS")):
        if key in counts and counts[key] == 0:
            tips.append(f"drop or widen the {label} filter")
    return "no candidate passed the filters: " + "; ".join(tips or ["give a precursor m/z"])


def show_search() -> None:
    state = st.session_state.get("search")
    if not state:
        return
    results, run = state["results"], state["run"]
    chosen = 0
    if len(results) > 1:
        st.subheader(f"{len(results)} queries")
        chosen = choose(
            "query",
            pd.DataFrame([_query_row(r) for r in results]),
            f"{run}",
            lambda n: f"{n + 1}. {results[n]['query']}",
        )
    result = results[chosen]
    st.caption(caption(result, state["ppm"]))
    line = confidence_line(result)
    if line:
        (st.success if result["confidence"]["top_hit_probability"] >= 0.8 else st.warning)(line)
    if not result["hits"]:
        st.warning(suggestions(result, state["ppm"]))
    else:
        _hits(result, state["spectra"][chosen], state["ir"][chosen], f"{run}-{chosen}")
    if result["analogues"]:
        st.caption("analogue matches (other precursors: a related structure, not this one)")
        st.dataframe(components.readable(result["analogues"]), hide_index=True)
    a, b = st.columns(2)
    a.download_button("results as CSV", table_text(results, ","), "molvis-results.csv", "text/csv")
    b.download_button(
        "results as TSV", table_text(results), "molvis-results.tsv", "text/tab-separated-values"
    )


def choose(label: str, table: pd.DataFrame, key: str, name, **shown) -> int:
    """A table whose rows a click chooses, and the chooser under it (keyboard), which reads
    the clicked row: both keyed by `key` (the search and the query they belong to), so a
    chooser never names a row of an earlier answer. The chosen row's position."""
    event = st.dataframe(
        table,
        hide_index=True,
        width="stretch",
        on_select="rerun",
        selection_mode="single-row",
        key=f"{label}-table-{key}",
        **shown,
    )
    clicked = event.selection.rows[0] if event.selection.rows else 0
    return st.selectbox(
        label, range(len(table)), index=clicked, key=f"{label}-{key}-{clicked}", format_func=name
    )


def _query_row(result: dict) -> dict:
    best = result["hits"][0] if result["hits"] else {}
    return {
        "query": result["query"],
        "precursor m/z": result["precursor_mz"],
        "adduct": result["adduct"],
        "rt (min)": result.get("rt"),
        "CCS (A^2)": None if result.get("ccs") is None else round(result["ccs"], 1),
        "candidates": result["candidates"],
        "best hit": best.get("name") or best.get("inchikey"),
        "level": best.get("level"),
        "probability": best.get("probability"),
    }


def hit_rows(result: dict) -> list[dict]:
    """The hits table: the ranking value and each piece of evidence, narrow enough for a
    1440-pixel screen (per-modality scores only when more than one modality was searched)."""
    rows = []
    for h in result["hits"]:
        lib, ccs = h["evidence"]["library"] or {}, h["evidence"]["ccs"] or {}
        row = {
            "structure": components.svg_data_url(components.structure_svg(h["smiles"])),
            "rank": h["rank"],
            "name": h["name"] or h["inchikey"],
            "level": h["level"],
            "probability": h["probability"],
            "ranking value": h["ranking_value"],
            "in-window p": h["evidence"]["ranking"].get("window_probability"),
            "library score": lib.get("score"),
            "matched peaks": lib.get("matched_peaks"),
            "score": None if h["score"] is None else round(h["score"], 4),
        }
        if len(h["scores"]) > 1:
            row |= {f"{m} score": round(v, 4) for m, v in h["scores"].items()}
        row |= {"ppm error": h["evidence"]["ppm_error"], "formula": h["formula"]}
        if ccs:
            row |= {"CCS dev. %": ccs.get("deviation_pct"), "CCS from": ccs.get("basis")}
            row |= {"CCS ± %": ccs.get("uncertainty_pct")}
        rows.append(row | {"inchikey": h["inchikey"]})
    return rows


def _hits(result: dict, query_spectrum, query_ir, key: str) -> None:
    config = {name: st.column_config.Column(name, help=text) for name, text in HELP.items()}
    config["structure"] = st.column_config.ImageColumn("structure", width=70)
    config["rank"] = st.column_config.NumberColumn("rank", width=40)
    config["name"] = st.column_config.TextColumn("name", width=170)
    config["inchikey"] = st.column_config.TextColumn("inchikey", width=230)
    hits = result["hits"]
    pick = choose(
        "hit",
        pd.DataFrame(hit_rows(result)),
        key,
        lambda n: f"{hits[n]['rank']}. {hits[n]['name'] or hits[n]['inchikey']}",
        row_height=70,
        column_config=config,
    )
    st.markdown(hits[pick]["summary"])
    _evidence(hits[pick], result, query_spectrum, query_ir)


def _evidence(hit: dict, result: dict, query_spectrum, query_ir) -> None:
    """The hit's mirror plot against its best library spectrum (IR: the overlay), and a link
    to its compound page."""
    lib = hit["evidence"]["library"]
    if lib and lib["search"] == "ir":
        with session() as s:
            reference = browse.ir_processed(s, lib["spectrum_id"])
        title = f"IR cosine {lib['score']:.3f} to {lib['record_id'] or 'a stored spectrum'}"
        if reference and query_ir is not None:
            label = f"{lib['reference_name'] or lib['reference_inchikey']} ({lib['source']})"
            st.pyplot(components.ir_overlay(IR_GRID, query_ir, reference, label, title))
        else:
            st.caption(title)
    elif lib and query_spectrum:
        with session() as s:
            reference = browse.msms_peaks(s, lib["spectrum_id"])
        if reference:
            st.altair_chart(
                components.mirror_chart(
                    *query_spectrum,
                    *reference,
                    f"{lib['record_id'] or 'library'} ({lib['adduct']})",
                    title=f"entropy similarity {lib['score']:.3f}, {lib['matched_peaks']} matched "
                    f"peaks · query {result['adduct']} / reference {lib['adduct']}",
                ),
                width="stretch",
            )
    elif query_spectrum:
        st.caption("no library spectrum of this structure matched: the model ranks it")
    fragments = hit["evidence"].get("fragments") or {}
    if query_spectrum and fragments.get("annotations") is not None:
        st.altair_chart(
            components.fragment_chart(
                *query_spectrum,
                fragments["annotations"],
                title=f"its in-silico fragments explain {fragments['explained_peaks']} of "
                f"{fragments['peaks']} fragment peaks, "
                f"{100 * fragments['explained_intensity']:.0f} % of their intensity",
            ),
            width="stretch",
        )
        if fragments["annotations"]:
            st.dataframe(pd.DataFrame(fragments["annotations"]), hide_index=True)
    if query_spectrum and fragments.get("predicted_similarity") is not None:
        predicted = predicted_spectrum_of(hit["smiles"], result["adduct"])
        if predicted is not None:
            st.altair_chart(
                components.mirror_chart(
                    *query_spectrum,
                    *predicted[:2],
                    "predicted by the forward model",
                    title=f"predicted spectrum: entropy similarity "
                    f"{fragments['predicted_similarity']:.3f}",
                ),
                width="stretch",
            )
    if st.button("open its compound page", key="open"):
        st.session_state["query_spectrum"] = query_spectrum
        st.session_state["query_precursor"] = result["precursor_mz"]
        st.query_params["page"] = "compound"
        st.query_params["inchikey"] = hit["inchikey"]
        st.rerun()
