"""Single sign-on with Streamlit's built-in OpenID Connect (``st.login``, ``st.user``; Authlib underneath).

Configured by ``[auth]`` in ``.streamlit/secrets.toml`` (one provider, or named ones as
``[auth.NAME]``). Streamlit does the OpenID Connect exchange and keeps who signed in;
the store decides what they may do (:mod:`audit.store.sso`): the identity's issuer and
subject, or its e-mail, name an account an admin made. ``$AUDIT_SSO_UNKNOWN`` says what
happens to an identity without one: ``refuse`` (the default) or ``viewer``.

A single sign-on then starts a store session like a password sign-in (same cookie,
lifetimes and revocation). When that session ends, Streamlit's identity is signed out
too, so an expired session cannot quietly come back through the identity cookie.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import streamlit as st

from audit.errors import PermissionDenied, StoreError
from audit.store.sessions import SessionPolicy
from dashboard import state
from dashboard.components.text import md

ENV_UNKNOWN = "AUDIT_SSO_UNKNOWN"


def providers() -> list[str | None]:
    """The providers configured under ``[auth]`` (None for an unnamed one); empty when SSO is off."""
    try:
        section = st.secrets.get("auth")
    except (FileNotFoundError, KeyError, AttributeError):  # no secrets file at all
        return []
    if not isinstance(section, Mapping):
        return []
    named = [name for name, value in section.items() if isinstance(value, Mapping) and "client_id" in value]
    return ([None] if "client_id" in section else []) + named


def _identity() -> Mapping[str, Any] | None:
    if not providers():
        return None
    claims = st.user.to_dict()  # no "is_logged_in" where Streamlit did not see [auth] (AppTest)
    return claims if claims.get("is_logged_in") is True else None


def buttons() -> None:
    """One "Sign in with ..." button per configured provider."""
    for name in providers():
        label = f"Sign in with {name}" if name else "Sign in with single sign-on"
        if st.button(label, icon=":material/key:", key=f"sso_login_{name or 'default'}", type="primary"):
            st.login(name) if name else st.login()


def sign_in() -> None:
    """Sign in the identity Streamlit holds, as the store's account for it; the refusal otherwise."""
    claims = _identity()
    if claims is None or state.current_user() is not None:
        return
    try:
        user = state.audit_store().sso_sign_in(
            issuer=str(claims.get("iss") or ""), subject=str(claims.get("sub") or ""),
            email=claims.get("email") if isinstance(claims.get("email"), str) else None,
            email_verified=claims.get("email_verified") if isinstance(claims.get("email_verified"), bool) else None,
            unknown=os.environ.get(ENV_UNKNOWN, "refuse").strip() or "refuse")
        state.start_session(user, SessionPolicy.from_env(), source="sso")
    except PermissionDenied as exc:
        st.error(f"Single sign-on refused: {md(exc)}.", icon=":material/block:")
        if st.button("Sign out of single sign-on", icon=":material/logout:", key="sso_refused_logout"):
            st.logout()
        return
    except StoreError as exc:
        st.error(md(state.redact(exc)), icon=":material/block:")
        return
    state.flash("success", f"Signed in as {user.username} ({user.role.value}) through single sign-on.")


def end() -> None:
    """Sign Streamlit's identity out too (a sign-out, or a session that ended), if there is one."""
    if _identity() is not None:
        st.logout()
