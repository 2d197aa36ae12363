"""Sign-in sessions in the store (issue 19 item 2): hashed random tokens, absolute and idle expiry, revocation.

Real SQLite databases; times are passed in, so expiry is tested without waiting.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher

from audit.errors import PermissionDenied, StoreError
from audit.store.core import AuditStore
from audit.store.schema import SESSIONS
from audit.store.sessions import SessionPolicy, token_sha256

PASSWORD = "correct horse battery"
T0 = datetime(2026, 6, 1, 9, 0, tzinfo=timezone.utc)
POLICY = SessionPolicy(absolute=timedelta(hours=8), idle=timedelta(minutes=30), touch_every=timedelta(minutes=1))


@pytest.fixture
def store(tmp_path):
    s = AuditStore(tmp_path / "audit.db", password_hasher=PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    s.create_user("alice", password=PASSWORD, role="reviewer")
    s.create_user("bob", password=PASSWORD, role="viewer")
    yield s
    s.close()


def _alice(store):
    return store.authenticate("alice", password=PASSWORD)


def _rows(store):
    with store._engine.connect() as conn:
        return conn.execute(sa.select(SESSIONS)).all()


def test_a_token_is_random_256_bits_and_only_its_hash_is_stored(store):
    tokens = {store.start_session(_alice(store), policy=POLICY, moment=T0) for _ in range(5)}
    assert len(tokens) == 5 and all(len(t) == 43 for t in tokens)  # 32 bytes, base64url
    stored = {r.token_sha256 for r in _rows(store)}
    assert stored == {token_sha256(t) for t in tokens}
    assert not stored & tokens


def test_a_session_resumes_as_its_user_and_records_its_use(store):
    token = store.start_session(_alice(store), policy=POLICY, moment=T0)
    user = store.resume_session(token, policy=POLICY, moment=T0 + timedelta(minutes=20))
    assert (user.username, user.role.value) == ("alice", "reviewer")
    assert _rows(store)[0].last_seen_at == (T0 + timedelta(minutes=20)).isoformat(timespec="microseconds")
    # used again within the idle time: still honoured 50 minutes after it started
    assert store.resume_session(token, policy=POLICY, moment=T0 + timedelta(minutes=49)).username == "alice"


def test_idle_expiry(store):
    token = store.start_session(_alice(store), policy=POLICY, moment=T0)
    with pytest.raises(PermissionDenied, match="expired after 0:30:00 without use"):
        store.resume_session(token, policy=POLICY, moment=T0 + timedelta(minutes=30))


def test_absolute_expiry_even_when_in_use(store):
    token = store.start_session(_alice(store), policy=POLICY, moment=T0)
    for minutes in range(20, 8 * 60, 20):
        store.resume_session(token, policy=POLICY, moment=T0 + timedelta(minutes=minutes))
    with pytest.raises(PermissionDenied, match="sessions last at most 8:00:00"):
        store.resume_session(token, policy=POLICY, moment=T0 + timedelta(hours=8))


def test_a_shorter_policy_applies_to_sessions_already_started(store):
    token = store.start_session(_alice(store), policy=POLICY, moment=T0)
    short = SessionPolicy(absolute=timedelta(hours=1), idle=timedelta(minutes=30))
    store.resume_session(token, policy=short, moment=T0 + timedelta(minutes=29))
    with pytest.raises(PermissionDenied, match="at most 1:00:00"):
        store.resume_session(token, policy=short, moment=T0 + timedelta(minutes=61))


def test_sign_out_ends_only_that_session(store):
    first = store.start_session(_alice(store), policy=POLICY, moment=T0)
    second = store.start_session(_alice(store), policy=POLICY, moment=T0)
    assert store.end_session(first, moment=T0 + timedelta(minutes=1)) is True
    assert store.end_session(first) is False  # already ended
    with pytest.raises(PermissionDenied, match="ended \\(signed out\\)"):
        store.resume_session(first, policy=POLICY, moment=T0 + timedelta(minutes=2))
    assert store.resume_session(second, policy=POLICY, moment=T0 + timedelta(minutes=2)).username == "alice"


@pytest.mark.parametrize("change", [
    lambda s: s.reset_password("alice", new_password="another good passphrase"),
    lambda s: s.set_role("alice", role="viewer"),
    lambda s: s.end_sessions("alice"),
])
def test_password_reset_role_change_and_end_sessions_end_every_session_of_that_user(store, change):
    alice = [store.start_session(_alice(store), policy=POLICY, moment=T0) for _ in range(2)]
    bob = store.start_session(store.authenticate("bob", password=PASSWORD), policy=POLICY, moment=T0)
    change(store)
    for token in alice:
        with pytest.raises(PermissionDenied, match="sign in again"):
            store.resume_session(token, policy=POLICY, moment=T0 + timedelta(minutes=1))
    assert store.resume_session(bob, policy=POLICY, moment=T0 + timedelta(minutes=1)).username == "bob"
    me = next(u for u in store.list_users() if u.username == "alice")  # signing in again works
    fresh = store.start_session(me, policy=POLICY, moment=T0 + timedelta(minutes=2))
    assert store.resume_session(fresh, policy=POLICY, moment=T0 + timedelta(minutes=3)).username == "alice"


@pytest.mark.parametrize("token", ["", "x" * 5, "a" * 43 + ";", "a" * 43, None, 42, "ü" * 43, "a" * 5000])
def test_unknown_or_malformed_tokens_are_refused_in_one_line(store, token):
    with pytest.raises(PermissionDenied, match="sign in again"):
        store.resume_session(token, policy=POLICY)
    assert store.end_session(token) is False


def test_only_an_admin_ends_someone_elses_sessions_and_it_is_in_the_trail(store):
    with pytest.raises(PermissionDenied, match="only an admin"):
        store.end_sessions("bob", actor=_alice(store))
    store.start_session(store.authenticate("bob", password=PASSWORD), policy=POLICY, moment=T0)
    assert store.end_sessions("bob") == 1
    admin = store.create_user("root", password=PASSWORD, role="admin")
    assert [e.action for e in store.list_events(user=admin)][-2] == "user.sessions_ended"
    with pytest.raises(StoreError, match="no user named"):
        store.end_sessions("nobody")


def test_expired_sessions_are_deleted_when_new_ones_start(store):
    store.start_session(_alice(store), policy=POLICY, moment=T0)
    store.start_session(_alice(store), policy=POLICY, moment=T0 + timedelta(hours=17))
    assert len(_rows(store)) == 1


@pytest.mark.parametrize("kw", [{"absolute": timedelta(0)}, {"idle": timedelta(hours=13)}, {"touch_every": 5}])
def test_policy_is_validated(kw):
    with pytest.raises(StoreError, match="session|idle"):
        SessionPolicy(**kw)


def test_policy_from_the_environment():
    assert SessionPolicy.from_env({}) == SessionPolicy()
    got = SessionPolicy.from_env({"AUDIT_SESSION_HOURS": "24", "AUDIT_SESSION_IDLE_MINUTES": "15"})
    assert (got.absolute, got.idle) == (timedelta(hours=24), timedelta(minutes=15))
    for bad in ("0", "-1", "nan", "inf", "ten"):
        with pytest.raises(StoreError, match="AUDIT_SESSION_HOURS must be a positive number"):
            SessionPolicy.from_env({"AUDIT_SESSION_HOURS": bad})
    with pytest.raises(StoreError, match="idle lifetime"):
        SessionPolicy.from_env({"AUDIT_SESSION_HOURS": "1", "AUDIT_SESSION_IDLE_MINUTES": "90"})


def test_the_users_cli_ends_every_session_of_an_account(store, tmp_path, capsys):
    from audit.store.users_cli import main

    token = store.start_session(_alice(store), policy=POLICY)
    assert main(["--db", str(tmp_path / "audit.db"), "end-sessions", "alice"]) == 0
    assert capsys.readouterr().out.strip() == "ended 1 session(s) of alice"
    with pytest.raises(PermissionDenied, match="was ended"):
        store.resume_session(token, policy=POLICY)
    assert main(["--db", str(tmp_path / "audit.db"), "end-sessions", "nobody"]) == 2
    assert capsys.readouterr().err.strip() == "error: no user named 'nobody'"
