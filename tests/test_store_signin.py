"""Sign-in abuse, on SQLite and PostgreSQL: rate limits, bounded hashing, password and username rules, timing."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from argon2 import PasswordHasher, extract_parameters

from audit.errors import PermissionDenied, StoreError
from audit.store.core import AuditStore, SignInLimits, TooManyAttempts
from tests.store_backends import db_url  # noqa: F401 - a fixture

FAST = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
PW = "correct horse battery"


@pytest.fixture
def store(db_url):
    with AuditStore(db_url, password_hasher=FAST, sign_in_limits=SignInLimits(per_user=3, per_client=5)) as s:
        for name in ("alice", "bob", "carol"):
            s.create_user(name, password=PW, role="reviewer")
        yield s


def _fail(store, username, client=None, times=1):
    for _ in range(times):
        with pytest.raises(PermissionDenied, match="^unknown username or wrong password$"):
            store.authenticate(username, password="not the password", client=client)


# -- rate limits -----------------------------------------------------------------------------

def test_failed_sign_ins_lock_the_account_even_with_the_right_password(store):
    _fail(store, "alice", times=3)
    with pytest.raises(TooManyAttempts, match=r"too many failed sign-ins for this account \(3 in 15 minutes\); "
                                              r"try again in 1[56] minute"):
        store.authenticate("alice", password=PW)
    assert store.authenticate("bob", password=PW).username == "bob"  # other accounts are not affected
    with store._engine.connect() as conn:
        rows = conn.exec_driver_sql("SELECT username, succeeded FROM login_attempts ORDER BY id").all()
    assert [tuple(r) for r in rows] == [("alice", False)] * 3 + [("bob", True)]  # the refusal is not recorded


def test_unknown_usernames_are_limited_the_same_way(store):
    _fail(store, "nobody", times=3)
    with pytest.raises(TooManyAttempts, match="for this account"):
        store.authenticate("nobody", password=PW)


def test_a_success_resets_the_users_count_but_not_the_clients(store):
    _fail(store, "alice", client="10.0.0.9", times=2)
    store.authenticate("alice", password=PW, client="10.0.0.9")
    _fail(store, "alice", client="10.0.0.9", times=2)  # 2 since the success: still allowed
    store.authenticate("alice", password=PW, client="10.0.0.9")
    _fail(store, "bob", client="10.0.0.9")  # the client's fifth failure
    with pytest.raises(TooManyAttempts, match=r"for this client \(5 in 15 minutes\)"):
        store.authenticate("carol", password=PW, client="10.0.0.9")
    assert store.authenticate("carol", password=PW, client="10.0.0.10").username == "carol"


def test_one_client_spraying_many_accounts_is_stopped(store):
    for name in ("alice", "bob", "carol", "dave", "erin"):
        _fail(store, name, client="203.0.113.5")
    with pytest.raises(TooManyAttempts, match="for this client"):
        store.authenticate("frank", password="not the password", client="203.0.113.5")


def test_failures_older_than_the_window_no_longer_count(db_url):
    limits = SignInLimits(per_user=2, window_s=0.5)
    with AuditStore(db_url, password_hasher=FAST, sign_in_limits=limits) as store:
        store.create_user("alice", password=PW, role="viewer")
        _fail(store, "alice", times=2)
        with pytest.raises(TooManyAttempts):
            store.authenticate("alice", password=PW)
        time.sleep(0.6)
        assert store.authenticate("alice", password=PW).username == "alice"


def test_the_limits_hold_across_store_instances_like_separate_servers(store, db_url):
    _fail(store, "alice", times=3)
    with AuditStore(db_url, password_hasher=FAST, sign_in_limits=SignInLimits(per_user=3)) as other:
        with pytest.raises(TooManyAttempts):
            other.authenticate("alice", password=PW)


def test_concurrent_hashing_is_bounded(db_url):
    class Tracking(PasswordHasher):
        inside = peak = 0
        lock = threading.Lock()

        def verify(self, hash, password):  # noqa: A002 - argon2's own parameter name
            with self.lock:
                Tracking.inside += 1
                Tracking.peak = max(Tracking.peak, Tracking.inside)
            try:
                time.sleep(0.05)  # long enough that unbounded callers would overlap
                return super().verify(hash, password)
            finally:
                with self.lock:
                    Tracking.inside -= 1

    hasher = Tracking(time_cost=1, memory_cost=1024, parallelism=1)
    with AuditStore(db_url, password_hasher=hasher, max_concurrent_hashes=2,
                    sign_in_limits=SignInLimits(per_user=100)) as store:
        store.create_user("alice", password=PW, role="viewer")

        def attempt(i):
            try:
                store.authenticate("alice", password=f"guess number {i}")
            except PermissionDenied:
                return "refused"

        with ThreadPoolExecutor(16) as pool:
            assert list(pool.map(attempt, range(16))) == ["refused"] * 16
    assert Tracking.peak == 2


# -- password and username rules -----------------------------------------------------------

@pytest.mark.parametrize("password, message", [
    ("password1", "one of the most common passwords"),
    ("Iloveyou1", "one of the most common passwords"),  # case does not make it uncommon
    ("qwertyuiop", "one of the most common passwords"),
    (" " * 12, "only whitespace"),
    ("\t\n \u3000\u00a0   ", "only whitespace"),
    ("x" * 1025, "at most 1024"),
])
def test_common_and_blank_passwords_are_refused(store, password, message):
    with pytest.raises(StoreError, match=message):
        store.create_user("dan", password=password, role="viewer")
    with pytest.raises(StoreError, match=message):
        store.reset_password("alice", new_password=password)


@pytest.mark.parametrize("username, message", [
    ("\u0430lice", "mixes scripts"),  # Cyrillic a + Latin lice
    ("al\u200bice", "invisible or control characters \\(U\\+200B\\)"),
    ("bob\u202e", "invisible or control characters"),
    ("ALICE", "looks like the existing user 'alice'"),
    ("\uff41\uff4c\uff49\uff43\uff45", "already exists"),  # fullwidth: NFKC makes it plain alice
    ("  alice  ", "already exists"),
    ("\u0441\u0430r\u043el", "mixes scripts"),
    ("   ", "1 to 150 characters"),
])
def test_usernames_are_normalised_and_lookalikes_refused(store, username, message):
    with pytest.raises(StoreError, match=message):
        store.create_user(username, password=PW, role="viewer")


def test_lookalikes_in_one_other_script_are_refused_and_real_names_accepted(store):
    store.create_user("coca", password=PW, role="viewer")
    with pytest.raises(StoreError, match="looks like the existing user 'coca'"):
        store.create_user("\u0441\u043e\u0441\u0430", password=PW, role="viewer")  # all Cyrillic
    for name in ("Zoë", "Юлия", "bob.smith-2", "李雷"):
        assert store.create_user(name, password=PW, role="viewer").username == name
    assert store.create_user(" dana ", password=PW, role="viewer").username == "dana"
    assert store.authenticate("\uff44\uff41\uff4e\uff41 ", password=PW).username == "dana"  # signs in as typed


# -- timing --------------------------------------------------------------------------------

def test_an_outdated_hash_costs_a_current_hash_on_a_wrong_password(db_url, monkeypatch):
    current = PasswordHasher(time_cost=2, memory_cost=8192, parallelism=1)
    with AuditStore(db_url, password_hasher=FAST) as old:  # parameters since raised
        old.create_user("olga", password=PW, role="viewer")
    costs = []

    class Recording(PasswordHasher):
        def verify(self, hash, password):  # noqa: A002
            params = extract_parameters(hash)
            costs.append((params.time_cost, params.memory_cost))
            return super().verify(hash, password)

    with AuditStore(db_url, password_hasher=Recording(time_cost=2, memory_cost=8192, parallelism=1)) as store:
        store.create_user("nina", password=PW, role="viewer")
        for name in ("nina", "olga", "nobody"):
            costs.clear()
            with pytest.raises(PermissionDenied, match="^unknown username or wrong password$"):
                store.authenticate(name, password="not the password")
            assert (current.time_cost, current.memory_cost) in costs, name  # everyone pays the current cost
        store.authenticate("olga", password=PW)  # and the right password upgrades the old hash
        with store._engine.connect() as conn:
            stored = conn.exec_driver_sql("SELECT password_hash FROM users WHERE username = 'olga'").scalar()
        assert extract_parameters(stored).memory_cost == 8192
