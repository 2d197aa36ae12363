"""The audit store's foundation: connections, transactions, the trail, and accounts.

Split from :mod:`audit.store.core` to keep files short; :class:`audit.store.core.AuditStore`
inherits from :class:`StoreBase` and is the only public face of both.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import exc

from audit.store.schema import EVENTS, USERS, WRITE_OPTION, Role, User, open_database
from audit.errors import PermissionDenied, StoreError

MIN_PASSWORD_LENGTH = 8
_BAD_LOGIN = "unknown username or wrong password"


def now() -> str:
    """The current UTC time as ISO-8601 text with microseconds."""
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


def append_event(conn: sa.Connection, *, user_id: int | None, action: str,
                 audit_id: int | None = None, **details: Any) -> None:
    """Add one entry to the audit trail inside the caller's transaction."""
    conn.execute(sa.insert(EVENTS).values(
        created_at=now(), user_id=user_id, action=action, audit_id=audit_id,
        details_json=json.dumps(details, sort_keys=True),
    ))


def check_text(value: Any, name: str, *, max_len: int, allow_empty: bool = False) -> str:
    """Return ``value`` unchanged if it is text of an allowed length, else raise StoreError."""
    if not isinstance(value, str):
        raise StoreError(f"{name} must be text, got {type(value).__name__}")
    if (not allow_empty and not value.strip()) or len(value) > max_len:
        raise StoreError(f"{name} must be 1 to {max_len} characters, got {len(value)}: {value[:40]!r}")
    return value


def check_enum(kind: type, value: Any, name: str) -> Any:
    """Return ``kind(value)``, or raise StoreError listing the allowed values."""
    try:
        return kind(value)
    except ValueError:
        allowed = ", ".join(v.value for v in kind)
        raise StoreError(f"{name} must be one of {allowed}, got {value!r}") from None


def _user(row: Any) -> User:
    return User(id=row.id, username=row.username, role=Role(row.role), created_at=row.created_at)


class StoreBase:
    """Engine, transactions, the current-user check and account management."""

    def __init__(self, url_or_path: str | os.PathLike[str] | None = None, *, busy_timeout_s: float = 30.0,
                 password_hasher: PasswordHasher | None = None) -> None:
        self._engine = open_database(url_or_path, busy_timeout_s=busy_timeout_s)
        self._writer = self._engine.execution_options(**{WRITE_OPTION: True})
        self._hasher = password_hasher or PasswordHasher()
        self._dummy_hash: str | None = None

    def close(self) -> None:
        """Release the database connections."""
        self._engine.dispose()

    def __enter__(self) -> StoreBase:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    @contextmanager
    def _tx(self, *, write: bool) -> Iterator[sa.Connection]:
        """One transaction; commits on success, rolls everything back on any exception."""
        try:
            with (self._writer.begin() if write else self._engine.connect()) as conn:
                yield conn
        except exc.IntegrityError as err:
            raise StoreError(f"the database refused the change: {str(err.orig).splitlines()[0]}") from err
        except exc.OperationalError as err:
            raise StoreError(f"the audit database could not be used: {str(err.orig).splitlines()[0]}") from err

    def _current(self, conn: sa.Connection, user: User | None) -> User:
        """The caller as stored now (fresh role), or PermissionDenied if absent or unknown."""
        if user is None:
            raise PermissionDenied("sign in first: reading or changing audits needs a user, got none")
        row = conn.execute(sa.select(USERS).where(USERS.c.id == user.id)).first()
        if row is None or row.username != user.username:
            raise PermissionDenied(f"user {user.username!r} does not exist in this audit database")
        return _user(row)

    def _check_actor(self, conn: sa.Connection, actor: User | None) -> int | None:
        if actor is None:
            return None
        if self._current(conn, actor).role is not Role.ADMIN:
            raise PermissionDenied(f"only an admin may manage accounts; {actor.username} is not one")
        return actor.id

    def _hash(self, password: Any) -> str:
        if not isinstance(password, str) or len(password) < MIN_PASSWORD_LENGTH:
            raise StoreError(f"a password must be text of at least {MIN_PASSWORD_LENGTH} characters")
        return self._hasher.hash(password)

    def create_user(self, username: str, *, password: str, role: Role | str,
                    actor: User | None = None) -> User:
        """Create a local account with an argon2-hashed password.

        Parameters
        ----------
        username : str
            1 to 150 characters, stored verbatim.
        password : str
            At least ``MIN_PASSWORD_LENGTH`` characters; only its argon2 hash is stored.
        role : Role or {"viewer", "reviewer", "admin"}
        actor : User, optional
            The admin doing it; None for the local operator (users CLI).

        Returns
        -------
        User

        Raises
        ------
        StoreError
            If the username is taken or an argument is invalid.
        PermissionDenied
            If ``actor`` is not an admin.
        """
        username = check_text(username, "username", max_len=150)
        role = check_enum(Role, role, "role")
        password_hash = self._hash(password)
        with self._tx(write=True) as conn:
            actor_id = self._check_actor(conn, actor)
            if conn.execute(sa.select(USERS.c.id).where(USERS.c.username == username)).first():
                raise StoreError(f"a user named {username!r} already exists")
            created = now()
            user_id = conn.execute(sa.insert(USERS).values(
                username=username, password_hash=password_hash, role=role.value, created_at=created,
            )).inserted_primary_key[0]
            append_event(conn, user_id=actor_id, action="user.created", username=username, role=role.value)
        return User(id=user_id, username=username, role=role, created_at=created)

    def authenticate(self, username: str, *, password: str) -> User:
        """Return the account if the password matches.

        Returns
        -------
        User
            Pass it as ``user=`` to every audit call.

        Raises
        ------
        PermissionDenied
            With the same message, after the same hashing work, whether the username
            is unknown or the password is wrong.
        """
        if self._dummy_hash is None:
            # Verified against for unknown usernames, so they cost as much time as a wrong password.
            self._dummy_hash = self._hasher.hash("not a real password, only for timing")
        with self._tx(write=False) as conn:
            row = conn.execute(sa.select(USERS).where(USERS.c.username == username)).first()
        try:
            self._hasher.verify(row.password_hash if row else self._dummy_hash, password)
        except (VerificationError, InvalidHashError, TypeError):
            raise PermissionDenied(_BAD_LOGIN) from None
        if row is None:  # only reachable if someone's password is the dummy's
            raise PermissionDenied(_BAD_LOGIN)
        if self._hasher.check_needs_rehash(row.password_hash):
            # argon2 parameters were raised since this hash was made; upgrade it while we know the password.
            with self._tx(write=True) as conn:
                conn.execute(sa.update(USERS).where(USERS.c.id == row.id)
                             .values(password_hash=self._hasher.hash(password)))
        return _user(row)

    def reset_password(self, username: str, *, new_password: str, actor: User | None = None) -> None:
        """Replace a user's password.

        Parameters
        ----------
        username : str
        new_password : str
            At least ``MIN_PASSWORD_LENGTH`` characters.
        actor : User, optional
            The admin doing it; None for the local operator (users CLI).

        Raises
        ------
        StoreError
            If there is no such user or the password is too short.
        PermissionDenied
            If ``actor`` is not an admin.
        """
        password_hash = self._hash(new_password)
        with self._tx(write=True) as conn:
            actor_id = self._check_actor(conn, actor)
            done = conn.execute(sa.update(USERS).where(USERS.c.username == username)
                                .values(password_hash=password_hash)).rowcount
            if not done:
                raise StoreError(f"no user named {username!r}")
            append_event(conn, user_id=actor_id, action="user.password_reset", username=username)

    def list_users(self, *, actor: User | None = None) -> tuple[User, ...]:
        """All accounts sorted by username (admin ``actor``, or None for the local operator)."""
        with self._tx(write=False) as conn:
            self._check_actor(conn, actor)
            rows = conn.execute(sa.select(USERS).order_by(USERS.c.username)).all()
        return tuple(_user(r) for r in rows)
