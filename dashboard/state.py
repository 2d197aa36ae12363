"""Dashboard state: the only module that touches ``st.session_state`` and ``st.cache_*``.

Reports are cached by content hash (sha256 of the data bytes, of the optional
current data, and of the config JSON): a process-wide LRU shared by all sessions,
so re-running the same audit, or another person running it, is instant. The
session holds only the report being looked at and its key. Cached functions
never call ``st.*``: their side effects would vanish on a cache hit.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from audit.config import AuditConfig, DataOptions
from audit.errors import PermissionDenied, StoreError
from audit.data import ColumnSchema, load_table, prepare_dataset
from audit.report import AuditReport
from audit.store.sessions import SessionPolicy

REPORT = "rai_report"  # the AuditReport being looked at
REPORT_KEY = "rai_report_key"  # its content hash
NARRATIVE = "rai_narrative"  # report key -> model card narrative fields being edited
USER = "rai_user"  # the signed-in audit.store.core.User, or absent

_MAX_REPORTS = 16


def audit_key(data_sha: str, config: AuditConfig, current_sha: str | None = None) -> str:
    """The content hash that identifies an audit: same data, same current data, same config."""
    payload = json.dumps({"data": data_sha, "current": current_sha, "config": config.to_dict()}, sort_keys=True)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def bytes_sha256(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


class _ReportCache:
    """A small thread-safe LRU of finished reports (reports are frozen, safe to share)."""

    def __init__(self, maxsize: int) -> None:
        self._items: OrderedDict[str, AuditReport] = OrderedDict()
        self._lock = threading.Lock()
        self._maxsize = maxsize

    def get(self, key: str) -> AuditReport | None:
        with self._lock:
            rep = self._items.get(key)
            if rep is not None:
                self._items.move_to_end(key)
            return rep

    def put(self, key: str, report: AuditReport) -> None:
        with self._lock:
            self._items[key] = report
            self._items.move_to_end(key)
            while len(self._items) > self._maxsize:
                self._items.popitem(last=False)


@st.cache_resource(show_spinner=False)
def _report_cache() -> _ReportCache:
    return _ReportCache(_MAX_REPORTS)


def cached_report(key: str) -> AuditReport | None:
    """The finished report of the audit with this key, if any session computed it."""
    return _report_cache().get(key)


def remember(key: str, report: AuditReport) -> None:
    _report_cache().put(key, report)


# -- the report being looked at ---------------------------------------------------------


def current_report() -> AuditReport | None:
    return st.session_state.get(REPORT)


def current_key() -> str | None:
    return st.session_state.get(REPORT_KEY)


def set_current(report: AuditReport, key: str) -> None:
    st.session_state[REPORT] = report
    st.session_state[REPORT_KEY] = key


def report_key_of_json(text: str | bytes) -> str:
    """Key of a report opened from JSON (its bytes identify it)."""
    raw = text.encode("utf-8") if isinstance(text, str) else text
    return "json:" + bytes_sha256(raw)


# -- data intake (cached by content hash; the core does the work) -----------------------


@st.cache_data(max_entries=8, show_spinner=False)
def read_table(sha: str, name: str, max_file_mb: float, _raw: bytes) -> pd.DataFrame:
    """The uploaded table, parsed once per content hash (``_raw`` is not hashed again)."""
    frame, _, _ = load_table(_raw, name=name, max_file_mb=max_file_mb)
    return frame


@dataclass(frozen=True)
class InferredSchema:
    """What intake infers for a (table, target, sensitive) choice, before user edits."""

    columns: tuple[ColumnSchema, ...]
    task: str
    positive_label: str | None
    warnings: tuple[str, ...]
    n_features: int


@st.cache_data(max_entries=32, show_spinner=False)
def infer_schema(sha: str, name: str, target: str, sensitive: tuple[str, ...], _frame: pd.DataFrame) -> InferredSchema:
    """Run the core's intake on the table to show its inferred schema (no user overrides)."""
    ds = prepare_dataset(_frame.copy(), target=target, sensitive=sensitive, options=DataOptions(), name=name, sha256=sha)
    return InferredSchema(ds.columns, ds.task, ds.positive_label, ds.warnings, len(ds.features))


@st.cache_data(max_entries=8, show_spinner=False)
def file_sha256(path: str, mtime_ns: int) -> str:
    """sha256 of a file on disk, cached by path and modification time."""
    return bytes_sha256(Path(path).read_bytes())


def path_sha256(path: str | Path) -> str:
    p = Path(path)
    return file_sha256(str(p.resolve()), p.stat().st_mtime_ns)


# -- model card narrative being edited (per report) -------------------------------------


def narrative_fields(key: str) -> dict[str, Any]:
    store = st.session_state.setdefault(NARRATIVE, {})
    return store.setdefault(key, {})


def set_narrative_fields(key: str, values: Mapping[str, Any]) -> None:
    st.session_state.setdefault(NARRATIVE, {})[key] = dict(values)


# -- the signed-in user (Reviews / History) ----------------------------------------------


def current_user() -> Any | None:
    return st.session_state.get(USER)


def set_user(user: Any | None) -> None:
    if user is None:
        st.session_state.pop(USER, None)
    else:
        st.session_state[USER] = user


# -- model card (built by the core; cached per report, narrative and review) ------------


@dataclass(frozen=True)
class CardBundle:
    """The core's model card and datasheet of one report, narrative and review state, and the card's Markdown."""

    card: Any
    sheet: Any
    markdown: str


@st.cache_data(max_entries=32, show_spinner=False)
def model_card(key: str, narrative_json: str, review_json: str, _report: AuditReport) -> CardBundle:
    """Build (once per report, narrative and review state) the model card, the datasheet and the card's Markdown."""
    from audit.cards.modelcard import Narrative, build_model_card, datasheet, render_markdown

    review = json.loads(review_json) if review_json else None
    narrative = Narrative.from_dict(json.loads(narrative_json))
    card = build_model_card(_report, narrative=narrative, review=review)
    return CardBundle(card, datasheet(_report, narrative=narrative), render_markdown(card))


# -- the audit store (Reviews / History) --------------------------------------------------

SAVED = "rai_saved"  # report key -> audit id in the store


@st.cache_resource(show_spinner=False)
def _audit_store(url: str | None):
    from audit.store.core import AuditStore

    return AuditStore(url)


def audit_store():
    """One AuditStore per database (it is thread-safe): ``$AUDIT_DB_URL``, else ./audit.db."""
    return _audit_store(os.environ.get("AUDIT_DB_URL"))


def saved_audit_id(key: str | None) -> int | None:
    return st.session_state.get(SAVED, {}).get(key) if key else None


def set_saved_audit_id(key: str, audit_id: int) -> None:
    st.session_state.setdefault(SAVED, {})[key] = audit_id


# -- signing in, audits opened from the store, one-off notes (Reviews / History) --------

FLASH = "rai_flash"
TOKEN = "rai_session_token"  # this session's sign-in token (the browser keeps it in a cookie)
COOKIE_SEEN = "rai_cookie_seen"  # the cookie token this session already tried to resume
COOKIE_OPS = "rai_cookie_ops"  # changes to the cookie waiting for the cookie writer
LINKS = "rai_links"  # report key -> the query parameters that name it (audit, and run when not the latest)
LINK_SEEN = "rai_link_seen"  # the query parameters this session last followed or wrote  # (kind, message) to show once, on the next run
STORED_PREFIX = "store:"  # report keys of audits opened from the store


def store_url() -> str:
    """Where the audit database is, for display: ``$AUDIT_DB_URL`` with its password masked, else ``./audit.db``."""
    from sqlalchemy.engine import make_url

    from audit.store.schema import DEFAULT_PATH, ENV_URL

    raw = os.environ.get(ENV_URL) or DEFAULT_PATH
    if "://" not in raw:
        return raw
    try:
        return make_url(raw).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - an unparseable URL is shown as its scheme only
        return raw.split("://", 1)[0] + "://***"


def redact(text: object) -> str:
    """``text`` with the database URL's password masked (store errors may quote the URL)."""
    from urllib.parse import unquote

    from sqlalchemy.engine import make_url

    from audit.store.schema import ENV_URL

    out, raw = str(text), os.environ.get(ENV_URL) or ""
    if "://" in raw:
        try:
            password = make_url(raw).password
        except Exception:  # noqa: BLE001
            password = None
        out = out.replace(raw, store_url())
        for secret in {str(password), unquote(str(password))} if password else ():
            out = out.replace(secret, "***")
    return out


def client_key() -> str | None:
    """Who is signing in, for the store's per-client limit: the browser's address as Streamlit saw it.

    Behind a reverse proxy this is the proxy's address, so every visitor shares one
    client limit; the per-account limit still applies to each account.
    """
    try:
        address = st.context.ip_address
    except Exception:  # noqa: BLE001 - outside a browser session there is none
        return None
    return address if isinstance(address, str) and address else None  # AppTest gives a stand-in object


def login(username: str, password: str) -> Any:
    """Check the password, sign this session in and queue its token's cookie; raises PermissionDenied."""
    user = audit_store().authenticate(username, password=password, client=client_key())
    start_session(user, SessionPolicy.from_env(), source="password")
    return user


def start_session(user: Any, policy: Any, *, source: str) -> None:
    """A new store session for ``user``: its token stays in this session and goes to the cookie."""
    token = audit_store().start_session(user, policy=policy, source=source)
    set_user(user)
    st.session_state[TOKEN] = token
    queue_cookie(("set", token, int(policy.absolute.total_seconds())))


def resume(cookie: str | None) -> str | None:
    """Sign in from the browser's cookie (a reload, a new tab) unless signed in; why not, if it fails."""
    if current_user() is not None or not cookie or cookie == st.session_state.get(COOKIE_SEEN):
        return None
    st.session_state[COOKIE_SEEN] = cookie  # tried once per session: a dead cookie costs one query
    try:
        user = audit_store().resume_session(cookie, policy=SessionPolicy.from_env())
    except PermissionDenied as exc:
        queue_cookie(("delete",))
        return str(exc)
    set_user(user)
    st.session_state[TOKEN] = cookie
    return None


def queue_cookie(change: tuple) -> None:
    """A change to the sign-in cookie, ``("set", token, max_age_s)`` or ``("delete",)``, for the cookie writer."""
    st.session_state.setdefault(COOKIE_OPS, []).append(change)


def pop_cookie_changes() -> list[tuple]:
    return st.session_state.pop(COOKIE_OPS, [])


def checked_user() -> tuple[Any | None, str | None]:
    """The signed-in user if the store still honours the session, else (None, why it ended).

    A password reset or role change ends the session: it is signed out here, on the
    next run of any page, not only when it next tries to change something.
    """
    user, token = current_user(), st.session_state.get(TOKEN)
    if user is None:
        return None, None
    try:  # the token's session checks expiry and sign-out as well as the user's session version
        return (audit_store().resume_session(token, policy=SessionPolicy.from_env()) if token
                else audit_store().check_session(user)), None
    except PermissionDenied as exc:
        logout()
        return None, str(exc)
    except StoreError:
        return user, None  # the database is unreachable: the page's own store call says so


def logout() -> None:
    """Sign out (ending the store session and the cookie), and drop every audit this session read from the store."""
    token = st.session_state.pop(TOKEN, None)
    if token is not None:
        st.session_state[COOKIE_SEEN] = token  # the page's first request may still carry it
        queue_cookie(("delete",))
        try:
            audit_store().end_session(token)
        except StoreError:
            pass  # the database is unreachable: the cookie goes, and the token expires on its own
    set_user(None)
    st.session_state.pop(SAVED, None)
    if str(current_key() or "").startswith(STORED_PREFIX):
        st.session_state.pop(REPORT, None)
        st.session_state.pop(REPORT_KEY, None)


def open_stored(report: AuditReport, audit_id: int, run: int, narrative: Mapping[str, Any] | None,
                *, latest: bool = True) -> str:
    """Make a stored run the current report of this session, with its saved model card narrative."""
    key = f"{STORED_PREFIX}{audit_id}:{run}"
    set_current(report, key)
    set_saved_audit_id(key, audit_id)
    st.session_state.setdefault(LINKS, {})[key] = {"audit": str(audit_id)} | ({} if latest else {"run": str(run)})
    if narrative is not None:
        set_narrative_fields(key, narrative)
    return key


def flash(kind: str, message: str) -> None:
    """Show ``message`` (kind: success / info / warning) once, on the next run of the page."""
    st.session_state[FLASH] = (kind, message)


def pop_flash() -> tuple[str, str] | None:
    return st.session_state.pop(FLASH, None)


# -- links: the open stored audit in the URL ------------------------------------------------


def current_link() -> dict[str, str]:
    """The query parameters naming the stored audit being looked at; empty when it is not stored."""
    key = current_key()
    link = st.session_state.get(LINKS, {}).get(key)
    if link is None and saved_audit_id(key) is not None:  # saved from this session: its latest run
        link = {"audit": str(saved_audit_id(key))}
    return dict(link or {})


def link_seen() -> dict[str, str] | None:
    return st.session_state.get(LINK_SEEN)


def set_link_seen(link: Mapping[str, str]) -> None:
    st.session_state[LINK_SEEN] = dict(link)
