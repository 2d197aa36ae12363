"""Single sign-on identities in the store (issue 19 item 3): roles given by an admin, unknown identities
refused or made viewers, local accounts never taken over. Real SQLite databases."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher

from audit.errors import PermissionDenied, StoreError
from audit.store.core import AuditStore
from audit.store.users_cli import main

PASSWORD = "correct horse battery"
ISS = "http://127.0.0.1:9999"


@pytest.fixture
def store(tmp_path):
    s = AuditStore(tmp_path / "audit.db", password_hasher=PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    s.create_user("root", password=PASSWORD, role="admin")
    yield s
    s.close()


def test_an_admin_given_role_applies_at_the_first_sign_in_and_the_subject_keeps_it(store):
    store.add_sso_user("Alice@Example.org", role="reviewer")
    user = store.sso_sign_in(issuer=ISS, subject="sub-1", email="alice@example.org", email_verified=True)
    assert (user.username, user.role.value) == ("alice@example.org", "reviewer")
    again = store.sso_sign_in(issuer=ISS, subject="sub-1", email="alice.new@example.org")  # e-mail changed
    assert again.id == user.id
    store.set_role("alice@example.org", role="viewer")  # roles change as for local accounts
    assert store.sso_sign_in(issuer=ISS, subject="sub-1").role.value == "viewer"


def test_an_account_can_be_named_by_the_subject(store):
    store.add_sso_user("8f1c-subject", role="admin")
    assert store.sso_sign_in(issuer=ISS, subject="8f1c-subject").role.value == "admin"


def test_unknown_identities_are_refused_or_viewers_as_configured(store):
    with pytest.raises(PermissionDenied, match="eve@example.org has no account in this audit database"):
        store.sso_sign_in(issuer=ISS, subject="sub-eve", email="eve@example.org")
    assert [u.username for u in store.list_users()] == ["root"]
    eve = store.sso_sign_in(issuer=ISS, subject="sub-eve", email="eve@example.org", unknown="viewer")
    assert (eve.username, eve.role.value) == ("eve@example.org", "viewer")
    assert store.sso_sign_in(issuer=ISS, subject="sub-eve").id == eve.id


def test_an_unverified_email_finds_no_account(store):
    store.add_sso_user("alice@example.org", role="admin")
    with pytest.raises(PermissionDenied, match="sub-x has no account"):
        store.sso_sign_in(issuer=ISS, subject="sub-x", email="alice@example.org", email_verified=False)


def test_the_same_subject_at_another_issuer_is_someone_else(store):
    store.add_sso_user("alice@example.org", role="reviewer")
    store.sso_sign_in(issuer=ISS, subject="s", email="alice@example.org")
    with pytest.raises(PermissionDenied, match="has no account"):
        store.sso_sign_in(issuer="https://other.example", subject="s")


def test_a_local_account_is_never_taken_over_and_sso_accounts_have_no_password(store):
    store.create_user("bob@example.org", password=PASSWORD, role="admin")
    with pytest.raises(PermissionDenied, match="is a local account with a password"):
        store.sso_sign_in(issuer=ISS, subject="s", email="bob@example.org", unknown="viewer")
    store.add_sso_user("carol@example.org", role="reviewer")
    for guess in ("", "!sso-only", PASSWORD):
        with pytest.raises(PermissionDenied, match="unknown username or wrong password"):
            store.authenticate("carol@example.org", password=guess)


@pytest.mark.parametrize("kw, match", [
    ({"issuer": "", "subject": "s"}, "issuer must be 1 to 255"),
    ({"issuer": ISS, "subject": "x" * 300}, "subject must be 1 to 255"),
    ({"issuer": ISS, "subject": "s", "unknown": "admin"}, "unknown identities must be one of refuse, viewer"),
])
def test_bad_claims_are_one_line_errors(store, kw, match):
    with pytest.raises(StoreError, match=match):
        store.sso_sign_in(**kw)


def test_add_sso_refuses_taken_names_and_non_admins(store):
    store.add_sso_user("alice@example.org", role="viewer")
    with pytest.raises(StoreError, match="already exists"):
        store.add_sso_user("ALICE@example.org", role="viewer")
    viewer = store.sso_sign_in(issuer=ISS, subject="v", email="alice@example.org")
    with pytest.raises(PermissionDenied, match="only an admin"):
        store.add_sso_user("dave@example.org", role="admin", actor=viewer)


def test_the_users_cli_adds_an_sso_account(store, tmp_path, capsys):
    assert main(["--db", str(tmp_path / "audit.db"), "add-sso", "erin@example.org", "--role", "reviewer"]) == 0
    assert capsys.readouterr().out.strip() == "created single sign-on user erin@example.org (reviewer)"
    assert store.sso_sign_in(issuer=ISS, subject="e", email="erin@example.org").role.value == "reviewer"
