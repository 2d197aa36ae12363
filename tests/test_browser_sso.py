"""Single sign-on in a real browser against a local OpenID Connect provider (issue 19 item 3).

The test starts oidc-provider-mock on 127.0.0.1 (localhost) and a Streamlit server whose
secrets.toml ``[auth]`` points at it; Chromium signs in through the provider's form. An
identity an admin gave a role signs in with it (and stays signed in after a reload); an
identity without an account is refused.
"""

from __future__ import annotations

import os
import subprocess
import time
import urllib.request

import pytest

from audit.store.core import AuditStore
from tests.test_browser import ARTIFACTS, CHROMIUM, STREAMLIT, free_port, launch_chromium, no_exception, wait_idle
from tests.conftest import ROOT

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _start(db, secrets, port, log):
    env = {**os.environ, "AUDIT_DB_URL": str(db), "PYTHONUNBUFFERED": "1",
           "AUTHLIB_INSECURE_TRANSPORT": "1"}  # the local provider speaks plain http
    cmd = [str(STREAMLIT), "run", "dashboard/app.py", "--server.headless", "true", "--server.port", str(port),
           "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none", "--secrets.files", str(secrets)]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with urllib.request.urlopen(f"http://localhost:{port}/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return proc
        except OSError:
            time.sleep(0.3)
    proc.kill()
    raise RuntimeError("streamlit did not start")


def _sso(page, url: str, sub: str, attempts: int = 3) -> None:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    page.goto(f"{url}/login")
    wait_idle(page)
    # A click that lands while a queued rerun (the session-cookie writer's) starts can be swallowed,
    # as CI showed once (no request reached the provider, then a 60 s timeout); click again, as a
    # user would.
    form = page.locator("input[name=sub]")
    for attempt in range(attempts):
        page.get_by_role("button", name="Sign in with single sign-on").click()
        try:
            form.wait_for(timeout=20_000 if attempt < attempts - 1 else 60_000)
            break
        except PlaywrightTimeout:
            if attempt == attempts - 1:
                raise
            wait_idle(page)
    form.fill(sub)
    page.get_by_role("button", name="Authorize").click()
    # Streamlit's callback returns to the app's main page; the sign-in page says who is signed in.
    page.wait_for_url(f"{url}/")
    wait_idle(page)
    page.goto(f"{url}/login")


def test_single_sign_on_maps_a_role_and_refuses_an_unknown_identity(tmp_path):
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"no Chromium at {CHROMIUM}")
    from oidc_provider_mock import User, run_server_in_thread
    from playwright.sync_api import sync_playwright

    db = tmp_path / "audit.db"
    with AuditStore(db) as store:
        store.add_sso_user("alice@example.org", role="reviewer")
    users = [User(sub="alice-sub", claims={"email": "alice@example.org", "email_verified": True}),
             User(sub="eve-sub", claims={"email": "eve@example.org", "email_verified": True})]
    port = free_port()
    url = f"http://localhost:{port}"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with run_server_in_thread(user_claims=users) as idp, \
            (ARTIFACTS / "streamlit_sso.log").open("wb") as log:
        secrets = tmp_path / "secrets.toml"
        secrets.write_text(
            "[auth]\n"
            f'redirect_uri = "{url}/oauth2callback"\n'
            f'cookie_secret = "{"c" * 40}"\n'
            'client_id = "audit-dashboard"\nclient_secret = "not-checked-by-the-mock"\n'
            f'server_metadata_url = "http://localhost:{idp.server_port}/.well-known/openid-configuration"\n')
        proc = _start(db, secrets, port, log)
        try:
            with sync_playwright() as p:
                browser = launch_chromium(p)
                page = browser.new_context(viewport={"width": 1400, "height": 1600}).new_page()
                page.set_default_timeout(60_000)
                _sso(page, url, "alice-sub")
                page.get_by_text("You can save audits").wait_for()
                assert "alice@example.org" in page.get_by_text("Signed in as").first.inner_text()
                assert "(reviewer)" in page.get_by_text("Signed in as").first.inner_text()
                page.reload()
                page.get_by_text("You can save audits").wait_for()
                wait_idle(page)
                no_exception(page)
                page.screenshot(path=str(ARTIFACTS / "40_sso_signed_in.png"), full_page=True)
                # Signing out through the provider's end-session page is not driven here: the
                # redirect to it was flaky in CI (a lost click, then a 60 s timeout); sign-out and
                # session revocation are covered by tests/test_app_sso.py and test_browser_sessions.py.

                other = browser.new_context().new_page()
                other.set_default_timeout(60_000)
                _sso(other, url, "eve-sub")
                other.get_by_text("Single sign-on refused").wait_for()
                assert "eve@example.org has no account" in other.get_by_text("Single sign-on refused").inner_text()
                assert other.get_by_text("You can save audits").count() == 0
                other.screenshot(path=str(ARTIFACTS / "41_sso_refused.png"), full_page=True)
                browser.close()
        finally:
            proc.terminate()
            proc.wait(timeout=20)
    with AuditStore(db) as store:
        assert [u.username for u in store.list_users()] == ["alice@example.org"]
