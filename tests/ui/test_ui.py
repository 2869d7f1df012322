import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import REPO, shared

APP = REPO / "ui" / "app.py"
# fuberidazole [M-H]- from the GNPS pesticides file (its first spectrum, peaks trimmed)
PEAKS = "\n".join(["64.0 2.1", "89.04 3.3", "127.02 4.0", "155.05 10.5", "183.06 100"])


@pytest.fixture
def seeded_model(seed_registry):
    return seed_registry(gnps=True, model="random").engine


def test_query_page_with_apptest(seeded_model):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(APP), default_timeout=120).run()
    assert not at.exception
    at.text_area[0].input(PEAKS)
    at.number_input[0].set_value(183.057)
    at.selectbox[0].select("[M-H]-")
    at.button[0].click().run()
    assert not at.exception and not at.error
    assert "1 candidate within 10 ppm" in result_caption(at)
    table = at.dataframe[0].value
    assert list(table["rank"])[:1] == [1] and "UYJUZNLFJAWNEZ-UHFFFAOYSA-N" in set(
        table["inchikey"]
    )


def images(node) -> list:
    """Every image element (st.pyplot figures) under a node of the page."""
    found = [node] if type(node).__name__ == "Image" else []
    for child in getattr(node, "children", {}).values():
        found += images(child)
    return found


def charts(node) -> list:
    """Every Altair/Vega-Lite chart under a node of the page."""
    found = [node] if getattr(node, "type", None) == "vega_lite_chart" else []
    for child in getattr(node, "children", {}).values():
        found += charts(child)
    return found


def chooser(at, label: str):
    """The page's selectbox with this label (their keys follow the search and the query)."""
    (box,) = [b for b in at.selectbox if b.label == label]
    return box


def shown(box) -> str:
    """What a selectbox reads on screen."""
    return box.options[box.index]


def result_caption(at) -> str:
    """The caption that says what was searched (the page has other captions too)."""
    (caption,) = [c.value for c in at.caption if " · model " in c.value]
    return caption


def _run_file(name: str, data: bytes):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(APP), default_timeout=120).run()
    at.file_uploader(key="upload").upload(name, data).run()
    assert not at.exception and not at.error
    at.button[0].click().run()
    assert not at.exception and not at.error
    return at


def test_a_file_of_spectra_gives_a_query_table_and_the_fourth_keeps_its_hits(
    seeded_model, tmp_path
):
    """Each spectrum of the file is searched; choosing the 4th shows its hits, in the order
    `molvis search` gives for the same file, and choosing another keeps the answers."""
    from tests.builders import write
    from tests.conftest import first_mgf_blocks, molvis

    text = first_mgf_blocks(shared("gnps", "pesticides.mgf"), 5)
    path = write(tmp_path, "run.mgf", text)
    cli = json.loads(molvis("search", "--msms", str(path), "--json").stdout)
    at = _run_file("run.mgf", text.encode())
    queries = at.dataframe[0].value
    assert list(queries["query"]) == [r["query"] for r in cli]
    assert list(queries["level"]) == [r["hits"][0]["level"] for r in cli]
    assert shown(chooser(at, "hit")).startswith(f"1. {cli[0]['hits'][0]['name']}")
    chooser(at, "query").set_value(3).run()
    assert not at.exception and not at.error
    fourth = cli[3]
    # the hit chooser reads the 4th query's rank 1, not the first query's
    first_hit = fourth["hits"][0]
    assert shown(chooser(at, "hit")) == f"1. {first_hit['name'] or first_hit['inchikey']}"
    assert shown(chooser(at, "query")) == f"4. {fourth['query']}"
    caption = result_caption(at)
    assert caption.startswith(
        f"{fourth['query']} · model ui-model · {fourth['candidates']} candidate"
    )
    hits = at.dataframe[1].value
    assert list(hits["inchikey"]) == [h["inchikey"] for h in fourth["hits"]]
    assert list(hits["level"]) == [h["level"] for h in fourth["hits"]]
    assert list(hits["rank"]) == list(range(1, len(fourth["hits"]) + 1))
    # back to the first: its answers are still there, nothing was searched again
    chooser(at, "query").set_value(0).run()
    assert list(at.dataframe[1].value["inchikey"]) == [h["inchikey"] for h in cli[0]["hits"]]


def test_a_hit_shows_its_mirror_plot_and_the_compound_page_keeps_it(seeded_model):
    data = (REPO / "tests" / "data" / "gnps_pesticides_3.mgf").read_bytes()
    at = _run_file("run.mgf", data)
    hits = at.dataframe[1].value
    assert hits["level"].iloc[0] == "2a" and hits["library score"].iloc[0] > 0.99
    # the mirror plot of the chosen (first) hit, its in-silico fragments over the query with
    # their table, its predicted spectrum against the query, and its evidence in words
    assert len(charts(at.main)) == 3  # + the query against the predicted spectrum
    fragments = at.dataframe[2].value
    assert {"mz", "formula", "smiles", "ppm_error"} <= set(fragments.columns)
    assert len(fragments) > 0 and fragments["formula"].str.endswith("-").all()
    assert any(m.value.startswith("level 2a: library match 1.00") for m in at.markdown)
    library_score = hits["library score"].iloc[0]
    at.button(key="open").click().run()
    assert not at.exception
    assert at.query_params["page"] == ["compound"] or at.query_params["page"] == "compound"
    assert "Fuberidazole" in at.header[0].value
    # every stored spectrum listed with its title and its similarity to the query; the most
    # similar one drawn against the query; the way back to the results
    spectra = at.dataframe[0].value
    assert list(spectra.columns) == ["spectrum", "precursor m/z", "similarity to the query"]
    assert spectra["spectrum"].iloc[0].startswith("CCMSLIB00001058235 · [M-H]-")
    assert spectra["similarity to the query"].max() == pytest.approx(library_score, abs=1e-3)
    assert chooser(at, "spectrum to draw").options[0].endswith(f"similarity {library_score:.3f}")
    assert len(charts(at.main)) == 1 and at.session_state["query_spectrum"] is not None
    at.button(key="back").click().run()
    assert not at.exception and at.header[0].value == "Which structures fit my unknown?"
    assert list(at.dataframe[1].value["inchikey"])[0] == hits["inchikey"].iloc[0]


def test_invalid_numbers_stop_the_search_with_a_message(seeded_model):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(APP), default_timeout=120).run()
    at.text_area[0].input(PEAKS)
    at.number_input[0].set_value(183.057)
    at.number_input[1].set_value(-5.0)  # ppm
    at.button[0].click().run()
    assert not at.exception
    assert "mass window -5 ppm: give a number in (0, 1000]" in at.error[0].value
    assert not at.dataframe
    at.number_input[1].set_value(10.0)
    at.number_input[3].set_value(0.0)  # CCS window for measured values
    at.button[0].click().run()
    assert "CCS tolerance 0 %: give a positive number" in at.error[0].value


def test_modality_weights_set_the_fused_score(seeded_model):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(APP), default_timeout=120).run()
    at.text_area[0].input(PEAKS)
    at.number_input[0].set_value(183.057)
    at.selectbox[0].select("[M-H]-")
    at.number_input[2].set_value(140.0)  # CCS
    at.selectbox[1].select("[M-H]-")  # CCS adduct
    for w_msms, w_ccs in ((1.0, 0.5), (0.2, 1.0)):
        at.slider(key="w_msms").set_value(w_msms)
        at.slider(key="w_ccs").set_value(w_ccs)
        at.button[0].click().run()
        assert not at.exception and not at.error
        table = at.dataframe[0].value
        fused = (w_msms * table["msms score"] + w_ccs * table["ccs score"]) / (w_msms + w_ccs)
        assert list(table["score"]) == pytest.approx(list(fused), abs=2e-4)
        assert list(table["score"]) == sorted(table["score"], reverse=True)


def test_upload_a_jcamp_ir_spectrum(seeded_model):
    from sqlalchemy import text
    from streamlit.testing.v1 import AppTest

    with seeded_model.connect() as conn:
        structures = conn.execute(text("SELECT count(*) FROM compound")).scalar_one()
    data = shared("ir", "jcamp", "benzene.jdx").read_bytes()
    at = AppTest.from_file(str(APP), default_timeout=120).run()
    at.file_uploader(key="upload").upload("benzene.jdx", data).run()
    at.button[0].click().run()
    assert not at.exception and not at.error
    assert f"{structures} candidates (no mass filter)" in result_caption(at)
    table = at.dataframe[0].value
    # one modality: its score is the score, no per-modality column
    assert (
        len(table) == 20 and "ir score" not in table.columns and "msms score" not in table.columns
    )
    # no mass and no spectral library match: no level 5 ("mass only") and no probability
    assert "5" not in set(table["level"]) and table["probability"].isna().all()


def test_bad_upload_gives_a_message_not_a_crash(seeded_model):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(APP), default_timeout=120).run()
    at.text_area[0].input("this is not a peak list")
    at.button[0].click().run()
    assert not at.exception
    assert "m/z intensity" in at.error[0].value


def test_registry_and_compound_pages(seeded_model):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(APP), default_timeout=120)
    at.query_params["page"] = "compound"
    at.query_params["inchikey"] = "UYJUZNLFJAWNEZ-UHFFFAOYSA-N"
    at.run()
    assert not at.exception
    assert "Fuberidazole" in at.header[0].value
    at = AppTest.from_file(str(APP), default_timeout=120)
    at.query_params["page"] = "registry"
    at.run()
    assert not at.exception and at.metric[0].value == "45"


def _wait_for_server(server: subprocess.Popen, port: int, timeout: float = 60) -> None:
    """Until the page's port accepts connections; fails if the server exits or never listens."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert server.poll() is None, f"the Streamlit server exited ({server.returncode})"
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise AssertionError(f"the Streamlit server did not listen on port {port} in {timeout} s")


def _wait_for_rerun(wait) -> None:
    """Until Streamlit has finished running the script (its running indicator is gone)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec

    wait.until(
        ec.invisibility_of_element_located((By.CSS_SELECTOR, "[data-testid='stStatusWidget']"))
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.browser
@pytest.mark.skipif(
    not Path("/usr/bin/chromium").exists() and not os.environ.get("CI"),
    reason="Debian chromium not installed (`make browser`; under CI the test runs and fails)",
)
def test_headless_browser_search(seeded_model, tmp_path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    from molvis.workflows.library_match import Library
    from molvis.workflows.model_loading import load_model
    from molvis.workflows.query import QueryFields, build_queries, pasted_spectrum
    from molvis.workflows.search import SearchOptions, run_query
    from registry.db.connection import session_scope
    from registry.db.settings import load_settings
    from tests.conftest import first_mgf_blocks, molvis

    fields = QueryFields(precursor_mz=185.0709)
    query = build_queries([pasted_spectrum(PEAKS, fields)], None, fields)[0]
    with session_scope(seeded_model) as session:
        library = Library(session, load_settings().home)
        loaded = load_model(seeded_model, read_only=True)
        found = run_query(session, loaded, query, SearchOptions(), library)
    expected_names = [h.name for h in found.result.hits]
    assert any("Fuberidazole" in n for n in expected_names)
    port = _free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            str(APP),
            "--server.port",
            str(port),
            "--server.headless",
            "true",
            "--server.address",
            "127.0.0.1",
            "--browser.gatherUsageStats",
            "false",
        ],
        env=os.environ.copy(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1400,1800",
        f"--user-data-dir={tmp_path / 'chrome'}",
    ):
        options.add_argument(flag)
    driver = None
    try:
        _wait_for_server(server, port)
        driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
        driver.get(f"http://127.0.0.1:{port}/?page=query")
        wait = WebDriverWait(driver, 120)
        area = wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "textarea")))
        area.send_keys(PEAKS)
        area.send_keys(Keys.CONTROL, Keys.ENTER)
        precursor = driver.find_element(By.CSS_SELECTOR, "input[aria-label^='precursor m/z']")
        precursor.send_keys(Keys.CONTROL, "a")
        precursor.send_keys("185.0709", Keys.ENTER)  # as if [M+H]+: the page assumes it
        _wait_for_rerun(wait)
        button = wait.until(
            ec.element_to_be_clickable((By.XPATH, "//button[.//p[text()='Search']]"))
        )
        button.click()
        caption = wait.until(
            ec.presence_of_element_located((By.XPATH, "//*[contains(text(), ' · model ')]"))
        )
        assert "model ui-model" in caption.text and "assumed [M+H]+" in caption.text
        wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "[data-testid='stDataFrame']")))
        _wait_for_rerun(wait)
        # the grid draws on a canvas and mirrors its cells in an accessible table: read that
        name_cells = wait.until(
            ec.presence_of_all_elements_located((By.CSS_SELECTOR, "td[aria-colindex='3']"))
        )
        rank_cells = driver.find_elements(By.CSS_SELECTOR, "td[aria-colindex='2']")
        shown = [c.get_attribute("textContent") for c in name_cells]
        assert shown == expected_names  # the page ranks as the workflow (and the CLI) does
        assert [c.get_attribute("textContent") for c in rank_cells] == [
            str(n) for n in range(1, len(expected_names) + 1)
        ]
        shot = tmp_path / "query_page.png"
        driver.save_screenshot(str(shot))
        Path(os.environ["MOLVIS_HOME"], "query_page.png").write_bytes(shot.read_bytes())
        # a file of five spectra: choose the 4th query; the hit chooser reads its rank 1
        run = tmp_path / "run.mgf"
        run.write_text(first_mgf_blocks(shared("gnps", "pesticides.mgf"), 5))
        cli = json.loads(molvis("search", "--msms", str(run), "--json").stdout)
        driver.find_element(By.CSS_SELECTOR, "input[type='file']").send_keys(str(run))
        precursor.send_keys(Keys.CONTROL, "a")
        precursor.send_keys("0", Keys.ENTER)  # the file's own precursors, as the CLI reads them
        _wait_for_rerun(wait)
        wait.until(
            ec.presence_of_element_located((By.XPATH, "//*[contains(text(), '5 spectra read')]"))
        )
        wait.until(
            ec.element_to_be_clickable((By.XPATH, "//button[.//p[text()='Search']]"))
        ).click()
        wait.until(ec.presence_of_element_located((By.XPATH, "//*[text()='5 queries']")))

        def chooser(label: str):
            # Streamlit's selectbox: a combobox input whose value is what it reads on screen
            return wait.until(
                ec.presence_of_element_located(
                    (By.CSS_SELECTOR, f"input[role='combobox'][aria-label='{label}']")
                )
            )

        def reads(label: str, text: str) -> bool:
            wait.until(lambda d: chooser(label).get_attribute("value") == text)
            return True

        first = cli[0]["hits"][0]
        assert reads("hit", f"1. {first['name'] or first['inchikey']}")
        chooser("query").click()
        wait.until(
            ec.element_to_be_clickable(
                (By.XPATH, "//*[@role='option'][starts-with(normalize-space(.), '4. ')]")
            )
        ).click()
        fourth = cli[3]["hits"][0]
        assert reads("query", f"4. {cli[3]['query']}")
        assert reads("hit", f"1. {fourth['name'] or fourth['inchikey']}")
        driver.save_screenshot(str(shot))
        Path(os.environ["MOLVIS_HOME"], "query_page_4th.png").write_bytes(shot.read_bytes())
    finally:
        if driver is not None:
            driver.quit()
        server.terminate()
        server.wait(timeout=20)


def test_caption_names_the_filter_that_removed_candidates():
    from ui.results import caption

    result = {
        "query": "q1",
        "model": "m",
        "candidates": 0,
        "neutral_mass": 180.06406,
        "precursor_mz": 181.0713,
        "notes": ["no adduct given: assumed [M+H]+"],
        "filters": {"mass_window": 3, "formula": 0, "sources": 0, "ccs": 0},
    }
    assert caption(result, 10) == (
        "q1 · model m · 0 candidates within 10 ppm of 180.06406 (mass window 3, the formula "
        "filter kept 0) (no adduct given: assumed [M+H]+)"
    )
    result["filters"] = {"mass_window": 3, "formula": 3, "sources": 3, "ccs": 2}
    assert "(mass window 3, the CCS filter kept 2)" in caption({**result, "candidates": 2}, 10)
    assert caption({**result, "neutral_mass": None, "filters": {}, "notes": []}, 10) == (
        "q1 · model m · 0 candidates (no mass filter)"
    )
    # no precursor, but a CCS filter: its count is said
    no_mass = {**result, "neutral_mass": None, "notes": [], "candidates": 1}
    no_mass["filters"] = {"mass_window": 33543, "formula": 33543, "sources": 33543, "ccs": 445}
    assert caption(no_mass, 10) == (
        "q1 · model m · 1 candidate (no mass filter) (all structures 33,543, the CCS filter "
        "kept 445)"
    )


def test_no_candidate_suggests_what_to_widen_and_confidence_is_said():
    from ui.results import confidence_line, suggestions

    result = {
        "neutral_mass": 180.06,
        "adduct": "[M+H]+",
        "filters": {"mass_window": 3, "formula": 0, "sources": 0, "ccs": 0},
    }
    assert suggestions(result, 10) == (
        "no candidate passed the filters: widen the mass window (now 10 ppm); check the adduct "
        "(searched as [M+H]+); drop or widen the formula filter; drop or widen the "
        "sources filter; drop or widen the CCS filter"
    )
    assert suggestions({"neutral_mass": None, "filters": {}}, 10).endswith("give a precursor m/z")
    low = {
        "confidence": {
            "top_hit_probability": 0.12,
            "best_library_score": 0.3,
            "best_analogue_score": 0.41,
        }
    }
    assert confidence_line(low) == (
        "Top hit probably not the answer: probability 0.12 that it is the right structure · no "
        "library spectrum at this precursor matches: the compound may be new to it · nearest "
        "library spectrum (any precursor) 0.41"
    )
    high = {
        "confidence": {
            "top_hit_probability": 0.93,
            "best_library_score": 0.95,
            "best_analogue_score": None,
        }
    }
    assert confidence_line(high) == (
        "Top hit likely right: probability 0.93 that it is the right structure"
    )
    assert confidence_line({"confidence": {"top_hit_probability": None}}) is None


def test_skipped_records_override_notes_and_a_bad_upload_keeps_the_page(seeded_model):
    """An upload lists the records it skipped; a typed precursor that replaces the spectra's
    own says so in each query's caption; a bad upload afterwards leaves the form and the
    earlier answers in place."""
    from streamlit.testing.v1 import AppTest

    good = (REPO / "tests" / "data" / "gnps_pesticides_3.mgf").read_text()
    bad = "BEGIN IONS\nTITLE=broken\nPEPMASS=abc\n100.0 zz\nEND IONS\n"
    at = AppTest.from_file(str(APP), default_timeout=120).run()
    at.file_uploader(key="upload").upload("run.mgf", (good + bad).encode()).run()
    assert any(
        c.value == "run.mgf: 3 spectra read, 1 record skipped: each is searched" for c in at.caption
    )
    skipped = at.dataframe[0].value
    assert list(skipped.columns) == ["record", "reason"] and len(skipped) == 1
    at.number_input[0].set_value(183.057)
    at.button[0].click().run()
    assert not at.exception and not at.error
    assert "precursor m/z 183.057 given replaces the spectrum's 208.146" not in result_caption(at)
    chooser(at, "query").set_value(1).run()
    assert "precursor m/z 183.057 given replaces the spectrum's 208.146" in result_caption(at)
    answers = at.dataframe[-1].value
    at.file_uploader(key="upload").upload("broken.mgf", bad.encode()).run()
    assert not at.exception
    assert "no readable spectrum" in at.error[0].value
    assert at.button[0].label == "Search" and at.number_input[0].value == 183.057
    assert list(at.dataframe[-1].value["inchikey"]) == list(answers["inchikey"])


def test_an_mzml_upload_gives_each_ms2_scan_with_its_retention_time_and_ccs(seeded_model):
    """An LC-MS run uploaded as mzML: its MS1 and empty scans listed as skipped, repeated scans
    of one precursor merged, each query with its retention time and its CCS from 1/K0."""
    from streamlit.testing.v1 import AppTest

    data = (REPO / "tests" / "data" / "run_negative.mzML").read_bytes()
    at = AppTest.from_file(str(APP), default_timeout=120).run()
    at.file_uploader(key="upload").upload("run.mzML", data).run()
    assert not at.exception
    assert any(
        c.value == "run.mzML: 4 spectra read (3 after merging repeated scans), 3 records "
        "skipped: each is searched"
        for c in at.caption
    )
    assert list(at.dataframe[0].value["reason"]) == [
        "an MS1 scan, not MS/MS: skipped",
        "an MS1 scan, not MS/MS: skipped",
        "spectrum has no peaks",
    ]
    at.button[0].click().run()
    assert not at.exception and not at.error
    queries = at.dataframe[1].value
    assert list(queries["query"]) == ["scans=2,4", "scan=5", "scan=6"]
    assert list(queries["rt (min)"]) == [5.025, 6.2, 7.3]
    assert list(queries["CCS (A^2)"].isna()) == [False, True, False]
    assert queries["CCS (A^2)"][0] == 131.7


def test_the_hit_table_shows_a_predicted_ccs_with_its_interval():
    from ui.results import HELP, hit_rows

    def hit(rank, ccs):
        evidence = {"library": None, "ccs": ccs, "ppm_error": 0.5, "ranking": {}}
        return {
            "rank": rank, "name": f"h{rank}", "inchikey": "K", "smiles": "CCO", "level": "3",
            "probability": 0.1, "score": 0.5, "scores": {"msms": 0.5}, "formula": "C2H6O",
            "evidence": evidence, "ranking_value": 0.5,
        }  # fmt: skip

    predicted = {"basis": "predicted", "deviation_pct": 2.1, "uncertainty_pct": 5.4}
    measured = {"basis": "measured", "deviation_pct": -0.4}
    rows = hit_rows({"hits": [hit(1, predicted), hit(2, measured), hit(3, None)]})
    assert [r.get("CCS ± %") for r in rows] == [5.4, None, None]
    assert [r.get("CCS from") for r in rows] == ["predicted", "measured", None]
    assert "CCS ± %" not in rows[2] and "CCS ± %" in HELP


def test_the_uploader_offers_every_file_the_page_reads():
    """Each test file the page's reader reads has a suffix the uploader offers (a JSON export
    that could be read but not chosen was a gap)."""
    from molvis.workflows.query import read_upload
    from tests.conftest import REPO
    from ui.query_page import UPLOAD_TYPES

    data = REPO / "tests" / "data"
    for name in ("gnps_pesticides_3.json", "gnps_pesticides_3.mgf", "run_negative.mzML"):
        spectra, _, _ = read_upload(name, (data / name).read_bytes())
        assert spectra and name.rsplit(".", 1)[1].lower() in UPLOAD_TYPES
    assert {"jdx", "msp", "mzxml", "gz"} <= set(UPLOAD_TYPES)
