"""Sign-in sessions in the dashboard (issue 19 item 2) under AppTest: a store session per sign-in,
ended by sign-out, expiry, a password reset, a role change or an admin, each noticed on the next run.

The cookie itself needs a browser (AppTest cannot send one): tests/test_browser_sessions.py.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from streamlit.testing.v1 import AppTest

from audit.store.schema import SESSIONS
from audit.store.sessions import token_sha256
from dashboard import state
from tests.test_app_reviews import (  # noqa: F401 - the reviews tests' fixtures and helpers
    APP, TIMEOUT, _ok, _page, _save, _sign_in, _texts, reports, store,
)


def _signed_in(store, name: str = "bob") -> AppTest:
    at = _sign_in(AppTest.from_file(APP, default_timeout=TIMEOUT).run(), name)
    assert at.session_state[state.USER].username == name
    return at


def _row(store, token: str):
    with store._engine.connect() as conn:
        return conn.execute(sa.select(SESSIONS).where(SESSIONS.c.token_sha256 == token_sha256(token))).one()


def _set(store, token: str, **values) -> None:
    with store._engine.begin() as conn:
        conn.execute(sa.update(SESSIONS).where(SESSIONS.c.token_sha256 == token_sha256(token)).values(**values))


def _warnings(at: AppTest) -> str:
    return "\n".join(w.value.replace("\\", "") for w in at.warning)  # without markdown escapes


def _ago(**kw) -> str:
    return (datetime.now(timezone.utc) - timedelta(**kw)).isoformat(timespec="microseconds")


def test_signing_in_starts_a_store_session_and_signing_out_ends_it(store):
    at = _signed_in(store)
    token = at.session_state[state.TOKEN]
    assert len(token) == 43 and _row(store, token).ended_at is None
    assert _row(store, token).source == "password"
    at.button(key="logout").click().run()
    _ok(at)
    assert _row(store, token).ended_at is not None
    assert state.USER not in at.session_state and state.TOKEN not in at.session_state
    assert "Sign in to see the audits" in _texts(at)


@pytest.mark.parametrize("end, why", [
    (lambda s, t: _set(s, t, last_seen_at=_ago(hours=2, minutes=1)), "expired after 2:00:00 without use"),
    (lambda s, t: _set(s, t, created_at=_ago(hours=12, minutes=1)), "sessions last at most 12:00:00"),
    (lambda s, t: s.reset_password("bob", new_password="a brand new passphrase"), "password or role changed"),
    (lambda s, t: s.set_role("bob", role="viewer"), "password or role changed"),
    (lambda s, t: s.end_sessions("bob"), "was ended"),
])
def test_an_ended_session_signs_the_page_out_on_its_next_run(store, reports, end, why):
    _save(store, "alice", reports["credit1"])
    at = _signed_in(store)
    token = at.session_state[state.TOKEN]
    _page(at, "history")
    assert "Open a past audit" in _texts(at)  # the audit list, while signed in
    end(store, token)
    _page(at, "history")
    assert state.USER not in at.session_state and state.TOKEN not in at.session_state
    assert why in _warnings(at), _warnings(at)
    assert "Sign in to see the audits" in _texts(at) and "Open a past audit" not in _texts(at)


def test_a_used_session_is_not_idle(store):
    at = _signed_in(store)
    token = at.session_state[state.TOKEN]
    _set(store, token, last_seen_at=_ago(hours=1, minutes=59))
    _page(at, "history")  # used now: its idle clock starts again
    assert at.session_state[state.USER].username == "bob"
    assert datetime.fromisoformat(_row(store, token).last_seen_at) > datetime.now(timezone.utc) - timedelta(minutes=1)


def test_the_session_lifetimes_come_from_the_environment(store, monkeypatch):
    at = _signed_in(store)
    token = at.session_state[state.TOKEN]
    _set(store, token, last_seen_at=_ago(minutes=11))
    monkeypatch.setenv("AUDIT_SESSION_IDLE_MINUTES", "10")
    _page(at, "history")
    assert "expired after 0:10:00 without use" in _warnings(at)
