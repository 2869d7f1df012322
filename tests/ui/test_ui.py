import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import REPO

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
    assert "candidates within 10 ppm" in at.caption[0].value
    table = at.dataframe[0].value
    assert list(table["rank"])[:1] == [1] and "UYJUZNLFJAWNEZ-UHFFFAOYSA-N" in set(
        table["inchikey"]
    )


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


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.skipif(not Path("/usr/bin/chromium").exists(), reason="Debian chromium not installed")
def test_headless_browser_search(seeded_model, tmp_path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

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
        deadline = time.time() + 60
        while time.time() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.5)
        driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
        driver.get(f"http://127.0.0.1:{port}/?page=query")
        wait = WebDriverWait(driver, 120)
        area = wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "textarea")))
        area.send_keys(PEAKS)
        area.send_keys(Keys.CONTROL, Keys.ENTER)
        precursor = driver.find_element(By.CSS_SELECTOR, "input[aria-label^='precursor m/z']")
        precursor.send_keys(Keys.CONTROL, "a")
        precursor.send_keys("185.0709", Keys.ENTER)  # as if [M+H]+: the page assumes it
        time.sleep(1)
        button = wait.until(
            ec.element_to_be_clickable((By.XPATH, "//button[.//p[text()='Search']]"))
        )
        button.click()
        caption = wait.until(
            ec.presence_of_element_located((By.XPATH, "//*[contains(text(), 'candidates')]"))
        )
        assert "model ui-model" in caption.text and "assumed [M+H]+" in caption.text
        wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "[data-testid='stDataFrame']")))
        time.sleep(2)
        shot = tmp_path / "query_page.png"
        driver.save_screenshot(str(shot))
        assert shot.stat().st_size > 10_000
        Path(os.environ["MOLVIS_HOME"], "query_page.png").write_bytes(shot.read_bytes())
    finally:
        if driver is not None:
            driver.quit()
        server.terminate()
        server.wait(timeout=20)
