"""Single sign-on in the dashboard (issue 19 item 3) under AppTest: ``[auth]`` in the secrets turns on
Streamlit's OpenID Connect sign-in; the store maps the identity to a role or refuses it.

AppTest seeds ``st.user`` with the claims an identity provider would give; the real
exchange with a provider runs in tests/test_browser_sso.py.
"""

from __future__ import annotations

import sqlalchemy as sa
from streamlit.testing.v1 import AppTest

from audit.store.schema import SESSIONS
from dashboard import state
from tests.test_app_reviews import APP, TIMEOUT, _ok, _page, _texts, store  # noqa: F401

ISS = "http://127.0.0.1:9999"
AUTH = {"redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": "x" * 32, "client_id": "dash",
        "client_secret": "s", "server_metadata_url": f"{ISS}/.well-known/openid-configuration"}


def _app(identity: dict | None = None, *, auth: dict | None = AUTH) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    if auth is not None:
        at.secrets["auth"] = auth
    if identity is not None:
        at.user = {"is_logged_in": True, "iss": ISS, "email_verified": True, **identity}
    at.run()
    return _page(at, "login")


def _buttons(at: AppTest) -> list[str]:
    return [b.label for b in at.button]


def test_without_auth_secrets_there_is_no_single_sign_on(store):
    at = _app(auth=None)
    assert not [b for b in _buttons(at) if "single sign-on" in b]
    assert "Sign in" in [s.value for s in at.subheader]  # the local form


def test_with_auth_secrets_the_sign_in_page_offers_it_beside_local_accounts(store):
    at = _app()
    assert "Sign in with single sign-on" in _buttons(at)
    assert at.text_input(key="login_username") is not None
    named = _app(auth={"redirect_uri": AUTH["redirect_uri"], "cookie_secret": "x" * 32,
                       "okta": {k: AUTH[k] for k in ("client_id", "client_secret", "server_metadata_url")}})
    assert "Sign in with okta" in _buttons(named)


def test_an_identity_signs_in_with_the_role_an_admin_gave_it(store):
    store.add_sso_user("alice@example.org", role="reviewer")
    at = _app({"sub": "s-alice", "email": "Alice@Example.org"})
    user = at.session_state[state.USER]
    assert (user.username, user.role.value) == ("alice@example.org", "reviewer")
    assert "Signed in as **alice@example.org** (reviewer)" in "\n".join(c.value.replace("\\", "") for c in at.caption)
    with store._engine.connect() as conn:
        assert conn.execute(sa.select(SESSIONS.c.source)).scalars().all() == ["sso"]
    store.set_role("alice@example.org", role="viewer")  # a role change ends the session on its next run
    _page(at, "history")
    assert "password or role changed" in "\n".join(w.value.replace("\\", "") for w in at.warning)


def test_an_unknown_identity_is_refused_by_default(store):
    at = _app({"sub": "s-eve", "email": "eve@example.org"})
    assert state.USER not in at.session_state
    refusal = "\n".join(e.value.replace("\\", "") for e in at.error)
    assert "Single sign-on refused: eve@example.org has no account in this audit database" in refusal
    assert "Sign out of single sign-on" in _buttons(at)
    assert [u.username for u in store.list_users()] == ["alice", "bob", "vera"]


def test_unknown_identities_can_be_viewers(store, monkeypatch):
    monkeypatch.setenv("AUDIT_SSO_UNKNOWN", "viewer")
    at = _app({"sub": "s-eve", "email": "eve@example.org"})
    assert (at.session_state[state.USER].username, at.session_state[state.USER].role.value) == ("eve@example.org",
                                                                                                "viewer")


def test_a_local_account_is_not_taken_over_through_its_name(store, monkeypatch):
    monkeypatch.setenv("AUDIT_SSO_UNKNOWN", "viewer")
    at = _app({"sub": "s-x", "email": "alice"})
    assert state.USER not in at.session_state
    assert "alice is a local account with a password" in "\n".join(e.value.replace("\\", "") for e in at.error)
