"""Team reviews in the dashboard (issue 9): sign-in, Reviews and History pages under AppTest.

Each test gets a fresh SQLite store through ``$AUDIT_DB_URL`` with accounts made by
:class:`audit.store.core.AuditStore`; reports come from the real pipeline on small
synthetic data (performance only, no cross-validation, 50 bootstrap resamples).
Pages are driven through their widgets; the store is asked what really happened.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from argon2 import PasswordHasher
from streamlit.testing.v1 import AppTest

from audit.config import AuditConfig, ModelOptions
from audit.data import prepare_dataset
from audit.pipeline import run_audit
from audit.report import AuditReport
from audit.store.core import AuditStore, compare_reports
from dashboard.charts import reviews as rc
from dashboard import state
from dashboard.components import md
from tests.conftest import ROOT, make_synthetic

APP = str(ROOT / "dashboard" / "app.py")
PASSWORD = "correct horse battery"
TIMEOUT = 60
FAST = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)  # the app re-hashes at sign-in


def _report(seed: int, name: str) -> AuditReport:
    config = AuditConfig(target="label", sensitive=("sex",), sections=("performance",), seed=0,
                         models=ModelOptions(cv_folds=0, models=("dummy", "logistic")),
                         section_options={"performance": {"bootstrap": 50, "learning_curve_sizes": [1.0]}})
    data = prepare_dataset(make_synthetic(300, seed=seed), target="label", sensitive=["sex"], name=name)
    return AuditReport.from_json(run_audit(config, data, workers=1).to_json())


@pytest.fixture(scope="module")
def reports() -> dict[str, AuditReport]:
    """Two audits of different credit data (their metrics differ) and one of loans data."""
    return {"credit1": _report(1, "credit.csv"), "credit2": _report(2, "credit.csv"), "loans": _report(3, "loans.csv")}


@pytest.fixture
def store(tmp_path, monkeypatch) -> AuditStore:
    """A fresh audit database that the app opens too, with a reviewer team and a viewer."""
    url = str(tmp_path / "audit.db")
    monkeypatch.setenv("AUDIT_DB_URL", url)
    s = AuditStore(url, password_hasher=FAST)
    for name, role in (("alice", "reviewer"), ("bob", "reviewer"), ("vera", "viewer")):
        s.create_user(name, password=PASSWORD, role=role)
    yield s
    s.close()


def _user(store: AuditStore, name: str):
    """The account as the store knows it (no password check: the test is the local operator)."""
    return next(u for u in store.list_users() if u.username == name)


def _save(store: AuditStore, author: str, report: AuditReport, *, submit: bool = False, narrative=None):
    m = report.manifest
    user = _user(store, author)
    a = store.create_audit(user=user, dataset_name=m.dataset.name, dataset_sha256=m.dataset.sha256,
                           report_json=report.to_json(), model_card_json=json.dumps(narrative) if narrative else None)
    return store.submit_for_review(a.id, user=user) if submit else a


def _session(report: AuditReport | None = None, key: str = "upload-key") -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    if report is not None:
        at.session_state[state.REPORT] = report
        at.session_state[state.REPORT_KEY] = key
    return at.run()


def _page(at: AppTest, page: str) -> AppTest:
    at.switch_page(f"views/{page}.py").run()
    _ok(at)
    return at


def _sign_in(at: AppTest, name: str, password: str = PASSWORD, page: str = "login") -> AppTest:
    _page(at, page)
    at.text_input(key="login_username").input(name)
    at.text_input(key="login_password").input(password)
    at.form_submit_button(key="login_submit").click().run()
    _ok(at)
    return at


def _ok(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def _texts(at: AppTest) -> str:
    parts = []
    for kind in ("markdown", "caption", "info", "warning", "error", "success", "title", "header", "subheader", "text"):
        parts += [str(e.value) for e in getattr(at, kind)]
    return "\n".join(parts)


def _errors(at: AppTest) -> list[str]:
    return [e.value for e in at.error]


def _open_from_history(at: AppTest, audit_id: int, run: int | None = None) -> AppTest:
    _page(at, "history")
    at.selectbox(key="hist_open_pick").set_value(audit_id).run()
    if run is not None:
        at.number_input(key=f"hist_open_run_{audit_id}").set_value(run).run()
    at.button(key="hist_open").click().run()
    _ok(at)
    return at


def _decide(at: AppTest, outcome: str, note: str = "") -> AppTest:
    at.radio(key="decision_outcome").set_value(outcome)
    at.text_area(key="decision_note").input(note)
    at.form_submit_button(key="decide").click().run()
    _ok(at)
    return at


# -- signing in ---------------------------------------------------------------------------


@pytest.mark.parametrize("page", ["reviews", "history", "login"])
def test_signed_out_session_sees_only_the_login_form(store, reports, page):
    _save(store, "alice", reports["credit1"], submit=True)
    at = _page(_session(), page)
    assert [b.label for b in at.form_submit_button] == ["Sign in"]
    assert len(at.text_input) == 2
    assert not at.dataframe and not at.radio and not at.get("plotly_chart")
    assert "credit.csv" not in _texts(at)
    assert state.USER not in at.session_state


def test_wrong_password_is_refused_with_the_store_message(store):
    at = _sign_in(_session(), "alice", "not the password")
    assert _errors(at) == [md("unknown username or wrong password")]
    assert [b.label for b in at.form_submit_button] == ["Sign in"]
    assert state.USER not in at.session_state


def test_sign_in_then_sign_out_forgets_the_stored_audit(store, reports):
    saved = _save(store, "alice", reports["credit1"])
    at = _sign_in(_session(), "bob")
    assert at.session_state[state.USER].username == "bob"
    assert any("Signed in as bob (reviewer)" in s.value for s in at.success)
    _open_from_history(at, saved.id)
    assert at.session_state[state.REPORT] == reports["credit1"]
    _page(at, "history")
    at.button(key="logout").click().run()
    _ok(at)
    assert state.USER not in at.session_state and state.REPORT not in at.session_state
    assert [b.label for b in at.form_submit_button] == ["Sign in"]
    _page(at, "overview")
    assert any("No audit yet" in i.value for i in at.info)


@pytest.mark.parametrize("change", ["password", "role"])
def test_a_password_reset_or_role_change_signs_the_open_session_out(store, change):
    at = _sign_in(_session(), "bob", page="reviews")
    assert at.session_state[state.USER].username == "bob"
    if change == "password":
        store.reset_password("bob", new_password="an entirely new secret")
    else:
        store.set_role("bob", role="viewer")
    at.run()  # the same browser session, on its next interaction
    _ok(at)
    assert state.USER not in at.session_state
    assert [b.label for b in at.form_submit_button] == ["Sign in"]
    assert any(md("session of bob has ended") in w.value for w in at.warning)


def test_repeated_wrong_passwords_lock_the_account_in_the_dashboard(store):
    at = _session()
    for _ in range(5):
        _sign_in(at, "alice", "not the password")
    _sign_in(at, "alice")  # the right password, too late
    assert any(md("too many failed sign-ins for this account") in e for e in _errors(at))
    assert state.USER not in at.session_state


# -- the Reviews page ----------------------------------------------------------------------


def test_save_with_narrative_then_submit(store, reports):
    report = reports["credit1"]
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.session_state[state.REPORT] = report
    at.session_state[state.REPORT_KEY] = "k1"
    at.session_state[state.NARRATIVE] = {"k1": {"modelcard": {"model_name": "Credit scorer"}}}
    at.run()
    _sign_in(at, "alice", page="reviews")
    assert "Save the current audit" in _texts(at)
    at.button(key="save_audit").click().run()
    _ok(at)
    (summary,) = store.list_audits(user=_user(store, "alice"))
    rec = store.get_audit(summary.id, user=_user(store, "alice"))
    assert rec.report_json == report.to_json() and rec.status == "draft" and rec.author == "alice"
    assert json.loads(rec.model_card_json) == {"modelcard": {"model_name": "Credit scorer"}}
    assert "Save the current audit" not in _texts(at)
    assert f"Audit #{summary.id}: {md('credit.csv')}" in _texts(at)

    at.button(key="submit_review").click().run()
    _ok(at)
    assert store.get_audit(summary.id, user=_user(store, "alice")).status == "in_review"
    assert "Record the decision" in [b.label for b in at.form_submit_button]


def test_viewer_saving_is_refused(store, reports):
    at = _sign_in(_session(reports["credit1"]), "vera", page="reviews")
    at.button(key="save_audit").click().run()
    _ok(at)
    assert any("vera is a viewer" in e for e in _errors(at))
    assert store.list_audits(user=_user(store, "vera")) == ()


def test_viewer_cannot_decide(store, reports):
    saved = _save(store, "alice", reports["credit1"], submit=True)
    at = _sign_in(_session(), "vera", page="reviews")
    at.selectbox(key="queue_pick").set_value(saved.id)
    at.button(key="queue_open").click().run()  # the review queue opens the audit
    _ok(at)
    assert at.session_state[state.REPORT] == reports["credit1"]
    _decide(at, "approved", "looks fine")
    assert any("vera is a viewer" in e and "only reviewers and admins may decide" in e for e in _errors(at))
    assert store.get_audit(saved.id, user=_user(store, "vera")).status == "in_review"
    assert store.list_decisions(saved.id, user=_user(store, "vera")) == ()


def test_author_cannot_approve_their_own_audit(store, reports):
    saved = _save(store, "alice", reports["credit1"], submit=True)
    at = _open_from_history(_sign_in(_session(), "alice"), saved.id)
    _decide(_page(at, "reviews"), "approved")
    assert any("alice is the author" in e and "cannot approve it" in e for e in _errors(at))
    assert store.get_audit(saved.id, user=_user(store, "alice")).status == "in_review"


def test_a_reviewer_looking_at_an_earlier_run_cannot_approve_the_latest(store, reports):
    saved = _save(store, "alice", reports["credit1"], submit=True)
    store.add_run(saved.id, user=_user(store, "alice"), report_json=reports["credit1"].to_json())
    at = _open_from_history(_sign_in(_session(), "bob"), saved.id, run=1)  # bob reads run 1
    _decide(_page(at, "reviews"), "approved")
    assert any(md("has run 2, newer than run 1 you reviewed") in e for e in _errors(at))
    assert store.list_decisions(saved.id, user=_user(store, "bob")) == ()
    _open_from_history(at, saved.id)  # the latest run
    _decide(_page(at, "reviews"), "approved")
    assert [d.run for d in store.list_decisions(saved.id, user=_user(store, "bob"))] == [2]


def test_reviewer_approves_another_authors_audit(store, reports):
    saved = _save(store, "alice", reports["credit1"], submit=True)
    at = _open_from_history(_sign_in(_session(), "bob"), saved.id)
    _decide(_page(at, "reviews"), "approved", "checked the intervals")
    assert not _errors(at)
    assert store.get_audit(saved.id, user=_user(store, "bob")).status == "approved"
    (decision,) = store.list_decisions(saved.id, user=_user(store, "bob"))
    assert (decision.reviewer, decision.outcome, decision.note) == ("bob", "approved", "checked the intervals")
    assert "Status :blue-badge[approved]" in _texts(at)
    assert at.dataframe[0].value["reviewer"].tolist() == ["bob"]
    assert "Record the decision" not in [b.label for b in at.form_submit_button]  # decided: no more form
    trail = at.dataframe[-1].value
    assert trail["action"].tolist() == ["audit.created", "audit.submitted", "audit.decided"]
    assert trail["who"].tolist() == ["alice", "alice", "bob"]


def test_comments_per_section_answers_and_resolve(store, reports):
    saved = _save(store, "alice", reports["credit1"], submit=True)
    at = _open_from_history(_sign_in(_session(), "bob"), saved.id)
    _page(at, "reviews")
    at.selectbox(key="comment_section").set_value("fairness")
    at.text_area(key="comment_body").input("Which groups were too small?")
    at.form_submit_button(key="post_comment").click().run()
    _ok(at)
    (question,) = store.list_comments(saved.id, user=_user(store, "bob"))
    assert (question.author, question.section, question.parent_id) == ("bob", "fairness", None)

    at.selectbox(key="comment_parent").set_value(question.id)
    at.selectbox(key="comment_section").set_value("general")  # an answer takes its question's section
    at.text_area(key="comment_body").input("None: every group\nhas 30+ rows.")
    at.form_submit_button(key="post_comment").click().run()
    _ok(at)
    _, answer = store.list_comments(saved.id, user=_user(store, "bob"))
    assert (answer.parent_id, answer.section, answer.body) == (question.id, "fairness", "None: every group\nhas 30+ rows.")
    text = _texts(at)
    assert md("Which groups were too small?") in text and f"answers #{question.id}" in text
    assert "2 comments, 2 open." in text

    at.button(key=f"resolve_{question.id}").click().run()
    _ok(at)
    assert [c.resolved for c in store.list_comments(saved.id, user=_user(store, "bob"))] == [True, False]
    assert "resolved by bob" in _texts(at) and "2 comments, 1 open." in _texts(at)
    assert at.button(key=f"resolve_{question.id}").label == "Reopen"


def test_authors_edit_their_own_comment_and_the_trail_records_it(store, reports):
    saved = _save(store, "alice", reports["credit1"], submit=True)
    mine = store.add_comment(saved.id, user=_user(store, "bob"), body="check drift", section="drift")
    theirs = store.add_comment(saved.id, user=_user(store, "vera"), body="what is PSI?", section="drift")
    at = _open_from_history(_sign_in(_session(), "bob"), saved.id)
    _page(at, "reviews")
    assert f"edit_body_{theirs.id}" not in [t.key for t in at.text_area]  # only one's own comments
    at.text_area(key=f"edit_body_{mine.id}").input("check drift on age and hours")
    at.form_submit_button(key=f"edit_save_{mine.id}").click().run()
    _ok(at)
    assert store.list_comments(saved.id, user=_user(store, "bob"))[0].body == "check drift on age and hours"
    assert store.list_events(user=_user(store, "bob"), audit_id=saved.id)[-1].action == "comment.edited"
    assert store.verify_trail().ok


def test_viewer_may_not_resolve_anothers_comment(store, reports):
    saved = _save(store, "alice", reports["credit1"], submit=True)
    comment = store.add_comment(saved.id, user=_user(store, "bob"), body="check drift", section="drift")
    at = _open_from_history(_sign_in(_session(), "vera"), saved.id)
    _page(at, "reviews")
    at.button(key=f"resolve_{comment.id}").click().run()
    _ok(at)
    assert any("may only resolve their own comments" in e for e in _errors(at))
    assert not store.list_comments(saved.id, user=_user(store, "vera"))[0].resolved


# -- the History page ----------------------------------------------------------------------


def _three_audits(store, reports):
    return (_save(store, "alice", reports["credit1"]), _save(store, "bob", reports["credit2"], submit=True),
            _save(store, "alice", reports["loans"], submit=True))


def _history_ids(at: AppTest) -> list[int]:
    return at.dataframe[0].value["id"].tolist()


def test_history_lists_and_filters(store, reports):
    credit1, credit2, loans = _three_audits(store, reports)
    at = _page(_sign_in(_session(), "vera"), "history")
    assert _history_ids(at) == [loans.id, credit2.id, credit1.id]  # newest first
    at.selectbox(key="hist_dataset").set_value("credit.csv").run()
    assert _history_ids(at) == [credit2.id, credit1.id]
    at.selectbox(key="hist_status").set_value("in_review").run()
    assert _history_ids(at) == [credit2.id]
    at.selectbox(key="hist_status").set_value(None).run()
    at.selectbox(key="hist_author").set_value("alice").run()
    assert _history_ids(at) == [credit1.id]
    assert "1 of 3 audits." in _texts(at)
    at.selectbox(key="hist_dataset").set_value(None).run()
    assert _history_ids(at) == [loans.id, credit1.id]


def test_opening_a_past_audit_makes_it_current_on_every_page(store, reports):
    saved = _save(store, "bob", reports["loans"], narrative={"modelcard": {"model_name": "Loans v1"}})
    user = _user(store, "bob")
    store.add_run(saved.id, user=user, report_json=reports["credit2"].to_json())
    at = _sign_in(_session(reports["credit1"]), "alice")  # alice's own unsaved audit is replaced

    _open_from_history(at, saved.id, run=1)
    rec = store.get_audit(saved.id, user=user, run=1)
    assert at.session_state[state.REPORT] == AuditReport.from_json(rec.report_json) == reports["loans"]
    assert at.session_state[state.REPORT_KEY] == f"store:{saved.id}:1"
    assert at.session_state[state.NARRATIVE][f"store:{saved.id}:1"] == {"modelcard": {"model_name": "Loans v1"}}
    assert any(m.value.startswith("Overall verdict") for m in at.markdown)  # switched to the overview
    _page(at, "performance")
    perf = reports["loans"].performance
    assert any(m.value == f"{perf.baseline_primary:.3f}" for m in at.metric)
    _page(at, "reviews")
    assert f"Audit #{saved.id}: {md('loans.csv')}" in _texts(at)
    assert "earlier run" in _texts(at)

    _open_from_history(at, saved.id)  # the latest run by default
    assert at.session_state[state.REPORT] == reports["credit2"]


def test_compare_two_audits(store, reports):
    credit1, credit2, _ = _three_audits(store, reports)
    at = _page(_sign_in(_session(), "alice"), "history")
    at.selectbox(key="cmp_a").set_value((credit1.id, 1))
    at.selectbox(key="cmp_b").set_value((credit2.id, 1)).run()
    _ok(at)
    cmp = compare_reports(json.loads(reports["credit1"].to_json()), json.loads(reports["credit2"].to_json()))
    expected = rc.delta_rows(cmp)
    assert expected and any(r["section"] == "performance" for r in expected)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Metrics changed"] == str(len(expected))
    assert metrics["Sections that differ"] == str(len(cmp.sections))
    table = next(d.value for d in at.dataframe if {"metric", "delta"} <= set(d.value.columns))
    assert table["delta"].tolist() == [r["delta"] for r in expected]
    (chart,) = at.get("plotly_chart")
    bars = json.loads(chart.proto.spec)["data"][0]
    shown = rc.largest_deltas(cmp.section("performance").deltas, 20)
    assert sorted(bars["x"]) == sorted(d.delta for d in shown)

    at.selectbox(key="cmp_b").set_value((credit1.id, 1)).run()
    assert "Pick two different runs." in _texts(at)


# -- sessions are separate -----------------------------------------------------------------


def test_two_sessions_do_not_share_uploads_or_the_current_report(store, reports):
    mine = _sign_in(_session(), "alice")
    _page(mine, "start")
    mine.file_uploader(key="upload_report").upload("report.json", reports["credit1"].to_json().encode(),
                                                   "application/json")
    mine.run()
    mine.button(key="open_report").click().run()
    _ok(mine)
    opened = AuditReport.from_json(reports["credit1"].to_json(), imported_from="report.json")  # marked imported
    assert mine.session_state[state.REPORT] == opened
    _page(mine, "start")
    mine.file_uploader(key="upload_data").upload("private.csv", make_synthetic(50, seed=9).to_csv().encode(), "text/csv")
    mine.run()

    theirs = _sign_in(_session(), "bob")
    assert state.REPORT not in theirs.session_state
    _page(theirs, "start")
    assert theirs.file_uploader(key="upload_data").value is None
    assert "private.csv" not in _texts(theirs)
    _page(theirs, "overview")
    assert any("No audit yet" in i.value for i in theirs.info)
    _page(theirs, "reviews")
    assert "Save the current audit" not in [h.value for h in theirs.subheader]  # nothing of alice's to save
    assert not [b for b in theirs.button if b.key == "save_audit"]
    _page(theirs, "history")
    assert any("No audit has been saved yet" in i.value for i in theirs.info)
    _page(mine, "overview")
    assert mine.session_state[state.REPORT] == opened  # and hers is still hers


# -- the pure tables and figure -----------------------------------------------------------


def test_threads_nest_answers_under_their_question():
    from audit.store.core import Comment

    def c(i, parent=None):
        return Comment(id=i, audit_id=1, author="a", section="general", body=str(i), parent_id=parent, resolved=False,
                       resolved_by=None, resolved_at=None, created_at="2026-01-01")

    order = [(x.id, depth) for x, depth in rc.threads([c(1), c(2), c(3, 1), c(4, 3), c(5, 2), c(6, 99)])]
    assert order == [(1, 0), (3, 1), (4, 2), (2, 0), (5, 1), (6, 0)]


def test_delta_figure_draws_the_largest_changes_of_the_section(reports):
    cmp = compare_reports(json.loads(reports["credit1"].to_json()), json.loads(reports["loans"].to_json()))
    deltas = cmp.section("performance").deltas
    fig = rc.delta_figure(cmp, "performance", top=5)
    bar = fig.data[0]
    top = sorted(deltas, key=lambda d: abs(d.delta), reverse=True)[:5]
    assert list(bar.x) == [d.delta for d in top][::-1]
    assert list(bar.y) == [d.path.removeprefix("performance.") for d in top][::-1]
    assert all((colour == rc.UP_COLOUR) == (x > 0) for x, colour in zip(bar.x, bar.marker.color))
    assert len(rc.delta_figure(cmp, "no-such-section").data[0].x) == 0


def test_review_charts_imports_without_streamlit():
    code = "import sys, dashboard.charts.reviews; print('streamlit' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"
