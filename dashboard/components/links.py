"""Links to a page of a stored audit: ``/fairness?audit=42`` (``&run=3`` when not the latest run).

The page is Streamlit's own (``st.navigation`` url paths); the audit is in
``st.query_params``. :func:`follow` runs before every page: a link this session has
not followed yet opens that audit (after the sign-in form if nobody is signed in,
with the store's refusal if it cannot be read). :func:`sync` then writes the open
stored audit back into the URL, so a reload, a bookmark or a copied address
shows the same audit on the same page. Session tokens never go in the URL.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlencode

import streamlit as st

from dashboard import state
from dashboard.components.text import md

PARAMS = ("audit", "run")
_MAX_ID = 2**63 - 1  # the largest integer a database key can hold


def parse(params: Mapping[str, str]) -> tuple[dict[str, str], str | None]:
    """The link's audit and run as canonical text, or ({}, why the link cannot be read)."""
    link = {}
    for name in PARAMS:
        raw = params.get(name)
        if raw is None:
            continue
        text = str(raw).strip()
        if not (text.isascii() and text.isdigit() and 1 <= int(text) <= _MAX_ID):
            return {}, f"the link's {name} must be a whole number from 1, got {md(text[:40])}"
        link[name] = str(int(text))
    if "run" in link and "audit" not in link:
        return {}, "the link names a run but no audit"
    return link, None


def follow() -> None:
    """Open the audit a new link names; the sign-in form or a refusal (and a stopped page) otherwise."""
    link, problem = parse(st.query_params)
    if problem:
        st.error(f"This link cannot be opened: {problem}.", icon=":material/link_off:")
        state.set_link_seen({})
        return
    if not link or link == state.link_seen():
        return
    if link == state.current_link():
        state.set_link_seen(link)
        return
    audit_id, run = int(link["audit"]), int(link["run"]) if "run" in link else None
    what = f"audit #{audit_id}" + (f", run {run}" if run else "")
    # Imported here: the page header (imported by every page helper) uses this module too.
    from dashboard.components import auth
    from dashboard.components.reviews import open_audit

    user = auth.signed_in_user()
    if user is None:
        st.info(f"This link opens {what}. Sign in to see it.", icon=":material/link:")
        auth.login_form()
        st.stop()
    store = auth.open_store()
    state.set_link_seen(link)
    if not open_audit(store, user, audit_id, run, refusal=f"This link's {what} cannot be shown"):
        st.stop()


def sync() -> None:
    """Put the stored audit being looked at into the URL (and take a stale one out)."""
    want = state.current_link()
    have = {k: str(v) for k, v in st.query_params.to_dict().items() if k in PARAMS}
    if have != want:
        for name in PARAMS:
            if name in st.query_params and name not in want:
                del st.query_params[name]
        st.query_params.update(want)
    state.set_link_seen(want)


def address(page_url: str | None, link: Mapping[str, str]) -> str | None:
    """The address to send a colleague: this page's URL with the audit's query parameters."""
    if not page_url or not link:
        return None
    return f"{page_url.split('?', 1)[0]}?{urlencode(dict(link))}"


def copy_link() -> None:
    """A copyable address of this page of the stored audit being looked at (nothing for unsaved audits)."""
    url = address(st.context.url, state.current_link())
    if url is not None:
        with st.popover("Copy link", icon=":material/link:"):
            st.caption("Anyone signed in to this dashboard opens this page of this audit with it.")
            st.code(url, language=None)
