"""Injected markup (issue 17, item 13): user strings are inert in every Streamlit call, and an
imported report says so wherever it is shown.

The hostile report is a real one: the pipeline audits data whose column names, category
values and file name are Markdown payloads (an image beacon and a phishing link), as an
attacker's upload or crafted report.json would carry them.
"""

from __future__ import annotations

import re

import pytest
from argon2 import PasswordHasher
from google.protobuf.message import Message
from streamlit.testing.v1 import AppTest

from audit.config import config_from_mapping
from audit.data import prepare_dataset
from audit.pipeline import run_audit
from audit.report import AuditReport
from dashboard import forms, state
from tests.conftest import ROOT, make_synthetic

APP = str(ROOT / "dashboard" / "app.py")
TIMEOUT = 120
# A live link or image needs "](" before its URL; md() writes \]\(http\://evil..., the cards' md_text
# writes \](http://evil... (a bare URL that GFM may still autolink, shown as itself: not a disguised link).
EVIL = re.compile(r"(?<!\\)\]\(http://evil\.example")
LINK = "[phish](http://evil.example/f)"
IMAGE = "![beacon](http://evil.example/b.png)"
# Elements whose text is never Markdown (tables, charts, JSON, code, plain text) and widget
# fields that are plain text (selectbox / multiselect options, text box contents).
PLAIN_TYPES = {"plotly_chart", "arrow_data_frame", "arrow_table", "json", "code", "text", "download_button"}
PLAIN_FIELDS = {"options", "value", "default", "placeholder", "raw_values", "data", "spec", "form_id", "id", "key"}
PAGES = ("overview", "datasheet", "performance", "fairness", "explanations", "robustness", "drift", "privacy",
         "population", "model_card")


def _hostile_frame(n: int, seed: int):
    frame = make_synthetic(n, seed=seed)
    frame["colour"] = frame["colour"].map({"red": IMAGE, "green": "green", "blue": "blue"})
    frame["sex"] = frame["sex"].map({"F": f"F {IMAGE}", "M": f"M {LINK}"})
    return frame.rename(columns={"x1": f"x1 {LINK}", "sex": f"sex {LINK}"})


def _hostile_report(sections: tuple[str, ...], n: int = 400) -> AuditReport:
    raw = {"target": "label", "sensitive": [f"sex {LINK}"], "sections": list(sections), "seed": 0}
    for section, values in forms.quick_overlay().items():
        raw[section] = dict(values)
    data = prepare_dataset(_hostile_frame(n, 4), target="label", sensitive=[f"sex {LINK}"], name=f"data {LINK}.csv")
    current = _hostile_frame(200, 5)
    return AuditReport.from_json(run_audit(config_from_mapping(raw), data, current=current, workers=2).to_json())


def _strings(msg: Message, out: list[tuple[str, str]]) -> None:
    for fd, value in msg.ListFields():
        if fd.name in PLAIN_FIELDS:
            continue
        items = value if isinstance(value, (list, tuple)) or hasattr(value, "__len__") and not isinstance(value, (str, bytes, Message)) else [value]
        for item in items:
            if isinstance(item, Message):
                _strings(item, out)
            elif isinstance(item, str):
                out.append((fd.name, item))


def _live_markup(at: AppTest) -> list[str]:
    """Every Markdown-rendered string on the page that still holds a live link or image."""
    found: list[str] = []
    stack = [at._tree]
    while stack:
        node = stack.pop()
        stack.extend(getattr(node, "children", {}).values())
        proto = getattr(node, "proto", None)
        if proto is None or getattr(node, "type", None) in PLAIN_TYPES:
            continue
        texts: list[tuple[str, str]] = []
        _strings(proto, texts)
        found += [f"{node.type}.{name}: {text}" for name, text in texts if EVIL.search(text) or "<img" in text]
    return found


def _session(report: AuditReport) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.session_state[state.REPORT] = report
    at.session_state[state.REPORT_KEY] = "hostile"
    return at.run()


@pytest.fixture(scope="module")
def hostile_small() -> AuditReport:
    return _hostile_report(("performance", "fairness"))


def test_the_payload_reaches_the_report(hostile_small):
    assert LINK in hostile_small.manifest.dataset.name and any(LINK in f for f in hostile_small.manifest.features)


@pytest.mark.parametrize("page", ["overview", "datasheet", "performance", "fairness", "model_card"])
def test_no_live_markup_on_pages_of_a_hostile_report(hostile_small, page):
    at = _session(hostile_small)
    assert not _live_markup(at)  # app.py's sidebar
    at.switch_page(f"views/{page}.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert not _live_markup(at)


@pytest.mark.slow
def test_no_live_markup_on_any_tab_of_any_page():
    report = _hostile_report(forms.available_sections())
    tabs = {"performance": "perf_tab", "explanations": "explain_tab", "robustness": "robust_tab",
            "model_card": "card_tab", "drift": "drift_tab"}
    for page in PAGES:
        at = _session(report)
        at.switch_page(f"views/{page}.py").run()
        assert not at.exception, (page, [e.value for e in at.exception])
        assert not _live_markup(at), page
        if page in tabs:
            for tab in at.tabs:
                at.session_state[tabs[page]] = tab.label
                at.run()
                assert not at.exception, (page, tab.label)
                assert not _live_markup(at), (page, tab.label)


def test_a_stored_audit_named_with_markup_is_inert_on_reviews(hostile_small, tmp_path, monkeypatch):
    from audit.store.core import AuditStore

    url = str(tmp_path / "audit.db")
    monkeypatch.setenv("AUDIT_DB_URL", url)
    store = AuditStore(url, password_hasher=PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    alice = store.create_user("alice", password="correct horse battery", role="reviewer")
    m = hostile_small.manifest
    saved = store.create_audit(user=alice, dataset_name=m.dataset.name, dataset_sha256=m.dataset.sha256,
                               report_json=hostile_small.to_json())
    store.close()
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    at.switch_page("views/reviews.py").run()
    at.text_input(key="login_username").input("alice")
    at.text_input(key="login_password").input("correct horse battery")
    at.form_submit_button(key="login_submit").click().run()
    key = f"{state.STORED_PREFIX}{saved.id}:1"  # what History's "Open" leaves in the session
    at.session_state[state.REPORT] = hostile_small
    at.session_state[state.REPORT_KEY] = key
    at.session_state[state.SAVED] = {key: saved.id}
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert any(f"Audit #{saved.id}" in h.value for h in at.header)
    assert not _live_markup(at)


# -- the imported mark ------------------------------------------------------------------------


def test_a_report_opened_from_a_file_is_marked_imported_everywhere(hostile_small):
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    at.file_uploader(key="upload_report").upload("their_report.json", hostile_small.to_json().encode(), "application/json")
    at.run()
    at.button(key="open_report").click().run()
    assert not at.exception, [e.value for e in at.exception]
    opened = at.session_state[state.REPORT]
    assert opened.imported_from == "their_report.json"
    assert any("imported" in c.value for c in at.sidebar.caption)
    for page in ("overview", "performance", "model_card"):
        at.switch_page(f"views/{page}.py").run()
        assert not at.exception, [e.value for e in at.exception]
        warnings = [w.value for w in at.warning]
        assert any(w.startswith("Imported from their\\_report\\.json: this report was opened from a file") for w in warnings), (page, warnings)
    from audit.cards.modelcard import build_model_card

    card = build_model_card(opened)
    assert "imported from their_report.json" in card.subtitle and "not computed by this installation" in card.limitations[0]
