"""Sign-in that survives a reload and a new tab, and links to an audit, in a real browser (issue 19).

A Streamlit server on a fresh SQLite store, driven by Playwright in the system Chromium
(as tests/test_browser.py). A reviewer follows a link to the Performance page of a
stored audit, signs in, reloads, opens a new tab, and signs out.
"""

from __future__ import annotations

import pytest

from audit.store.core import AuditStore
from tests.test_app_reviews import PASSWORD, _report
from tests.test_browser import ARTIFACTS, launch_chromium, no_exception, streamlit_server, wait_idle, wait_title

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _sign_in(page, name: str) -> None:
    page.get_by_role("textbox", name="Username").fill(name)
    page.get_by_role("textbox", name="Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def test_sign_in_survives_a_reload_and_a_new_tab_on_the_same_audit_and_page(tmp_path):
    from playwright.sync_api import sync_playwright

    db = tmp_path / "audit.db"
    with AuditStore(db) as store:
        alice = store.create_user("alice", password=PASSWORD, role="reviewer")
        report = _report(1, "credit.csv")
        saved = store.create_audit(user=alice, dataset_name="credit.csv", dataset_sha256=report.manifest.dataset.sha256,
                                   report_json=report.to_json(), model_card_json=None)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with streamlit_server(db=db, log=ARTIFACTS / "streamlit_sessions.log") as url, sync_playwright() as p:
        browser = launch_chromium(p)
        ctx = browser.new_context(viewport={"width": 1400, "height": 1800})
        page = ctx.new_page()
        page.set_default_timeout(60_000)
        page.goto(f"{url}/performance?audit={saved.id}")
        page.get_by_text(f"This link opens audit #{saved.id}").wait_for()
        _sign_in(page, "alice")
        wait_title(page, "Performance")
        wait_idle(page)
        no_exception(page)
        page.wait_for_function("() => document.cookie.includes('rai_session=')")
        cookie = next(c for c in ctx.cookies() if c["name"] == "rai_session")
        assert cookie["sameSite"] == "Strict" and not cookie["secure"]  # plain http on 127.0.0.1
        assert len(cookie["value"]) == 43 and cookie["value"] not in page.url
        assert page.url.endswith(f"/performance?audit={saved.id}")

        page.reload()
        wait_title(page, "Performance")
        wait_idle(page)
        no_exception(page)
        assert page.url.endswith(f"/performance?audit={saved.id}")
        assert page.get_by_text("Sign in to see it").count() == 0
        page.get_by_role("button", name="Copy link").click()
        page.get_by_text(f"/performance?audit={saved.id}").first.wait_for()
        page.screenshot(path=str(ARTIFACTS / "30_link_after_reload.png"), full_page=True)

        tab = ctx.new_page()  # a new tab is signed in too, with no audit open until it follows a link
        tab.goto(f"{url}/reviews")
        tab.get_by_text("Signed in as").first.wait_for()
        assert "alice" in tab.get_by_text("Signed in as").first.inner_text()
        tab.get_by_role("button", name="Sign out").click()
        tab.get_by_text("Sign in to see the audits").wait_for()
        tab.wait_for_function("() => !document.cookie.includes('rai_session=')")

        page.reload()  # signed out everywhere: the link asks to sign in again
        page.get_by_text(f"This link opens audit #{saved.id}").wait_for()
        no_exception(page)
        browser.close()
