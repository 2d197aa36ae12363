"""Sign-in for the pages that read the audit store (Login, Reviews, History).

Accounts are made with ``python -m audit users create-user NAME --role reviewer``;
the store checks passwords and every permission, the pages only show its answers.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import streamlit as st
from sqlalchemy.exc import SQLAlchemyError

from audit.errors import StoreError
from dashboard import components as ui
from dashboard import state
from dashboard.components import cookie, sso

LOGIN_FORM = "login_form"
LOGOUT = "logout"


def open_store() -> Any:
    """The shared store, or an error box and a stopped page when the database cannot be used."""
    try:
        return state.audit_store()
    except StoreError as exc:
        st.error(f"The audit database at {ui.md(state.store_url())} cannot be used: {ui.md(state.redact(exc))}")
        st.stop()
    except SQLAlchemyError as exc:
        database_error(exc)


def database_error(exc: SQLAlchemyError) -> None:
    """A database failure (a corrupted file, a lost server) as one line, never SQL or a traceback; stops the page."""
    orig = getattr(exc, "orig", None) or exc
    lines = str(orig).strip().splitlines()
    reason = lines[0] if lines else type(orig).__name__
    st.error(f"The audit database at {ui.md(state.store_url())} cannot be read: {ui.md(state.redact(reason))}. "
             "Nothing was changed; check it with `python -m audit users verify` or restore it from a backup.",
             icon=":material/database:")
    st.stop()


@contextmanager
def database_errors() -> Iterator[None]:
    """Around a page: any SQLAlchemy error the store lets through becomes :func:`database_error`."""
    try:
        yield
    except SQLAlchemyError as exc:
        database_error(exc)


def store_error(exc: StoreError) -> None:
    """The store's own message (a rule broken, a permission missing), never a traceback."""
    st.error(ui.md(state.redact(exc)), icon=":material/block:")


def login_form() -> None:
    """Username and password; on success the page runs again signed in."""
    if sso.providers():
        sso.buttons()
        st.caption("Or with a local account:")
    with st.form(LOGIN_FORM):
        st.subheader("Sign in")
        username = st.text_input("Username", key="login_username")
        password = st.text_input("Password", type="password", key="login_password")
        submitted = st.form_submit_button("Sign in", type="primary", icon=":material/login:", key="login_submit")
    st.caption("No account? An administrator creates one with "
               "`python -m audit users create-user NAME --role reviewer`.")
    if submitted:
        open_store()
        try:
            user = state.login(username, password)
        except StoreError as exc:
            store_error(exc)
            return
        state.flash("success", f"Signed in as {user.username} ({user.role.value}).")
        st.rerun()


def signed_in_bar(user: Any) -> None:
    """Who is signed in, and a way out."""
    left, right = st.columns([4, 1], vertical_alignment="center")
    left.caption(f"Signed in as **{ui.md(user.username)}** ({user.role.value}) · database {ui.md(state.store_url())}")
    if right.button("Sign out", icon=":material/logout:", key=LOGOUT):
        state.logout()
        sso.end()
        st.rerun()


def show_flash() -> None:
    note = state.pop_flash()
    if note is not None:
        kind, message = note
        {"success": st.success, "warning": st.warning}.get(kind, st.info)(message)


def resume_from_cookie() -> None:
    """Sign this browser session in from the cookie's store session; say why not when it has ended."""
    try:
        why = state.resume(cookie.token())
    except StoreError as exc:
        store_error(exc)
        return
    if why:
        _ended(why, st.info)
    sso.sign_in()


def _ended(why: str, box: Any) -> None:
    """Say why the sign-in ended; the identity provider's sign-in ends with it (which reruns, so once more)."""
    state.flash("info", why)
    sso.end()
    state.pop_flash()
    box(ui.md(why), icon=":material/logout:")


def signed_in_user() -> Any | None:
    """Who is signed in to this session, if the store still honours it (with a note when it just ended)."""
    user, ended = state.checked_user()
    if ended:
        _ended(ended, st.warning)
    return user


def require_user() -> Any:
    """The signed-in user; otherwise only the sign-in form is drawn and the page stops."""
    show_flash()
    user = signed_in_user()
    if user is None:
        st.info("Sign in to see the audits saved in the shared store.")
        login_form()
        st.stop()
    signed_in_bar(user)
    return user
