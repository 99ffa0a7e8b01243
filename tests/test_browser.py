"""The served dashboard in a real browser: Voila on loopback, Debian's Chromium via playwright.

Run with ``make test PYTEST_ARGS="-m browser"`` (CI does). Screenshots go to
``test-artifacts/``.
"""
from __future__ import annotations

import base64
import io
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
EMPS_IMAGE = "ddffc403e3"  # an EMPS test image where the filter removes some particles


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def voila_url(published_weights, emps_dir, tmp_path_factory):
    voila = Path(sys.executable).with_name("voila")
    if not voila.exists():
        pytest.skip("voila is not installed (pip install -e '.[dashboard]')")
    port = _free_port()
    env = dict(os.environ, BPARTIS_NB_WEIGHTS=str(published_weights), BPARTIS_NB_EMPS=str(emps_dir),
               BPARTIS_NB_CACHE=str(tmp_path_factory.mktemp("cache")))
    log = open(tmp_path_factory.mktemp("voila") / "voila.log", "w")
    proc = subprocess.Popen(
        [str(voila), str(ROOT / "notebooks" / "dashboard.ipynb"), "--no-browser", f"--port={port}",
         "--Voila.ip=127.0.0.1", "--VoilaExecutor.timeout=180"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}/"
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=2).close()
            break
        except OSError:
            if proc.poll() is not None:
                pytest.fail(f"voila exited: {Path(log.name).read_text()[-2000:]}")
            time.sleep(0.5)
    else:
        proc.kill()
        pytest.fail("voila did not start within 60 s")
    yield url
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


@pytest.fixture(scope="module")
def page(voila_url):
    sync_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} not found (apt-get install chromium)")
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        pg = browser.new_page(viewport={"width": 1400, "height": 1100})
        pg.goto(voila_url, timeout=180_000)
        pg.wait_for_selector(".bp-run button, button.bp-run", timeout=180_000)
        yield pg
        browser.close()


def _upload(page, path: Path) -> None:
    with page.expect_file_chooser() as chooser:
        page.click(".bp-upload")
    chooser.value.set_files(str(path))


def _count(page) -> int:
    return int(page.inner_text(".bp-count"))


def _run_and_wait(page, timeout_ms: int = 180_000) -> float:
    before = page.inner_text(".bp-message")
    start = time.perf_counter()
    page.click("button.bp-run")
    page.wait_for_function(
        "prev => { const m = document.querySelector('.bp-message');"
        " return m && m.innerText !== prev && (m.innerText.includes('particles kept') || m.innerText.includes('Error')); }",
        arg=before, timeout=timeout_ms,
    )
    return time.perf_counter() - start


def _csv_rows(page) -> int:
    href = page.get_attribute("a.bp-download[download$='.csv']", "href")
    data = base64.b64decode(href.split(",", 1)[1])
    return len(pd.read_csv(io.BytesIO(data)))


def test_dashboard_end_to_end(page, emps_dir, tmp_path):
    # the built-in example, with no file of one's own
    _run_and_wait(page)
    assert _count(page) > 10
    # a real EMPS test image through the file input
    _upload(page, emps_dir / "images" / f"{EMPS_IMAGE}.png")
    seconds = _run_and_wait(page)
    page.screenshot(path=str(ARTIFACTS / "dashboard_result.png"), full_page=True)
    count = _count(page)
    assert count > 0
    assert _csv_rows(page) == count
    print(f"Run -> plots at T = 30: {seconds:.1f} s")

    # move the threshold slider to its ends: fewer particles at the low end, more at the high
    handle = page.locator(".bp-tu .noUi-handle")
    handle.focus()
    page.keyboard.press("Home")
    page.wait_for_timeout(1500)
    low = _count(page)
    page.keyboard.press("End")
    page.wait_for_timeout(1500)
    high = _count(page)
    page.screenshot(path=str(ARTIFACTS / "dashboard_high_threshold.png"), full_page=True)
    assert low <= count <= high and low < high
    assert _csv_rows(page) == high

    # a text file named .png: a readable error, and the page keeps its results
    fake = tmp_path / "not_an_image.png"
    fake.write_text("this is not an image")
    _upload(page, fake)
    _run_and_wait(page)
    page.screenshot(path=str(ARTIFACTS / "dashboard_error.png"), full_page=True)
    message = page.inner_text(".bp-error")
    assert "not an image" in message
    assert _count(page) == high  # earlier results are still there
    # ... and the page still works: upload a good image again and run
    _upload(page, emps_dir / "images" / f"{EMPS_IMAGE}.png")
    _run_and_wait(page)
    assert _count(page) > 0 and "bp-error" not in page.inner_html(".bp-message")
