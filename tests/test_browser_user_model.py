"""The user's own model in a real browser (issue 14): an ONNX upload and a predictions-only audit.

A Streamlit server on a fresh SQLite store and a real worker process, driven by Playwright in
the system Chromium (as tests/test_browser_jobs.py). A signed-in reviewer uploads a seeded CSV
with an ONNX model converted by skl2onnx from a pipeline fitted on it, runs the audit as a job,
opens it, and every page names that model as the audited one; then audits a predictions column,
where the sections that need a callable model say they were not run and why.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from argon2 import PasswordHasher

from audit.store.core import AuditStore
from tests.conftest import make_synthetic
from tests.test_browser import (
    ARTIFACTS,
    RUN_TIMEOUT_MS,
    click_nav,
    goto_page,
    launch_chromium,
    no_exception,
    shoot,
    sign_in,
    streamlit_server,
    wait_idle,
    wait_title,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]
PASSWORD = "correct horse battery"
MODEL_NAME = "credit_gbm.onnx"
ONNX_LABEL = f"Your model ({MODEL_NAME}, ONNX)"
PRED_LABEL = "Your predictions (column risk)"
NEEDS_CALLABLE = "needs a callable model"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("byo")
    mp = pytest.MonkeyPatch()
    mp.setenv("AUDIT_JOB_DIR", str(tmp / "spool"))  # the server and its workers inherit it
    db = tmp / "audit.db"
    with AuditStore(db, password_hasher=PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)) as store:
        store.create_user("alice", password=PASSWORD, role="reviewer")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    try:
        with streamlit_server(db=db, log=ARTIFACTS / "streamlit_user_model.log") as url:
            yield url
    finally:
        mp.undo()


@pytest.fixture(scope="module")
def page(server):
    """One signed-in browser tab for both tests: each starts from the New audit page."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = launch_chromium(p)
        pg = browser.new_context(viewport={"width": 1400, "height": 2400}).new_page()
        pg.set_default_timeout(60_000)
        pg.goto(f"{server}/login")
        wait_idle(pg)
        sign_in(pg, "alice", PASSWORD)
        yield pg
        browser.close()


def _main_text(page) -> str:
    return page.locator("[data-testid='stMainBlockContainer']").inner_text()


def _upload_data(page, path) -> None:
    click_nav(page, "New audit", "New audit")
    wait_idle(page)
    page.locator(".st-key-upload_data input[type=file]").set_input_files(str(path))
    page.get_by_text("Inferred schema").wait_for()
    wait_idle(page)
    page.locator('[data-testid="stExpander"] summary', has_text="Your model (optional)").click()
    wait_idle(page)


def _keep_sections(page, keep: tuple[str, ...]) -> None:
    sections = page.locator(".st-key-opt_sections")
    for name in ("Performance", "Fairness", "Explanations", "Robustness", "Drift", "Privacy"):
        remove = sections.locator(f'button[aria-label="Remove {name}"]')
        if name not in keep and remove.count():
            remove.click()
    for name in keep:
        assert sections.locator(f'button[aria-label="Remove {name}"]').count() == 1, name
    # No cross-validation of the baselines: they are only references here, and it keeps the job short.
    folds = page.locator(".st-key-opt_cv input")
    folds.fill("0")
    folds.press("Tab")


def _run_and_open(page) -> None:
    """Run the audit as a job, wait until that job is done and open it."""
    page.get_by_role("button", name="Run audit").click()
    toast = page.locator('[data-testid="stToast"]', has_text="started as job").first
    toast.wait_for()
    job = int(re.search(r"started as job (\d+)", toast.inner_text()).group(1))
    no_exception(page)
    # Streamlit marks a keyed widget's element with st-key-<key>: this job's own Open button.
    opener = page.locator(f".st-key-job_open_{job} button")
    opener.wait_for(timeout=RUN_TIMEOUT_MS)
    wait_idle(page)
    # The job list reruns every 2 s; a click that lands while that rerun starts can be lost, so click again.
    _until(page, lambda: opener.count() and opener.click(), lambda t: wait_title(page, "Overview", t))
    wait_idle(page)
    no_exception(page)


def _until(page, act, check, attempts: int = 3, timeout_ms: int = 20_000) -> None:
    """``act`` then ``check(timeout_ms)``; on a timeout wait for the app to be idle and try again."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    for attempt in range(attempts):
        act()
        try:
            check(timeout_ms)
            return
        except PlaywrightTimeout:
            if attempt == attempts - 1:
                shoot(page, "49_user_model_failure")
                raise
            wait_idle(page)


def _caption_names(page, label: str) -> None:
    """The page header says which model was audited."""
    header = page.locator('[data-testid="stCaptionContainer"]', has_text="audited model").first
    assert f"audited model {label}" in header.inner_text()


def test_an_onnx_upload_is_the_audited_model_on_every_page(page, tmp_path):
    from tests.test_user_model import fitted_pipeline, to_onnx_bytes

    frame = make_synthetic(400, seed=21)
    data = tmp_path / "loans.csv"
    frame.to_csv(data, index=False)
    model = tmp_path / MODEL_NAME
    model.write_bytes(to_onnx_bytes(fitted_pipeline(frame)))  # skl2onnx: one graph input per column

    _upload_data(page, data)
    page.locator("[class*='st-key-upload_model_'] input[type=file]").set_input_files(str(model))
    page.get_by_text(f"Audited model: {MODEL_NAME} (onnx, sha256").wait_for()
    wait_idle(page)
    # Drift needs a callable model: it scores the rows it shifts through the ONNX graph.
    _keep_sections(page, ("Performance", "Drift"))
    wait_idle(page)
    no_exception(page)
    shoot(page, "40_onnx_upload_form")
    _run_and_open(page)
    _caption_names(page, ONNX_LABEL)
    for area in ("Performance", "Drift"):
        assert page.locator("h4", has_text=area).count() == 1
    shoot(page, "41_onnx_overview")

    goto_page(page, "Performance")
    no_exception(page)
    _caption_names(page, ONNX_LABEL)
    page.get_by_text(f"Audited model: {ONNX_LABEL}").first.wait_for()
    shoot(page, "42_onnx_performance")

    goto_page(page, "Drift")
    no_exception(page)
    _caption_names(page, ONNX_LABEL)
    assert "Not run" not in _main_text(page)
    shoot(page, "43_onnx_drift")

    # Pages without a report header: the sidebar names the loaded audit's model, and so does the save panel.
    goto_page(page, "Reviews")
    no_exception(page)
    assert f"model {ONNX_LABEL}" in page.locator("[data-testid='stSidebar']").inner_text()
    page.locator('[data-testid="stVerticalBlock"]', has_text="Save the current audit").get_by_text(
        f"model {ONNX_LABEL}").first.wait_for()
    shoot(page, "48_onnx_reviews")


def test_a_predictions_only_audit_says_which_sections_need_a_callable_model(page, tmp_path):
    frame = make_synthetic(400, seed=21)
    # The model's output as a probability column: never a feature, never called.
    frame["risk"] = np.round(1 / (1 + np.exp(-2 * frame["x1"])), 4)
    data = tmp_path / "scored.csv"
    frame.to_csv(data, index=False)

    _upload_data(page, data)
    picker = page.locator("[class*='st-key-predictions_'] [data-testid='stSelectbox']")
    option = page.get_by_role("option", name="risk", exact=True)

    def open_picker() -> None:
        page.keyboard.press("Escape")  # a list left open by a lost click
        picker.locator("input").click()

    _until(page, open_picker, lambda t: option.wait_for(timeout=t), timeout_ms=10_000)
    option.click()
    page.get_by_text("Audited model: the predictions in column risk").wait_for()
    wait_idle(page)
    _keep_sections(page, ("Performance", "Explanations"))
    wait_idle(page)
    no_exception(page)
    shoot(page, "44_predictions_form")
    _run_and_open(page)
    _caption_names(page, PRED_LABEL)
    box = page.locator('[data-testid="stVerticalBlock"]').filter(
        has=page.locator("h4", has_text="Explanations")).last
    assert re.search(f"Not run: {NEEDS_CALLABLE}", box.inner_text()), box.inner_text()
    shoot(page, "45_predictions_overview")

    goto_page(page, "Performance")
    no_exception(page)
    _caption_names(page, PRED_LABEL)
    page.get_by_text(f"Audited model: {PRED_LABEL}").first.wait_for()
    shoot(page, "46_predictions_performance")

    goto_page(page, "Explanations")
    no_exception(page)
    _caption_names(page, PRED_LABEL)
    page.locator('[data-testid="stAlert"]', has_text=f"Not run: {NEEDS_CALLABLE}").wait_for()
    assert "not selected for this audit" not in _main_text(page)
    shoot(page, "47_predictions_explanations")
