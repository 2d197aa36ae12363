"""The audit store: schema and migrations, accounts, review workflow, history, comparison, users CLI."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import sqlite3

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from argon2 import PasswordHasher
from sqlalchemy import exc as sa_exc

import audit.store.schema as schema
from audit.errors import AuditError, PermissionDenied, StoreError
from audit.store.core import AuditStore, Outcome, Role, Status
from tests.store_backends import db_url, run_sql  # noqa: F401 - db_url is a fixture

# Cheap argon2 parameters: the tests hash dozens of passwords.
FAST = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
PW = "correct horse battery"
SHA_A, SHA_B = "a" * 64, "b" * 64
REPORT = '{"performance": {"metrics": {"accuracy": {"value": 0.8, "ci_low": 0.7, "ci_high": 0.9}}}}'


@pytest.fixture
def store(db_url):
    with AuditStore(db_url, password_hasher=FAST) as s:
        yield s


@pytest.fixture
def team(store):
    """admin, two reviewers (alice writes audits, bob reviews them) and a viewer."""
    return {name: store.create_user(name, password=PW, role=role) for name, role in
            [("root", "admin"), ("alice", "reviewer"), ("bob", "reviewer"), ("vera", "viewer")]}


def _audit(store, user, *, name="adult", sha=SHA_A, report=REPORT, submit=False):
    summary = store.create_audit(user=user, dataset_name=name, dataset_sha256=sha, report_json=report)
    return store.submit_for_review(summary.id, user=user) if submit else summary


# -- schema and migrations -----------------------------------------------------------------

def test_fresh_database_gets_every_table_at_the_latest_schema_version(tmp_path):
    AuditStore(tmp_path / "new.db", password_hasher=FAST).close()
    con = sqlite3.connect(tmp_path / "new.db")
    tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert set(schema.METADATA.tables) | {schema.VERSION_TABLE} <= tables
    head = ScriptDirectory.from_config(schema._alembic_config(None)).get_current_head()
    assert con.execute(f"SELECT version_num FROM {schema.VERSION_TABLE}").fetchall() == [(head,)]
    assert con.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_migrated_schema_matches_the_tables_the_code_queries(store):
    # Fails when a table in _store_schema.py changes without a new migration.
    with store._engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"version_table": schema.VERSION_TABLE})
        assert compare_metadata(context, schema.METADATA) == []


def test_reopening_a_current_database_runs_no_migration_and_keeps_data(db_url, monkeypatch):
    path = db_url
    with AuditStore(path, password_hasher=FAST) as first:
        alice = first.create_user("alice", password=PW, role="reviewer")
        saved = _audit(first, alice)

    def fail(*_a, **_k):
        raise AssertionError("upgrade ran on a database already at the latest version")

    monkeypatch.setattr(schema.command, "upgrade", fail)
    with AuditStore(path, password_hasher=FAST) as again:
        assert again.authenticate("alice", password=PW) == alice
        assert again.get_audit(saved.id, user=alice).report_json == REPORT


def test_default_location_is_audit_db_in_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.delenv("AUDIT_DB_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    AuditStore(password_hasher=FAST).close()
    assert (tmp_path / "audit.db").is_file()


def test_audit_db_url_environment_variable_is_used_and_an_explicit_path_wins(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AUDIT_DB_URL", f"sqlite:///{tmp_path / 'from_env.db'}")
    AuditStore(password_hasher=FAST).close()
    AuditStore(tmp_path / "explicit.db", password_hasher=FAST).close()
    assert sorted(p.name for p in tmp_path.glob("*.db")) == ["explicit.db", "from_env.db"]


def test_in_memory_database_works():
    with AuditStore(":memory:", password_hasher=FAST) as memory:
        user = memory.create_user("m", password=PW, role="admin")
        assert memory.list_audits(user=user) == ()


def test_newer_schema_version_is_refused_with_a_clear_message(tmp_path):
    path = tmp_path / "audit.db"
    AuditStore(path, password_hasher=FAST).close()
    with sqlite3.connect(path) as con:
        con.execute(f"UPDATE {schema.VERSION_TABLE} SET version_num = '9999'")
    with pytest.raises(StoreError, match="schema version '9999'.*upgrade the package"):
        AuditStore(path)


def test_trail_cannot_be_edited_even_with_raw_sql(store, team):
    for sql in ("UPDATE events SET action = 'x'", "DELETE FROM events"):
        with pytest.raises(sa_exc.DBAPIError, match="append-only"):
            run_sql(store, sql)
    assert not any(hasattr(store, n) for n in ("update_event", "delete_event", "delete_audit"))


# -- accounts --------------------------------------------------------------------------------

def test_passwords_are_stored_as_argon2id_hashes_and_authenticate(store, team):
    assert store.authenticate("alice", password=PW) == team["alice"]
    assert team["alice"].role is Role.REVIEWER
    with store._engine.connect() as conn:
        stored = conn.exec_driver_sql("SELECT password_hash FROM users WHERE username = 'alice'").scalar()
    assert stored.startswith("$argon2id$") and PW not in stored


@pytest.mark.parametrize("username, password", [("alice", "wrong password"), ("nobody", PW)])
def test_bad_login_gives_the_same_message_for_unknown_user_and_wrong_password(store, team, username, password):
    with pytest.raises(PermissionDenied, match="^unknown username or wrong password$"):
        store.authenticate(username, password=password)


def test_unknown_user_still_costs_one_password_verification(store, team, monkeypatch):
    calls = []

    class Counting(PasswordHasher):
        def verify(self, hash, password):  # noqa: A002 - argon2's own parameter name
            calls.append(hash)
            return super().verify(hash, password)

    monkeypatch.setattr(store, "_hasher", Counting(time_cost=1, memory_cost=1024, parallelism=1))
    for name in ("nobody", "alice"):
        with pytest.raises(PermissionDenied):
            store.authenticate(name, password="not it at all")
    assert len(calls) == 2 and calls[0] != calls[1]


def test_account_rules(store, team):
    with pytest.raises(StoreError, match="already exists"):
        store.create_user("alice", password=PW, role="viewer")
    with pytest.raises(StoreError, match="role must be one of viewer, reviewer, admin, got 'boss'"):
        store.create_user("carl", password=PW, role="boss")
    with pytest.raises(StoreError, match="at least 8 characters"):
        store.create_user("carl", password="short", role="viewer")
    with pytest.raises(PermissionDenied, match="only an admin"):
        store.create_user("carl", password=PW, role="admin", actor=team["alice"])
    assert [u.username for u in store.list_users()] == ["alice", "bob", "root", "vera"]
    assert store.list_users(actor=team["root"]) == store.list_users()
    with pytest.raises(PermissionDenied):
        store.list_users(actor=team["vera"])


def test_reset_password_replaces_the_old_one(store, team):
    store.reset_password("bob", new_password="a brand new secret", actor=team["root"])
    with pytest.raises(PermissionDenied):
        store.authenticate("bob", password=PW)
    assert store.authenticate("bob", password="a brand new secret").username == "bob"
    with pytest.raises(StoreError, match="no user named 'ghost'"):
        store.reset_password("ghost", new_password="whatever-123-xyz")
    assert store.list_events(user=team["root"])[-1].action == "user.password_reset"


@pytest.mark.parametrize("change", [
    lambda s, root: s.reset_password("bob", new_password="a brand new secret", actor=root),
    lambda s, root: s.set_role("bob", role="viewer", actor=root),
    lambda s, root: s.set_role("bob", role="reviewer", actor=root),  # even to the same role
], ids=["password-reset", "demotion", "same-role"])
def test_a_password_reset_or_role_change_ends_the_users_existing_sessions(store, team, change):
    audit = _audit(store, team["alice"], submit=True)
    session = store.authenticate("bob", password=PW)  # signed in before the change
    assert store.check_session(session) == session
    change(store, team["root"])
    for call in (lambda: store.check_session(session), lambda: store.list_audits(user=session),
                 lambda: store.decide(audit.id, user=session, run=1, outcome="approved")):
        with pytest.raises(PermissionDenied, match="session of bob has ended"):
            call()
    assert store.list_decisions(audit.id, user=team["alice"]) == ()
    password = "a brand new secret" if store.list_events(user=team["root"])[-1].action.endswith("reset") else PW
    fresh = store.authenticate("bob", password=password)
    assert fresh.session_version == session.session_version + 1 and store.check_session(fresh) == fresh
    assert team["alice"] == store.check_session(team["alice"])  # other users' sessions go on


# -- workflow and permissions ----------------------------------------------------------------

def test_full_review_cycle_records_each_decision(store, team):
    alice, bob = team["alice"], team["bob"]
    audit = _audit(store, alice)
    assert audit.status is Status.DRAFT
    assert store.submit_for_review(audit.id, user=alice).status is Status.IN_REVIEW
    first = store.decide(audit.id, user=bob, run=1, outcome="changes_requested", note="check the age bins")
    assert store.get_audit(audit.id, user=alice).status is Status.CHANGES_REQUESTED
    rerun = store.add_run(audit.id, user=alice, report_json='{"performance": null}')
    assert (rerun.status, rerun.run) == (Status.IN_REVIEW, 2)
    second = store.decide(audit.id, user=bob, run=2, outcome=Outcome.APPROVED, note="fine now")
    assert store.get_audit(audit.id, user=bob).status is Status.APPROVED
    stored = store.list_decisions(audit.id, user=team["vera"])
    assert stored == (first, second)
    assert [(d.reviewer, d.outcome, d.note, d.run) for d in stored] == [
        ("bob", Outcome.CHANGES_REQUESTED, "check the age bins", 1), ("bob", Outcome.APPROVED, "fine now", 2)]
    assert stored[0].created_at < stored[1].created_at and stored[0].created_at.endswith("+00:00")


def test_new_run_after_approval_needs_a_new_review(store, team):
    audit = _audit(store, team["alice"], submit=True)
    store.decide(audit.id, user=team["bob"], run=1, outcome="approved")
    assert store.add_run(audit.id, user=team["alice"], report_json="{}").status is Status.IN_REVIEW
    draft = _audit(store, team["alice"])
    assert store.add_run(draft.id, user=team["alice"], report_json="{}").status is Status.DRAFT


def test_viewer_can_read_and_comment_but_not_decide_or_save(store, team):
    vera = team["vera"]
    audit = _audit(store, team["alice"], submit=True)
    assert store.get_audit(audit.id, user=vera).report_json == REPORT
    store.add_comment(audit.id, user=vera, body="what is the base rate?")
    with pytest.raises(PermissionDenied, match="viewer.*only reviewers and admins may decide"):
        store.decide(audit.id, user=vera, run=1, outcome="approved")
    with pytest.raises(PermissionDenied, match="viewer"):
        _audit(store, vera)
    assert store.get_audit(audit.id, user=vera).status is Status.IN_REVIEW
    assert store.list_decisions(audit.id, user=vera) == ()


@pytest.mark.parametrize("author", ["alice", "root"])
def test_author_cannot_approve_own_audit_even_as_admin(store, team, author):
    audit = _audit(store, team[author], submit=True)
    with pytest.raises(PermissionDenied, match=f"{author} is the author of audit {audit.id} and cannot approve"):
        store.decide(audit.id, user=team[author], run=1, outcome="approved")
    assert store.get_audit(audit.id, user=team[author]).status is Status.IN_REVIEW
    # Asking for changes on one's own audit only delays it, so it is allowed.
    store.decide(audit.id, user=team[author], run=1, outcome="changes_requested")


def test_an_admin_who_added_the_run_under_review_cannot_approve_it(store, team):
    audit = _audit(store, team["alice"], submit=True)
    store.add_run(audit.id, user=team["root"], report_json='{"performance": null}')
    with pytest.raises(PermissionDenied, match=f"root is the author of run 2 of audit {audit.id} and cannot approve"):
        store.decide(audit.id, user=team["root"], run=2, outcome="approved")
    store.decide(audit.id, user=team["bob"], run=2, outcome="approved")
    assert store.get_audit(audit.id, user=team["bob"]).status is Status.APPROVED


def test_a_decision_names_its_run_and_is_refused_when_a_newer_run_exists(store, team):
    audit = _audit(store, team["alice"], submit=True)
    store.add_run(audit.id, user=team["alice"], report_json='{"performance": null}')  # bob only saw run 1
    with pytest.raises(StoreError, match=f"audit {audit.id} has run 2, newer than run 1 you reviewed"):
        store.decide(audit.id, user=team["bob"], run=1, outcome="approved")
    with pytest.raises(StoreError, match="has no run 3"):
        store.decide(audit.id, user=team["bob"], run=3, outcome="approved")
    with pytest.raises(TypeError):
        store.decide(audit.id, user=team["bob"], outcome="approved")  # no run named: not accepted
    assert store.list_decisions(audit.id, user=team["bob"]) == ()
    assert store.decide(audit.id, user=team["bob"], run=2, outcome="approved").run == 2


def test_the_audit_author_cannot_resolve_a_reviewers_blocking_comment(store, team):
    audit = _audit(store, team["root"], submit=True)  # written by an admin
    blocking = store.add_comment(audit.id, user=team["bob"], body="Blocking: the drift section is missing.")
    mine = store.add_comment(audit.id, user=team["root"], body="Note to self.")
    with pytest.raises(PermissionDenied, match="root wrote audit"):
        store.resolve_comment(blocking.id, user=team["root"])
    store.resolve_comment(mine.id, user=team["root"])  # their own comment: allowed
    assert [c["body"] for c in store.review_summary(audit.id, user=team["vera"])["open_comments"]] == [blocking.body]
    store.resolve_comment(blocking.id, user=team["alice"])  # another reviewer may
    store.resolve_comment(blocking.id, user=team["bob"], resolved=False)  # and so may the comment's author


def test_only_author_or_admin_submit_and_add_runs_and_only_in_review_is_decided(store, team):
    audit = _audit(store, team["alice"])
    with pytest.raises(StoreError, match="is draft; decisions are taken on audits in_review"):
        store.decide(audit.id, user=team["bob"], run=1, outcome="approved")
    with pytest.raises(PermissionDenied, match="only the author"):
        store.submit_for_review(audit.id, user=team["bob"])
    with pytest.raises(PermissionDenied, match="only the author"):
        store.add_run(audit.id, user=team["bob"], report_json="{}")
    store.submit_for_review(audit.id, user=team["root"])
    with pytest.raises(StoreError, match="only a draft can be submitted"):
        store.submit_for_review(audit.id, user=team["alice"])


@pytest.mark.parametrize("call", [
    lambda s, a: s.list_audits(user=None),
    lambda s, a: s.get_audit(a, user=None),
    lambda s, a: s.list_comments(a, user=None),
    lambda s, a: s.list_decisions(a, user=None),
    lambda s, a: s.list_events(user=None),
    lambda s, a: s.review_summary(a, user=None),
    lambda s, a: s.add_comment(a, user=None, body="hi"),
    lambda s, a: s.create_audit(user=None, dataset_name="d", dataset_sha256=SHA_A, report_json="{}"),
])
def test_no_user_means_no_access(store, team, call):
    audit = _audit(store, team["alice"])
    with pytest.raises(PermissionDenied, match="sign in first"):
        call(store, audit.id)


def test_forged_or_demoted_users_are_checked_against_the_database(store, team):
    audit = _audit(store, team["alice"], submit=True)
    forged = type(team["bob"])(id=999, username="mallory", role=Role.ADMIN, created_at="", session_version=0)
    with pytest.raises(PermissionDenied, match="does not exist"):
        store.list_audits(user=forged)
    promoted = dataclasses.replace(team["vera"], role=Role.ADMIN)
    with pytest.raises(PermissionDenied, match="session of vera has ended"):
        store.decide(audit.id, user=promoted, run=1, outcome="approved")


# -- history ---------------------------------------------------------------------------------

def test_report_json_comes_back_byte_for_byte(store, team):
    odd = '{ "b":1,\n\t"a" : [1.0000000000000001, 1e400, "é\\u00e9 ☃", null],"z":{} }  '
    card = '{"narrative": "Intended use: \\"research\\" only"}'
    audit = store.create_audit(user=team["alice"], dataset_name="adult", dataset_sha256=SHA_A.upper(),
                               report_json=odd, model_card_json=card)
    record = store.get_audit(audit.id, user=team["bob"])
    assert record.report_json == odd and record.model_card_json == card
    assert record.dataset_sha256 == SHA_A and record.author == "alice"
    store.add_run(audit.id, user=team["alice"], report_json="{}", dataset_sha256=SHA_B)
    assert store.get_audit(audit.id, user=team["bob"], run=1).report_json == odd
    latest = store.get_audit(audit.id, user=team["bob"])
    assert (latest.run, latest.report_json, latest.dataset_sha256) == (2, "{}", SHA_B)
    with pytest.raises(StoreError, match="has runs 1 to 2, not 3"):
        store.get_audit(audit.id, user=team["bob"], run=3)


def test_list_audits_filters_and_orders_newest_first(store, team):
    alice, root = team["alice"], team["root"]
    a1 = _audit(store, alice, name="adult", sha=SHA_A)
    a2 = _audit(store, root, name="credit", sha=SHA_B, submit=True)
    a3 = _audit(store, alice, name="credit", sha=SHA_B, submit=True)
    ids = lambda **kw: [a.id for a in store.list_audits(user=team["vera"], **kw)]  # noqa: E731
    assert ids() == [a3.id, a2.id, a1.id]
    assert ids(dataset="credit") == [a3.id, a2.id]
    assert ids(dataset=SHA_A) == [a1.id]
    assert ids(dataset=SHA_A.upper()) == [a1.id]
    assert ids(status="in_review") == [a3.id, a2.id]
    assert ids(author="alice") == [a3.id, a1.id]
    assert ids(author="alice", status=Status.DRAFT) == [a1.id]
    assert ids(dataset="nothing") == [] and ids(limit=1) == [a3.id]
    with pytest.raises(StoreError, match="status must be one of"):
        ids(status="done")


@pytest.mark.parametrize("field, value, message", [
    ("report_json", "not json", "not valid JSON"),
    ("report_json", "[1, 2]", "must be a JSON object, got a JSON list"),
    ("dataset_sha256", "abc", "64 hexadecimal characters"),
    ("dataset_name", "   ", "dataset_name must be 1 to 255"),
])
def test_invalid_audit_input_is_refused(store, team, field, value, message):
    args = {"dataset_name": "adult", "dataset_sha256": SHA_A, "report_json": "{}", field: value}
    with pytest.raises(StoreError, match=message):
        store.create_audit(user=team["alice"], **args)
    assert store.list_audits(user=team["alice"]) == ()


# -- comments, trail, model card summary -----------------------------------------------------

def test_comments_threads_and_resolution(store, team):
    audit = _audit(store, team["alice"], submit=True)
    other = _audit(store, team["alice"])
    question = store.add_comment(audit.id, user=team["vera"], body="Why is recall low?", section="fairness")
    answer = store.add_comment(audit.id, user=team["alice"], body="Small group.", section="fairness",
                               parent_id=question.id)
    general = store.add_comment(audit.id, user=team["bob"], body="Looks good overall.")
    with pytest.raises(StoreError, match=f"comment {question.id} is not a comment on audit {other.id}"):
        store.add_comment(other.id, user=team["bob"], body="x", parent_id=question.id)
    with pytest.raises(StoreError, match="section must be"):
        store.add_comment(audit.id, user=team["bob"], body="x", section="Fairness!")
    with pytest.raises(PermissionDenied, match="viewer"):
        store.resolve_comment(general.id, user=team["vera"])
    store.resolve_comment(question.id, user=team["vera"])
    with pytest.raises(PermissionDenied, match="alice wrote audit .* may only resolve their own comments"):
        store.resolve_comment(general.id, user=team["alice"])  # a reviewer, but the audit's author
    comments = store.list_comments(audit.id, user=team["bob"])
    assert [(c.author, c.section, c.parent_id, c.resolved) for c in comments] == [
        ("vera", "fairness", None, True), ("alice", "fairness", question.id, False), ("bob", "general", None, False)]
    assert comments[0].resolved_by == "vera" and comments[0].resolved_at is not None
    assert [c.id for c in store.list_comments(audit.id, user=team["bob"], open_only=True)] == [answer.id, general.id]
    store.resolve_comment(question.id, user=team["bob"], resolved=False)
    assert not store.list_comments(audit.id, user=team["bob"])[0].resolved


def test_review_summary_for_the_model_card(store, team):
    audit = _audit(store, team["alice"], submit=True)
    store.decide(audit.id, user=team["bob"], run=1, outcome="changes_requested", note="add drift")
    store.add_run(audit.id, user=team["alice"], report_json="{}")
    store.decide(audit.id, user=team["root"], run=2, outcome="approved", note="ok")
    done = store.add_comment(audit.id, user=team["bob"], body="resolved one")
    store.add_comment(audit.id, user=team["vera"], body="open one", section="explanations")
    store.resolve_comment(done.id, user=team["bob"])
    summary = store.review_summary(audit.id, user=team["vera"])
    assert json.loads(json.dumps(summary)) == summary
    assert (summary["status"], summary["run"], summary["author"]) == ("approved", 2, "alice")
    assert [(d["reviewer"], d["outcome"], d["note"], d["run"]) for d in summary["decisions"]] == [
        ("bob", "changes_requested", "add drift", 1), ("root", "approved", "ok", 2)]
    assert all(d["date"].endswith("+00:00") for d in summary["decisions"])
    assert [(c["author"], c["section"], c["body"]) for c in summary["open_comments"]] == [
        ("vera", "explanations", "open one")]


def test_trail_records_who_did_what_to_which_audit(store, team):
    audit = _audit(store, team["alice"], submit=True)
    comment = store.add_comment(audit.id, user=team["vera"], body="?")
    store.decide(audit.id, user=team["bob"], run=1, outcome="approved", note="ok")
    events = store.list_events(user=team["vera"], audit_id=audit.id)
    assert [(e.actor, e.action) for e in events] == [
        ("alice", "audit.created"), ("alice", "audit.submitted"), ("vera", "comment.added"), ("bob", "audit.decided")]
    assert events[2].details == {"comment_id": comment.id, "section": "general",
                                 "body_sha256": hashlib.sha256(b"?").hexdigest()}
    assert events[3].details == {"note": "ok", "outcome": "approved", "run": 1, "decision_id": 1}
    all_events = store.list_events(user=team["vera"])
    assert [e.action for e in all_events[:4]] == ["user.created"] * 4 and all_events[0].actor is None
    assert [e.id for e in all_events] == sorted(e.id for e in all_events)


def test_store_errors_are_audit_errors():
    # Pages and the CLI catch AuditError only.
    assert issubclass(StoreError, AuditError) and issubclass(PermissionDenied, StoreError)
