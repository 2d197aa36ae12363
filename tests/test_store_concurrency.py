"""The audit store under stress: concurrent writers, crashes mid-save, bad files, hostile text."""

from __future__ import annotations

import multiprocessing
import random
import sqlite3
import threading

import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher

import audit.store.core as store_module
from audit.errors import StoreError
from audit.store.core import AuditStore
from tests.store_backends import db_url  # noqa: F401 - a fixture

FAST = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
PW = "correct horse battery"
SHA = "c" * 64
WRITERS, COMMENTS_EACH = 8, 200


def _seed(path) -> tuple[int, list[str]]:
    """One audit and one user per writer; returns the audit id and the usernames."""
    with AuditStore(path, password_hasher=FAST) as store:
        names = [f"writer{i}" for i in range(WRITERS)]
        users = [store.create_user(n, password=PW, role="viewer") for n in names]
        admin = store.create_user("admin", password=PW, role="admin")
        audit = store.create_audit(user=admin, dataset_name="adult", dataset_sha256=SHA, report_json="{}")
        assert users
        return audit.id, names


def _write_comments(store: AuditStore, username: str, audit_id: int) -> None:
    user = store.authenticate(username, password=PW)
    for i in range(COMMENTS_EACH):
        store.add_comment(audit_id, user=user, body=f"{username} #{i}", section="general")


def _process_writer(path: str, username: str, audit_id: int) -> None:
    # Each process opens its own store, as separate dashboard servers would.
    with AuditStore(path, password_hasher=FAST) as store:
        _write_comments(store, username, audit_id)


def _assert_all_comments_stored(path, audit_id: int, names: list[str]) -> None:
    with AuditStore(path, password_hasher=FAST) as store:
        reader = store.authenticate("admin", password=PW)
        bodies = [c.body for c in store.list_comments(audit_id, user=reader)]
        events = [e for e in store.list_events(user=reader, audit_id=audit_id) if e.action == "comment.added"]
    assert len(bodies) == WRITERS * COMMENTS_EACH == 1600
    assert set(bodies) == {f"{n} #{i}" for n in names for i in range(COMMENTS_EACH)}
    assert len(events) == 1600
    assert store.verify_trail().ok  # concurrent appends kept the hash chain whole
    for name in names:  # each writer's comments are in the order it wrote them
        mine = [b for b in bodies if b.startswith(f"{name} #")]
        assert mine == [f"{name} #{i}" for i in range(COMMENTS_EACH)]


@pytest.mark.slow  # about 12 s per case on either backend
@pytest.mark.parametrize("shared", [True, False], ids=["one-shared-store", "store-per-thread"])
def test_eight_threads_adding_200_comments_each_lose_nothing(db_url, shared):
    path = db_url
    audit_id, names = _seed(path)
    shared_store = AuditStore(path, password_hasher=FAST) if shared else None
    start = threading.Barrier(WRITERS)
    errors: list[BaseException] = []

    def run(name: str) -> None:
        store = shared_store or AuditStore(path, password_hasher=FAST)
        try:
            start.wait()
            _write_comments(store, name, audit_id)
        except BaseException as err:  # noqa: BLE001 - reported by the main thread below
            errors.append(err)
        finally:
            if store is not shared_store:
                store.close()

    threads = [threading.Thread(target=run, args=(n,)) for n in names]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if shared_store:
        shared_store.close()
    assert errors == []
    _assert_all_comments_stored(path, audit_id, names)


@pytest.mark.slow
def test_eight_processes_adding_200_comments_each_lose_nothing(db_url):
    path = db_url
    audit_id, names = _seed(path)
    context = multiprocessing.get_context("spawn")  # no inherited connections or locks
    workers = [context.Process(target=_process_writer, args=(str(path), n, audit_id)) for n in names]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=300)
    assert [w.exitcode for w in workers] == [0] * WRITERS
    _assert_all_comments_stored(path, audit_id, names)


def test_writer_waits_for_the_lock_instead_of_failing(tmp_path):
    path = tmp_path / "audit.db"
    audit_id, _ = _seed(path)
    blocker = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    blocker.execute("BEGIN IMMEDIATE")  # another program holds the write lock for a while
    threading.Timer(0.5, blocker.rollback).start()
    with AuditStore(path, password_hasher=FAST) as store:
        user = store.authenticate("writer0", password=PW)
        store.add_comment(audit_id, user=user, body="after the wait")
        assert [c.body for c in store.list_comments(audit_id, user=user)] == ["after the wait"]


def test_writer_gives_a_clear_error_when_the_lock_never_comes(tmp_path):
    path = tmp_path / "audit.db"
    audit_id, _ = _seed(path)
    with AuditStore(path, password_hasher=FAST, busy_timeout_s=0.2) as store:
        user = store.authenticate("writer0", password=PW)
        blocker = sqlite3.connect(path, isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")
        try:
            with pytest.raises(StoreError, match="database is locked"):
                store.add_comment(audit_id, user=user, body="never stored")
        finally:
            blocker.rollback()
        assert store.list_comments(audit_id, user=user) == ()


# -- a save that crashes half way leaves nothing ---------------------------------------------

@pytest.mark.parametrize("step", ["_add_run", "append_event"])
def test_audit_save_that_crashes_half_way_stores_nothing(db_url, monkeypatch, step):
    path = db_url
    with AuditStore(path, password_hasher=FAST) as store:
        admin = store.create_user("admin", password=PW, role="admin")
        events_before = len(store.list_events(user=admin))

        def crash(*_args, **_kwargs):
            raise RuntimeError("disk pulled out")

        # Runs after the audit row is inserted, so without a transaction that row would remain.
        if step == "_add_run":
            monkeypatch.setattr(AuditStore, "_add_run", crash)
        else:
            monkeypatch.setattr(store_module, "append_event", crash)
        with pytest.raises(RuntimeError, match="disk pulled out"):
            store.create_audit(user=admin, dataset_name="adult", dataset_sha256=SHA, report_json="{}")
        monkeypatch.undo()
        assert store.list_audits(user=admin) == ()
        assert len(store.list_events(user=admin)) == events_before
        with store._engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT COUNT(*) FROM audits").scalar() == 0
            assert conn.exec_driver_sql("SELECT COUNT(*) FROM audit_runs").scalar() == 0


def test_new_run_that_crashes_half_way_leaves_the_audit_as_it_was(db_url, monkeypatch):
    with AuditStore(db_url, password_hasher=FAST) as store:
        admin = store.create_user("admin", password=PW, role="admin")
        audit = store.create_audit(user=admin, dataset_name="adult", dataset_sha256=SHA, report_json='{"v": 1}')
        store.submit_for_review(audit.id, user=admin)
        monkeypatch.setattr(store_module, "append_event", lambda *a, **k: 1 / 0)
        with pytest.raises(ZeroDivisionError):
            store.add_run(audit.id, user=admin, report_json='{"v": 2}')
        monkeypatch.undo()
        record = store.get_audit(audit.id, user=admin)
        assert (record.run, record.latest_run, record.report_json, record.status) == (1, 1, '{"v": 1}', "in_review")


# -- files that are not audit databases ------------------------------------------------------

@pytest.mark.parametrize("content", [
    random.Random(0).randbytes(8192),
    b"name,age\nalice,30\n" * 50,
    b"SQLite format 3\x00" + random.Random(1).randbytes(4080),
], ids=["random-bytes", "csv-file", "sqlite-header-then-garbage"])
def test_corrupted_or_non_sqlite_file_gives_a_clear_store_error_and_is_left_alone(tmp_path, content):
    path = tmp_path / "audit.db"
    path.write_bytes(content)
    with pytest.raises(StoreError, match="not a SQLite database or is corrupted"):
        AuditStore(path)
    assert path.read_bytes() == content


def test_foreign_sqlite_database_is_refused_and_left_alone(tmp_path):
    path = tmp_path / "shop.db"
    with sqlite3.connect(path) as con:
        con.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
        con.execute("INSERT INTO customers (name) VALUES ('Ada')")
    before = path.read_bytes()
    with pytest.raises(StoreError, match=r"not an audit database: it already holds other tables \(customers\)"):
        AuditStore(path)
    assert path.read_bytes() == before


def test_missing_folder_and_bad_url_give_store_errors(tmp_path):
    with pytest.raises(StoreError, match="the folder does not exist"):
        AuditStore(tmp_path / "no" / "such" / "dir" / "audit.db")
    with pytest.raises(StoreError, match="not a valid SQLAlchemy URL"):
        AuditStore("nonsense://:::")
    with pytest.raises(StoreError, match="path or URL is empty"):
        AuditStore("")
    with pytest.raises(StoreError, match="cannot open the audit database"):
        AuditStore(tmp_path)  # a folder, not a file
    # No driver or no server here; either way a StoreError, and the password is not echoed.
    with pytest.raises(StoreError, match=r"postgresql://user:\*\*\*@localhost:1/x") as info:
        AuditStore("postgresql://user:s3cret@localhost:1/x")
    assert "s3cret" not in str(info.value)


# -- hostile text is stored verbatim ---------------------------------------------------------

@pytest.mark.parametrize("evil", ["'; DROP TABLE users; --", "Robert'); DROP TABLE audits;--"])
def test_sql_injection_attempts_are_stored_as_plain_text(db_url, evil):
    path = db_url
    with AuditStore(path, password_hasher=FAST) as store:
        admin = store.create_user("admin", password=PW, role="admin")
        named = store.create_user(evil, password=evil, role="reviewer")
        assert store.authenticate(evil, password=evil) == named
        audit = store.create_audit(user=named, dataset_name=evil, dataset_sha256=SHA,
                                   report_json=f'{{"note": "{evil}"}}')
        store.submit_for_review(audit.id, user=named)
        store.add_comment(audit.id, user=admin, body=evil)
        store.decide(audit.id, user=admin, run=1, outcome="changes_requested", note=evil)
        store.reset_password(evil, new_password=evil + "2")
        assert [u.username for u in store.list_users()] == sorted(["admin", evil])
        assert [a.id for a in store.list_audits(user=admin, dataset=evil)] == [audit.id]
        assert [a.id for a in store.list_audits(user=admin, author=evil)] == [audit.id]
        record = store.get_audit(audit.id, user=admin)
        assert (record.dataset_name, record.author, record.report_json) == (evil, evil, f'{{"note": "{evil}"}}')
        assert store.list_comments(audit.id, user=admin)[0].body == evil
        assert store.list_decisions(audit.id, user=admin)[0].note == evil
        assert store.list_audits(user=admin, dataset="x' OR '1'='1") == ()
        tables = set(sa.inspect(store._engine).get_table_names())
    assert {"users", "audits", "comments", "decisions"} <= tables


def test_verify_while_writers_are_busy_finds_nothing_wrong(db_url):
    audit_id, names = _seed(db_url)
    with AuditStore(db_url, password_hasher=FAST) as store:
        writers = [store.authenticate(n, password=PW) for n in names[:4]]
        stop = threading.Event()

        def write(user):
            i = 0
            while not stop.is_set() and i < 100:
                store.add_comment(audit_id, user=user, body=f"{user.username} {i}")
                i += 1

        threads = [threading.Thread(target=write, args=(u,)) for u in writers]
        for t in threads:
            t.start()
        try:
            reports = [store.verify_trail() for _ in range(6)]  # each one snapshot, however busy
        finally:
            stop.set()
            for t in threads:
                t.join()
        assert [r.problems for r in reports] == [()] * 6
