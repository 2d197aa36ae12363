"""The users CLI (python -m audit users ...), on SQLite and PostgreSQL where a database is involved."""

from __future__ import annotations

import io

import pytest
from argon2 import PasswordHasher

from audit.errors import PermissionDenied
from audit.store import users_cli
from audit.store.core import AuditStore, Role
from tests.store_backends import db_url  # noqa: F401 - a fixture

FAST = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
PW = "correct horse battery"


def _cli(monkeypatch, capsys, argv, *, stdin="", env_password=None):
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    if env_password is None:
        monkeypatch.delenv("AUDIT_PASSWORD", raising=False)
    else:
        monkeypatch.setenv("AUDIT_PASSWORD", env_password)
    code = users_cli.main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_creates_users_from_stdin_or_environment_and_lists_them(db_url, monkeypatch, capsys):
    db = db_url
    assert _cli(monkeypatch, capsys, ["--db", db, "create-user", "ann", "--role", "admin", "--password-stdin"],
                stdin=PW + "\n")[:2] == (0, "created user ann (admin)\n")
    assert _cli(monkeypatch, capsys, ["create-user", "ben", "--role", "viewer", "--db", db],
                env_password="from the environment")[0] == 0
    code, out, _ = _cli(monkeypatch, capsys, ["list-users", "--db", db])
    assert code == 0 and [line.split()[:2] for line in out.splitlines()[1:]] == [["ann", "admin"], ["ben", "viewer"]]
    with AuditStore(db) as check:
        assert check.authenticate("ann", password=PW).role is Role.ADMIN
        assert check.authenticate("ben", password="from the environment").role is Role.VIEWER


def test_cli_reset_password(db_url, monkeypatch, capsys):
    db = db_url
    _cli(monkeypatch, capsys, ["--db", db, "create-user", "ann", "--role", "admin"], env_password=PW)
    assert _cli(monkeypatch, capsys, ["--db", db, "reset-password", "ann", "--password-stdin"],
                stdin="second password\r\n")[0] == 0
    with AuditStore(db) as check:
        assert check.authenticate("ann", password="second password").username == "ann"


def test_cli_set_role_changes_the_role_and_ends_sessions(db_url, monkeypatch, capsys):
    _cli(monkeypatch, capsys, ["--db", db_url, "create-user", "ann", "--role", "admin"], env_password=PW)
    with AuditStore(db_url, password_hasher=FAST) as store:
        session = store.authenticate("ann", password=PW)
    assert _cli(monkeypatch, capsys, ["--db", db_url, "set-role", "ann", "--role", "viewer"])[:2] == (
        0, "ann is now viewer; their sessions have ended\n")
    with AuditStore(db_url, password_hasher=FAST) as store:
        with pytest.raises(PermissionDenied, match="session of ann has ended"):
            store.check_session(session)
        assert store.authenticate("ann", password=PW).role is Role.VIEWER
    code, _, err = _cli(monkeypatch, capsys, ["--db", db_url, "set-role", "ghost", "--role", "viewer"])
    assert (code, err) == (2, "error: no user named 'ghost'\n")


@pytest.mark.parametrize("argv, env_password, message", [
    (["create-user", "ann", "--role", "admin"], None, "no password given"),
    (["create-user", "ann", "--role", "admin", "--password", PW], PW, "never from the command line"),
    (["create-user", "ann", "--role", "boss"], PW, "invalid choice"),
    (["create-user", "ann", "--role", "admin"], "short", "at least 8 characters"),
    (["reset-password", "ghost"], PW, "no user named 'ghost'"),
    (["frobnicate"], PW, "invalid choice"),
])
def test_cli_errors_are_one_line_on_stderr_with_exit_code_2(tmp_path, monkeypatch, capsys, argv,
                                                             env_password, message):
    code, out, err = _cli(monkeypatch, capsys, ["--db", str(tmp_path / "cli.db"), *argv], env_password=env_password)
    assert (code, out) == (2, "")
    assert err.count("\n") == 1 and err.startswith("error: ") and message in err
    assert PW not in err


def test_cli_reports_a_corrupted_database_in_one_line(tmp_path, monkeypatch, capsys):
    bad = tmp_path / "bad.db"
    bad.write_bytes(b"this is not a database, just some text" * 20)
    code, _, err = _cli(monkeypatch, capsys, ["--db", str(bad), "list-users"])
    assert code == 2 and err.count("\n") == 1 and "not a SQLite database" in err


