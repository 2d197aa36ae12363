"""``python -m audit users ...``: manage the local accounts of the audit database.

Usage::

    python -m audit users [--db PATH_OR_URL] create-user USERNAME --role ROLE [--password-stdin]
    python -m audit users [--db PATH_OR_URL] reset-password USERNAME [--password-stdin]
    python -m audit users [--db PATH_OR_URL] set-role USERNAME --role ROLE
    python -m audit users [--db PATH_OR_URL] end-sessions USERNAME
    python -m audit users [--db PATH_OR_URL] add-sso EMAIL_OR_SUBJECT --role ROLE
    python -m audit users [--db PATH_OR_URL] list-users
    python -m audit users [--db PATH_OR_URL] verify

Passwords never appear on the command line, where ``ps`` and shell history would
keep them: they come from the first line of stdin (``--password-stdin``), else
from ``$AUDIT_PASSWORD``, else from a hidden prompt when stdin is a terminal.
The database is ``--db``, else ``$AUDIT_DB_URL``, else ``./audit.db``.

Whoever runs this acts as the local operator, trusted because they can open the
database file anyway; the dashboard's own account calls require an admin user.
Errors print one line on stderr and exit with code 2. ``verify`` checks the audit
trail's hash chain and the review state against it: it prints the number of events
and the head hash (record it elsewhere to compare later) and exits 0, or lists every
problem and exits 1.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

from audit.errors import AuditError
from audit.store.core import AuditStore, Role

ENV_PASSWORD = "AUDIT_PASSWORD"
EXIT_ERROR = 2
EXIT_TAMPERED = 1


class _UsageError(Exception):
    """Raised instead of argparse printing usage and exiting, so errors stay one line."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        if message.startswith("unrecognized arguments"):
            # Not echoed: the likeliest stray argument here is a password.
            message = ("unrecognized arguments (not shown); passwords are read with --password-stdin "
                       f"or ${ENV_PASSWORD}, never from the command line")
        raise _UsageError(f"{self.prog}: {message}")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m audit users", description="Manage audit dashboard accounts.",
                     allow_abbrev=False)
    db_help = "SQLite file or SQLAlchemy URL (default: $AUDIT_DB_URL, else ./audit.db)"
    parser.add_argument("--db", help=db_help)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    # --db is accepted after the subcommand too; SUPPRESS keeps it from overwriting a value given before.
    create = sub.add_parser("create-user", allow_abbrev=False, help="create an account")
    create.add_argument("username")
    create.add_argument("--role", required=True, choices=[r.value for r in Role])
    reset = sub.add_parser("reset-password", allow_abbrev=False, help="set a new password for an account")
    reset.add_argument("username")
    for command in (create, reset):
        command.add_argument("--password-stdin", action="store_true",
                             help=f"read the password from the first line of stdin (else ${ENV_PASSWORD})")
    role = sub.add_parser("set-role", allow_abbrev=False, help="change an account's role (ends its sessions)")
    role.add_argument("username")
    role.add_argument("--role", required=True, choices=[r.value for r in Role])
    ending = sub.add_parser("end-sessions", allow_abbrev=False, help="sign an account out everywhere")
    ending.add_argument("username")
    sso = sub.add_parser("add-sso", allow_abbrev=False,
                         help="an account (no password) for a single sign-on identity, by e-mail or subject")
    sso.add_argument("name")
    sso.add_argument("--role", required=True, choices=[r.value for r in Role])
    listing = sub.add_parser("list-users", allow_abbrev=False, help="list accounts and their roles")
    verify = sub.add_parser("verify", allow_abbrev=False,
                            help="check the audit trail's hash chain and the review state against it")
    for command in (create, reset, role, ending, sso, listing, verify):
        command.add_argument("--db", default=argparse.SUPPRESS, help=db_help)
    return parser


def _password(*, from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    if os.environ.get(ENV_PASSWORD):
        return os.environ[ENV_PASSWORD]
    if sys.stdin is not None and sys.stdin.isatty():
        first = getpass.getpass("Password: ")
        if first != getpass.getpass("Repeat password: "):
            raise _UsageError("the two passwords differ")
        return first
    raise _UsageError(f"no password given: pipe it with --password-stdin or set ${ENV_PASSWORD}")


def _verify(db: str | None) -> int:
    # Opened without the open check, which would refuse the very database to be examined.
    with AuditStore(db, check_trail=False) as store:
        report = store.verify_trail()
        where = store.location
    if report.ok:
        print(f"audit trail of {where} verified: {report.events} events, head {report.head}")
        return 0
    for problem in report.problems:
        print(f"problem: {problem}")
    print(f"error: the audit trail of {where} fails verification ({len(report.problems)} problem(s))",
          file=sys.stderr)
    return EXIT_TAMPERED


def main(argv: Sequence[str] | None = None) -> int:
    """Run the users CLI.

    Parameters
    ----------
    argv : sequence of str, optional
        Arguments after ``users``; default ``sys.argv[1:]``.

    Returns
    -------
    int
        0 on success, 2 on any user-fixable error (one line on stderr).
    """
    try:
        args = _parser().parse_args(argv)
        if args.command == "verify":
            return _verify(args.db)
        if args.command == "set-role":
            with AuditStore(args.db) as store:
                store.set_role(args.username, role=args.role)
            print(f"{args.username} is now {args.role}; their sessions have ended")
            return 0
        if args.command == "end-sessions":
            with AuditStore(args.db) as store:
                ended = store.end_sessions(args.username)
            print(f"ended {ended} session(s) of {args.username}")
            return 0
        if args.command == "add-sso":
            with AuditStore(args.db) as store:
                user = store.add_sso_user(args.name, role=args.role)
            print(f"created single sign-on user {user.username} ({user.role.value})")
            return 0
        if args.command == "list-users":
            with AuditStore(args.db) as store:
                users = store.list_users()
            width = max([len(u.username) for u in users] + [8])
            print(f"{'USERNAME':<{width}}  {'ROLE':<8}  CREATED (UTC)")
            for user in users:
                print(f"{user.username:<{width}}  {user.role.value:<8}  {user.created_at}")
            return 0
        # Read the password before opening the database, so a missing one fails without touching it.
        password = _password(from_stdin=args.password_stdin)
        with AuditStore(args.db) as store:
            if args.command == "create-user":
                user = store.create_user(args.username, password=password, role=args.role)
                print(f"created user {user.username} ({user.role.value})")
            else:
                store.reset_password(args.username, new_password=password)
                print(f"password reset for {args.username}")
        return 0
    except SystemExit as stop:  # --help
        return stop.code if isinstance(stop.code, int) else 0
    except (AuditError, _UsageError) as err:
        print(f"error: {err}".splitlines()[0], file=sys.stderr)
        return EXIT_ERROR


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
