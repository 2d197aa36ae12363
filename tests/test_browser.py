"""The real app in a real browser: a Streamlit server driven by Playwright in the system Chromium.

Runs the embedded sample end to end with the "Quick" preset (a seeded 4,000-row
sample through the real pipeline, every section), visits every page, uploads a
small CSV and a broken one, and saves screenshots under tests/artifacts/.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.conftest import ROOT, make_synthetic

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
ARTIFACTS = ROOT / "tests" / "artifacts"
STREAMLIT = Path(sys.executable).with_name("streamlit")
# Sidebar label -> page title (the h1 each page shows).
PAGES = {
    "Overview": "Overview", "Data": "Data", "Performance": "Performance", "Fairness": "Fairness",
    "Explanations": "Explanations", "Robustness": "Robustness", "Drift": "Drift", "Privacy": "Privacy",
    "Model card": "Model card", "Reviews": "Reviews", "History": "History",
}
RUN_TIMEOUT_MS = 15 * 60 * 1000  # the sample audit on a loaded CI machine


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def streamlit_server(*, db: Path, log: Path):
    """Start ``streamlit run dashboard/app.py`` on a free port; yield its URL; stop it."""
    port = free_port()
    env = {**os.environ, "AUDIT_DB_URL": str(db), "PYTHONUNBUFFERED": "1"}
    cmd = [str(STREAMLIT), "run", "dashboard/app.py", "--server.headless", "true", "--server.port", str(port),
           "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"]
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            url = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 120
            while True:
                try:
                    with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                        if r.status == 200:
                            break
                except OSError:
                    pass
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"streamlit did not start: {log.read_text(errors='replace')[-2000:]}")
                time.sleep(0.3)
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()


def launch_chromium(playwright):
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (make browser-deps installs it)")
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


def wait_idle(page, timeout_ms: int = 60_000) -> None:
    """Wait until the script run finished and drew: the app says it is not running, nothing is stale,
    and no chart placeholder is left."""
    page.wait_for_function(
        "() => { const app = document.querySelector('[data-testid=\"stApp\"]');"
        " return app && app.getAttribute('data-test-script-state') === 'notRunning'"
        " && !document.querySelector('[data-stale=\"true\"]')"
        " && !document.querySelector('[data-testid=\"stMainBlockContainer\"] [data-testid=\"stSkeleton\"]'); }",
        timeout=timeout_ms, polling=50)


def wait_title(page, title: str, timeout_ms: int = 60_000) -> None:
    page.locator("[data-testid='stMainBlockContainer'] h1", has_text=title).first.wait_for(timeout=timeout_ms)


def click_nav(page, label: str, title: str, timeout_ms: int = 60_000, attempts: int = 3) -> None:
    """Click a sidebar link until its page's title shows.

    A click that lands while a rerun queued by the previous run (the cookie writer's after a
    sign-in) is still starting can be swallowed by that rerun; the user would click again, so do we.
    """
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    link = page.locator("[data-testid='stSidebarNav'] a", has_text=label).first
    for attempt in range(attempts):
        link.click()
        try:
            wait_title(page, title, timeout_ms // attempts if attempt < attempts - 1 else timeout_ms)
            return
        except PlaywrightTimeout:
            if attempt == attempts - 1:
                raise
            wait_idle(page, timeout_ms)


def sign_in(page, username: str, password: str, timeout_ms: int = 60_000) -> None:
    """Fill the sign-in form and wait until the signed-in page has drawn and the session cookie is set
    (sign-in costs two runs: the signed-in page, then the cookie writer's rerun)."""
    page.get_by_role("textbox", name="Username").fill(username)
    page.get_by_role("textbox", name="Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_text(f"Signed in as {username}").first.wait_for(timeout=timeout_ms)
    page.wait_for_function("() => document.cookie.includes('rai_session=')", timeout=timeout_ms)
    wait_idle(page, timeout_ms)


def goto_page(page, label: str, timeout_ms: int = 60_000) -> None:
    click_nav(page, label, PAGES[label], timeout_ms)
    wait_idle(page, timeout_ms)


def no_exception(page) -> None:
    shown = page.locator('[data-testid="stException"]')
    assert shown.count() == 0, shown.first.inner_text()[:2000]


def shoot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("browser")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with streamlit_server(db=tmp / "audit.db", log=ARTIFACTS / "streamlit.log") as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = launch_chromium(p)
        yield b
        b.close()


@pytest.fixture()
def page(browser):
    ctx = browser.new_context(viewport={"width": 1400, "height": 2400})
    pg = ctx.new_page()
    pg.set_default_timeout(60_000)
    yield pg
    ctx.close()


def test_sample_audit_end_to_end_and_every_page(server, page):
    page.goto(server)
    wait_title(page, "New audit")
    wait_idle(page)
    no_exception(page)
    shoot(page, "01_start")
    page.get_by_role("button", name="Run the sample audit").click()
    page.locator('[data-testid="stExpander"]', has_text="Running the audit").first.wait_for(timeout=60_000)
    time.sleep(1.0)
    shoot(page, "02_running")
    wait_title(page, "Overview", RUN_TIMEOUT_MS)
    wait_idle(page)
    no_exception(page)
    for area in ("Data", "Performance", "Fairness", "Explanations", "Robustness", "Drift", "Privacy"):
        assert page.locator("h4", has_text=area).count() == 1
    assert page.get_by_text("ROC AUC (test)").count() == 1
    shoot(page, "03_overview")
    for i, label in enumerate(PAGES, start=4):
        goto_page(page, label)
        no_exception(page)
        shoot(page, f"{i:02d}_{label.lower().replace(' ', '_')}")
    # Lazy tabs: opening another tab of the Performance page reruns it and draws that tab's charts.
    from playwright.sync_api import expect

    goto_page(page, "Performance")
    expect(page.locator('[data-testid="stPlotlyChart"]')).to_have_count(2)
    page.get_by_role("tab", name="Baselines").click()
    page.get_by_text("Baselines on ROC AUC").wait_for()
    wait_idle(page)
    no_exception(page)
    shoot(page, "15_performance_baselines")


def test_upload_a_small_csv_and_a_broken_one(server, page, tmp_path):
    good = tmp_path / "small.csv"
    make_synthetic(300, seed=11).to_csv(good, index=False)
    bad = tmp_path / "broken.csv"
    bad.write_bytes(b"\x00\x01\x02 not a table \x00" * 50)

    page.goto(server)
    wait_title(page, "New audit")
    wait_idle(page)
    uploads = page.locator('[data-testid="stFileUploaderDropzoneInput"]')
    uploads.first.set_input_files(str(bad))
    page.locator('[data-testid="stAlertContentError"]', has_text="not a table").wait_for()
    no_exception(page)
    shoot(page, "20_bad_upload")

    uploads.first.set_input_files(str(good))
    page.get_by_text("Inferred schema").wait_for()
    wait_idle(page)
    no_exception(page)
    sections = page.locator('[data-testid="stMultiSelect"]', has_text="Sections")
    for name in ("Fairness", "Explanations", "Robustness", "Drift", "Privacy"):
        remove = sections.locator(f'button[aria-label="Remove {name}"]')
        if remove.count():
            remove.click()
    shoot(page, "21_upload_form")
    page.get_by_role("button", name="Run audit").click()
    wait_title(page, "Overview", RUN_TIMEOUT_MS)
    wait_idle(page)
    no_exception(page)
    assert page.get_by_text("small.csv").count() >= 1
    shoot(page, "22_upload_overview")
