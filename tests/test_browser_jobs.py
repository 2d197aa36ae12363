"""Audits as jobs in a real browser: sign in, start an audit, reload the page, see the job and its
progress, open the finished result. A real Streamlit server, a real worker process, system Chromium."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher

from audit.store.core import AuditStore
from tests.conftest import make_synthetic
from tests.test_browser import (
    ARTIFACTS, RUN_TIMEOUT_MS, click_nav, launch_chromium, no_exception, shoot, sign_in, streamlit_server, wait_idle, wait_title,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]
PASSWORD = "correct horse battery"


def test_start_an_audit_reload_see_its_progress_and_open_it(tmp_path, monkeypatch):
    from playwright.sync_api import sync_playwright

    monkeypatch.setenv("AUDIT_JOB_DIR", str(tmp_path / "spool"))
    db = tmp_path / "audit.db"
    with AuditStore(db, password_hasher=PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)) as store:
        store.create_user("alice", password=PASSWORD, role="reviewer")
    data = tmp_path / "loans.csv"
    make_synthetic(400, seed=11).to_csv(data, index=False)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with streamlit_server(db=db, log=ARTIFACTS / "streamlit_jobs.log") as url, sync_playwright() as p:
        browser = launch_chromium(p)
        page = browser.new_context(viewport={"width": 1400, "height": 2400}).new_page()
        page.set_default_timeout(60_000)
        page.goto(f"{url}/login")
        wait_idle(page)
        sign_in(page, "alice", PASSWORD)
        click_nav(page, "New audit", "New audit")
        wait_idle(page)
        page.locator('[data-testid="stFileUploaderDropzoneInput"]').first.set_input_files(str(data))
        page.get_by_text("Inferred schema").wait_for()
        wait_idle(page)
        sections = page.locator('[data-testid="stMultiSelect"]', has_text="Sections")
        for name in ("Explanations", "Robustness", "Drift", "Privacy"):
            remove = sections.locator(f'button[aria-label="Remove {name}"]')
            if remove.count():
                remove.click()
        page.get_by_role("button", name="Run audit").click()
        page.get_by_text("Job 1").first.wait_for()
        no_exception(page)
        shoot(page, "30_job_started")

        page.reload()  # the job lives in the store, not in this page
        wait_title(page, "New audit")
        page.get_by_text("started by alice").first.wait_for()
        # The per-section progress table: live while the job runs, behind "Sections" once it is done
        # (a 400-row audit can finish before the reload does).
        page.locator('text="last message"').or_(page.get_by_role("button", name="Open")).first.wait_for()
        if not page.get_by_text("last message").first.is_visible():
            page.locator('[data-testid="stExpander"] summary', has_text="Sections").first.click()
        page.get_by_text("last message").first.wait_for()
        no_exception(page)
        shoot(page, "31_job_after_reload")

        page.get_by_role("button", name="Open").first.wait_for(timeout=RUN_TIMEOUT_MS)
        page.get_by_role("button", name="Open").first.click()
        wait_title(page, "Overview")
        wait_idle(page)
        # The Overview's metric tiles can render a rerun after the title on a loaded machine.
        page.get_by_text("ROC AUC (test)").first.wait_for()
        no_exception(page)
        assert page.get_by_text("loans.csv").count() >= 1
        assert page.get_by_text("ROC AUC (test)").count() == 1
        shoot(page, "32_job_opened")
        browser.close()


def _wait_job(store, user, until, timeout_s: float = 300.0):
    import time

    from audit.errors import StoreError

    deadline, job = time.monotonic() + timeout_s, None
    while time.monotonic() < deadline:
        try:
            job = store.get_job(1, user=user)
        except StoreError:  # not submitted yet: the click's rerun is still on its way
            job = None
        if job is not None and until(job):
            return job
        time.sleep(0.2)
    raise AssertionError(f"job 1 did not get there in {timeout_s} s: {job}")


def _cancel_if_live(store, user) -> None:
    """A failed test must not leave its job's worker auditing 60,000 rows beside the next tests."""
    from audit.errors import StoreError

    try:
        if not store.get_job(1, user=user).final:
            store.cancel_job(1, user=user)
    except StoreError:
        pass


def test_a_second_signed_in_session_sees_the_running_job_and_its_author_cancels_it(tmp_path, monkeypatch):
    monkeypatch.setenv("AUDIT_JOB_DIR", str(tmp_path / "spool"))
    db = tmp_path / "audit.db"
    store = AuditStore(db, password_hasher=PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    alice = store.create_user("alice", password=PASSWORD, role="reviewer")
    store.create_user("bob", password=PASSWORD, role="reviewer")
    data = tmp_path / "loans.csv"
    make_synthetic(150_000, seed=12).to_csv(data, index=False)  # every section on 150k rows: long enough to cancel
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    try:
        _second_session_cancels(store, alice, url_log=ARTIFACTS / "streamlit_jobs_cancel.log", db=db, data=data)
    finally:
        _cancel_if_live(store, alice)
        store.close()


def _second_session_cancels(store, alice, *, url_log, db, data) -> None:
    from playwright.sync_api import sync_playwright

    from audit.store.jobs import JobStatus

    with streamlit_server(db=db, log=url_log) as url, sync_playwright() as p:
        browser = launch_chromium(p)
        pages = {}
        for name in ("alice", "bob"):  # two browser contexts: two cookie jars, two signed-in sessions
            page = browser.new_context(viewport={"width": 1400, "height": 2400}).new_page()
            page.set_default_timeout(60_000)
            page.goto(f"{url}/login")
            wait_idle(page)
            sign_in(page, name, PASSWORD)
            click_nav(page, "New audit", "New audit")
            wait_idle(page)
            pages[name] = page
        a, b = pages["alice"], pages["bob"]
        a.locator('[data-testid="stFileUploaderDropzoneInput"]').first.set_input_files(str(data))
        a.get_by_text("Inferred schema").wait_for()
        wait_idle(a)
        a.get_by_role("button", name="Run audit").click()
        _wait_job(store, alice, lambda j: "models" in j.progress or j.final)

        # Bob's page lists alice's job as it runs (its list refreshes itself), without a Cancel button.
        b.get_by_text("started by alice").first.wait_for()
        b.locator('text="last message"').first.wait_for()
        assert b.get_by_role("button", name="Cancel").count() == 0
        no_exception(b)
        shoot(b, "33_second_user_sees_the_job")

        assert store.get_job(1, user=alice).status is JobStatus.RUNNING
        a.get_by_role("button", name="Cancel").first.click()
        ended = _wait_job(store, alice, lambda j: j.final, timeout_s=60)
        assert ended.status is JobStatus.CANCELLED and not ended.has_result
        b.get_by_text("cancelled").first.wait_for()  # bob's list catches up on its own
        assert b.get_by_role("button", name="Open").count() == 0
        no_exception(a)
        no_exception(b)
        shoot(b, "34_second_user_sees_it_cancelled")
        browser.close()
