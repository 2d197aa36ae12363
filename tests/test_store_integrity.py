"""The trail's tamper evidence, on SQLite and PostgreSQL: the hash chain, its guards, and verify."""

from __future__ import annotations

import hashlib
import json

import pytest
from argon2 import PasswordHasher

from audit.errors import PermissionDenied, StoreError
from audit.store import users_cli
from audit.store.core import AuditStore
from tests.store_backends import db_url, run_sql  # noqa: F401 - db_url is a fixture

FAST = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
PW = "correct horse battery"
SHA = "a" * 64
GUARDS = {"sqlite": ["DROP TRIGGER events_no_update", "DROP TRIGGER events_no_delete"],
          "postgresql": ["DROP TRIGGER events_no_update ON events", "DROP TRIGGER events_no_delete ON events"]}


@pytest.fixture
def seeded(db_url):
    """A reviewed audit with two runs, a decision and comments; returns (url, ids)."""
    with AuditStore(db_url, password_hasher=FAST) as store:
        alice = store.create_user("alice", password=PW, role="reviewer")
        bob = store.create_user("bob", password=PW, role="reviewer")
        store.create_user("vera", password=PW, role="viewer")
        audit = store.create_audit(user=alice, dataset_name="adult", dataset_sha256=SHA, report_json='{"v": 1}')
        store.submit_for_review(audit.id, user=alice)
        blocking = store.add_comment(audit.id, user=bob, body="Blocking: drift is missing.", section="drift")
        decision = store.decide(audit.id, user=bob, run=1, outcome="changes_requested", note="add drift")
        store.add_run(audit.id, user=alice, report_json='{"v": 2}')
        assert store.verify_trail().ok
    return db_url, {"audit": audit.id, "comment": blocking.id, "decision": decision.id}


def _backend(url: str) -> str:
    return "postgresql" if url.startswith("postgresql") else "sqlite"


def _tamper(url: str, *sql: str, drop_guards: bool = False) -> None:
    with AuditStore(url, password_hasher=FAST, check_trail=False) as store:
        for statement in (GUARDS[_backend(url)] if drop_guards else []) + list(sql):
            run_sql(store, statement)


def _problems(url: str) -> tuple[str, ...]:
    with AuditStore(url, password_hasher=FAST, check_trail=False) as store:
        return store.verify_trail().problems


def test_events_form_a_hash_chain_from_the_genesis_hash(seeded):
    url, _ = seeded
    with AuditStore(url, password_hasher=FAST) as store, store._engine.connect() as conn:
        rows = conn.exec_driver_sql("SELECT id, created_at, user_id, action, audit_id, details_json, hash "
                                    "FROM events ORDER BY id").all()
    prev = "0" * 64
    for row in rows:  # recomputed here from the documented definition, not with the store's function
        content = json.dumps([row.id, row.created_at, row.user_id, row.action, row.audit_id, row.details_json],
                             ensure_ascii=True, separators=(",", ":"))
        prev = hashlib.sha256((prev + content).encode()).hexdigest()
        assert row.hash == prev
    assert [r.id for r in rows] == list(range(1, len(rows) + 1))


@pytest.mark.parametrize("attack", [
    ["UPDATE events SET details_json = '{\"note\": \"\", \"outcome\": \"approved\", \"run\": 1}' "
     "WHERE action = 'audit.decided'"],
    ["DELETE FROM events WHERE action = 'comment.added'"],
    # Swap two events' contents, each keeping its own (now wrong) hash.
    ["UPDATE events SET action = CASE action WHEN 'audit.submitted' THEN 'audit.created' ELSE 'audit.submitted' END "
     "WHERE action IN ('audit.created', 'audit.submitted')"],
], ids=["edited", "deleted", "reordered"])
def test_an_edited_deleted_or_reordered_event_is_refused_at_open_and_reported_by_verify(seeded, attack):
    url, _ = seeded
    _tamper(url, *attack, drop_guards=True)
    with pytest.raises(StoreError, match="audit trail .* fails its integrity check: .*does not match the chain"):
        AuditStore(url, password_hasher=FAST)
    assert any("does not match the chain" in p for p in _problems(url))


def test_a_store_whose_triggers_were_dropped_does_not_open(seeded):
    url, _ = seeded
    _tamper(url, drop_guards=True)  # nothing edited yet: the missing guard alone is refused
    with pytest.raises(StoreError, match="append-only trigger.*events_no_update, events_no_delete.*dropped"):
        AuditStore(url, password_hasher=FAST)


@pytest.mark.parametrize("edit, found", [
    ("UPDATE comments SET body = 'fine by me'", "comment 1's text was changed without an edit in the trail"),
    ("UPDATE comments SET resolved = TRUE", "comment 1 is resolved in the database but open by the trail"),
    ("UPDATE decisions SET outcome = 'approved'", "decision 1 on audit 1 differs from what the trail recorded"),
    ("DELETE FROM decisions", "audit 1 has 0 decision(s) in the database but 1 in the trail"),
    ("UPDATE audits SET status = 'approved'", "audit 1 has status 'approved' in the database but 'in_review'"),
    ("UPDATE audit_runs SET report_json = '{\"v\": 3}' WHERE run = 2",
     "the report of run 2 of audit 1 was changed after it was saved"),
    ("UPDATE users SET role = 'admin' WHERE username = 'vera'", "user 'vera' is admin in the database but viewer"),
], ids=["comment-body", "comment-resolved", "decision", "decision-deleted", "status", "report", "role"])
def test_verify_finds_review_state_changed_behind_the_stores_back(seeded, edit, found):
    url, _ = seeded
    _tamper(url, edit)
    problems = _problems(url)
    assert any(found in p for p in problems), problems
    with AuditStore(url, password_hasher=FAST) as store:  # the chain itself is whole: the store opens
        assert not store.verify_trail().ok


def test_comment_edits_are_recorded_in_the_trail_and_verify(seeded):
    url, ids = seeded
    with AuditStore(url, password_hasher=FAST) as store:
        bob, alice = (store.authenticate(n, password=PW) for n in ("bob", "alice"))
        edited = store.edit_comment(ids["comment"], user=bob, body="Blocking: drift and privacy are missing.")
        assert edited.body == "Blocking: drift and privacy are missing."
        event = store.list_events(user=bob)[-1]
        assert (event.action, event.actor, event.details["comment_id"]) == ("comment.edited", "bob", ids["comment"])
        assert event.details["previous_body_sha256"] == hashlib.sha256(b"Blocking: drift is missing.").hexdigest()
        assert event.details["body_sha256"] == hashlib.sha256(edited.body.encode()).hexdigest()
        with pytest.raises(PermissionDenied, match="only its author edits it"):
            store.edit_comment(ids["comment"], user=alice, body="resolved, never mind")
        assert store.verify_trail().ok


def test_verify_command_prints_the_head_or_lists_problems(seeded, capsys):
    url, _ = seeded
    assert users_cli.main(["--db", url, "verify"]) == 0
    out = capsys.readouterr().out
    assert "verified: 8 events, head " in out and len(out.split("head ")[1].strip()) == 64
    _tamper(url, "UPDATE comments SET body = 'fine by me'")
    assert users_cli.main(["--db", url, "verify"]) == 1
    captured = capsys.readouterr()
    assert "problem: comment 1's text was changed without an edit in the trail" in captured.out
    assert captured.err.startswith("error: the audit trail of ") and "fails verification (1 problem(s))" in captured.err


def test_a_database_made_before_the_chain_is_migrated_and_its_old_events_chained(db_url):
    import sqlalchemy as sa
    from alembic import command

    import audit.store.schema as schema

    engine = sa.create_engine(db_url if "://" in db_url else f"sqlite:///{db_url}")
    with engine.begin() as conn:  # the schema as release 0001 left it, with an account and its event
        command.upgrade(schema._alembic_config(conn), "0001")
        conn.exec_driver_sql("INSERT INTO users (id, username, password_hash, role, created_at) "
                             f"VALUES (1, 'ann', '{FAST.hash(PW)}', 'admin', '2026-01-01T00:00:00+00:00')")
        conn.exec_driver_sql("INSERT INTO events (id, created_at, user_id, action, audit_id, details_json) VALUES "
                             "(1, '2026-01-01T00:00:00+00:00', NULL, 'user.created', NULL, "
                             "'{\"role\": \"admin\", \"username\": \"ann\"}')")
    engine.dispose()
    with AuditStore(db_url, password_hasher=FAST) as store:
        ann = store.authenticate("ann", password=PW)
        store.create_audit(user=ann, dataset_name="d", dataset_sha256=SHA, report_json="{}")
        report = store.verify_trail()
        assert report.ok and report.events == 2
