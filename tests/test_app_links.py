"""Links to a page of a stored audit (issue 19 item 1) under AppTest: ``/performance?audit=1&run=1``.

A fresh SQLite store per test (``$AUDIT_DB_URL``), real reports from the pipeline
on small synthetic data, the app driven through its widgets and its query parameters.
"""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from dashboard import state
from dashboard.components import md
from tests.test_app_reviews import (  # noqa: F401 - the reviews tests' fixtures and helpers
    APP, PASSWORD, TIMEOUT, _errors, _ok, _save, _sign_in, _texts, _user, reports, store,
)


def _link(at: AppTest, page: str, **params: str) -> AppTest:
    """Open ``/<page>?<params>`` in this session, as following a link does."""
    at.query_params.clear()
    at.query_params.update(params)
    at.switch_page(f"views/{page}.py").run()
    _ok(at)
    return at


def _fresh() -> AppTest:
    return AppTest.from_file(APP, default_timeout=TIMEOUT).run()


def _titles(at: AppTest) -> list[str]:
    return [t.value for t in at.title]


def test_a_link_signed_out_asks_to_sign_in_then_shows_that_audit_on_that_page(store, reports):
    saved = _save(store, "alice", reports["credit1"])
    at = _link(_fresh(), "performance", audit=str(saved.id))
    assert f"This link opens audit #{saved.id}" in _texts(at)
    assert "Performance" not in _titles(at)  # nothing of the page before signing in
    at.text_input(key="login_username").input("bob")
    at.text_input(key="login_password").input(PASSWORD)
    at.form_submit_button(key="login_submit").click().run()
    _ok(at)
    assert _titles(at) == ["Performance"]
    assert at.session_state[state.REPORT_KEY] == f"{state.STORED_PREFIX}{saved.id}:1"
    assert at.session_state[state.REPORT].to_json() == reports["credit1"].to_json()
    assert at.query_params == {"audit": str(saved.id)}


def test_a_link_names_the_run_when_it_is_not_the_latest(store, reports):
    saved = _save(store, "alice", reports["credit1"])
    alice = _user(store, "alice")
    store.add_run(saved.id, user=alice, report_json=reports["credit2"].to_json(), model_card_json=None,
                  dataset_sha256=reports["credit2"].manifest.dataset.sha256)
    at = _sign_in(_fresh(), "bob")
    _link(at, "overview", audit=str(saved.id), run="1")
    assert at.session_state[state.REPORT_KEY] == f"{state.STORED_PREFIX}{saved.id}:1"
    assert at.session_state[state.REPORT].to_json() == reports["credit1"].to_json()
    assert at.query_params == {"audit": str(saved.id), "run": "1"}
    _link(at, "overview", audit=str(saved.id))  # no run: the latest, and the URL says no run
    assert at.session_state[state.REPORT_KEY] == f"{state.STORED_PREFIX}{saved.id}:2"
    assert at.session_state[state.REPORT].to_json() == reports["credit2"].to_json()
    assert at.query_params == {"audit": str(saved.id)}


def test_the_url_keeps_the_open_audit_across_pages(store, reports):
    saved = _save(store, "alice", reports["credit1"])
    at = _link(_sign_in(_fresh(), "bob"), "performance", audit=str(saved.id))
    at.query_params.clear()  # the sidebar's page links carry no query parameters
    at.switch_page("views/datasheet.py").run()
    _ok(at)
    assert at.query_params == {"audit": str(saved.id)}
    assert at.session_state[state.REPORT_KEY] == f"{state.STORED_PREFIX}{saved.id}:1"


@pytest.mark.parametrize("params, expected", [
    ({"audit": "999"}, "audit #999 cannot be shown: no audit with id 999"),
    ({"audit": "1", "run": "7"}, "audit #1, run 7 cannot be shown: audit 1 has runs 1 to 1, not 7"),
    ({"audit": "abc"}, "the link's audit must be a whole number from 1, got abc"),
    ({"audit": "<b>*x*</b>"}, f"the link's audit must be a whole number from 1, got {md('<b>*x*</b>')}"),
    ({"audit": "-3"}, f"the link's audit must be a whole number from 1, got {md('-3')}"),
    ({"run": "2"}, "the link names a run but no audit"),
])
def test_a_link_that_cannot_be_shown_is_refused_in_one_line(store, reports, params, expected):
    _save(store, "alice", reports["credit1"])
    at = _link(_sign_in(_fresh(), "bob"), "performance", **params)
    assert any(expected in e for e in _errors(at)), _errors(at)
    assert state.REPORT not in at.session_state  # nothing opened
    at.switch_page("views/datasheet.py").run()  # the refusal is shown once, then the URL stops claiming it
    _ok(at)
    assert at.query_params == {} and not _errors(at)


def test_each_page_of_a_stored_audit_offers_its_link_and_an_unsaved_one_none(store, reports):
    saved = _save(store, "alice", reports["credit1"])
    at = _fresh()
    at.context["url"] = "http://dash.example:8501/performance"
    _link(_sign_in(at, "bob"), "performance", audit=str(saved.id))
    assert [c.value for c in at.code] == [f"http://dash.example:8501/performance?audit={saved.id}"]
    at.context["url"] = "http://dash.example:8501/reviews"
    at.switch_page("views/reviews.py").run()
    assert f"http://dash.example:8501/reviews?audit={saved.id}" in [c.value for c in at.code]
    unsaved = AppTest.from_file(APP, default_timeout=TIMEOUT)
    unsaved.session_state[state.REPORT] = reports["credit2"]
    unsaved.session_state[state.REPORT_KEY] = "upload-key"
    unsaved.context["url"] = "http://dash.example:8501/performance"
    unsaved.run().switch_page("views/performance.py").run()
    _ok(unsaved)
    assert _titles(unsaved) == ["Performance"] and not unsaved.code
