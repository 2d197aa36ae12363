"""The sign-in cookie: read with Streamlit's ``st.context.cookies``, written with streamlit-extras' cookie manager.

Why this mechanism. Streamlit 1.67 reads cookies (``st.context.cookies``, from the
page's first request) but a script cannot set one: ``st.App`` middleware sets cookies
only on plain HTTP responses, not from a running session (streamlit issues #861 and
#14730). The cookie manager of ``streamlit-extras`` (pinned in requirements.txt) is the
component Streamlit's maintainers point to there: a small Custom Component v2, kept in
Streamlit's own community extras, that writes ``document.cookie``. The cookie holds only
the random session token (never a password, never in the URL), with
``SameSite=Strict``, ``Path=/``, ``Max-Age`` = the absolute session lifetime, and
``Secure`` when the page is served over https. A cookie written from JavaScript cannot
be HttpOnly; the store's expiry and revocation bound what a stolen token is worth.
"""

from __future__ import annotations

import streamlit as st

from dashboard import state

COOKIE = "rai_session"
_WRITER_KEY = "rai_cookie_writer"


def token() -> str | None:
    """The session token the browser sent with this page, if any."""
    value = st.context.cookies.get(COOKIE)
    return value if isinstance(value, str) and value else None


def _https() -> bool:
    return (st.context.url or "").startswith("https://")


def write_pending() -> None:
    """Draw the (invisible) cookie writer and give it the queued changes.

    Changes are sent with the writer's next drawing, so a run that queues one reruns
    at once: signing in or out costs one extra quick run, nothing else does.
    """
    from streamlit_extras.cookie_manager import cookie_manager

    changes = state.pop_cookie_changes()
    writer = cookie_manager(key=_WRITER_KEY)
    secure = _https()
    for change in changes:
        if change[0] == "set":
            writer.set(COOKIE, change[1], max_age=change[2], path="/", secure=secure, samesite="strict")
        else:
            writer.delete(COOKIE, path="/", secure=secure, samesite="strict")
    if changes:
        st.rerun()
