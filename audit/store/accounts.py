"""The audit store's foundation: connections, transactions, the trail, and accounts.

Split from :mod:`audit.store.core` to keep files short; :class:`audit.store.core.AuditStore`
inherits from :class:`StoreBase` and is the only public face of both.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import exc

from audit.store import throttle, trail
from audit.store.credentials import (
    MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH, check_password, check_username, lookalike_of, lookup_name,
)
from audit.store.schema import USERS, WRITE_OPTION, Role, User, open_database
from audit.store.throttle import SignInLimits, TooManyAttempts
from audit.store.verify import TrailReport, verify_store
from audit.errors import PermissionDenied, StoreError

__all__ = ["MIN_PASSWORD_LENGTH", "SignInLimits", "StoreBase", "TooManyAttempts", "append_event",
           "check_enum", "check_text", "now"]
_BAD_LOGIN = "unknown username or wrong password"
_HASH_WAIT_S = 30.0


def now() -> str:
    """The current UTC time as ISO-8601 text with microseconds."""
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


def append_event(conn: sa.Connection, *, user_id: int | None, action: str,
                 audit_id: int | None = None, **details: Any) -> None:
    """Add one entry to the hash-chained audit trail inside the caller's transaction."""
    trail.append(conn, created_at=now(), user_id=user_id, action=action, audit_id=audit_id, details=details)


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
    return User(id=row.id, username=row.username, role=Role(row.role), created_at=row.created_at,
                session_version=row.session_version)


class StoreBase:
    """Engine, transactions, the current-user check, the trail's open check and account management."""

    def __init__(self, url_or_path: str | os.PathLike[str] | None = None, *, busy_timeout_s: float = 30.0,
                 password_hasher: PasswordHasher | None = None, sign_in_limits: SignInLimits | None = None,
                 max_concurrent_hashes: int = 4, check_trail: bool = True) -> None:
        self._engine = open_database(url_or_path, busy_timeout_s=busy_timeout_s)
        self._writer = self._engine.execution_options(**{WRITE_OPTION: True})
        self._hasher = password_hasher or PasswordHasher()
        self._dummy: str | None = None
        self._limits = sign_in_limits or SignInLimits()
        # Each argon2 hash holds memory_cost KiB (64 MiB by default) while it runs; without a
        # bound, parallel sign-ins multiply that without limit.
        self._hash_slots = threading.BoundedSemaphore(max_concurrent_hashes)
        if check_trail:
            try:
                with self._tx(write=False) as conn:
                    problems = trail.open_problems(conn)
            except StoreError as err:
                self._engine.dispose()
                raise StoreError(f"cannot open the audit database {self.location}: {err}; restore it from a "
                                 "backup or choose another path") from err
            except BaseException:
                self._engine.dispose()
                raise
            if problems:
                self._engine.dispose()
                raise StoreError(f"the audit trail of {self.location} fails its integrity check: "
                                 f"{trail.summarise(problems)}; run `python -m audit users verify` for the "
                                 "full list")

    @property
    def location(self) -> str:
        """The database, as shown to people: a file path or the URL without its password."""
        url = self._engine.url
        return url.database if url.get_backend_name() == "sqlite" and url.database else \
            url.render_as_string(hide_password=True)

    def close(self) -> None:
        """Release the database connections."""
        self._engine.dispose()

    def __enter__(self) -> StoreBase:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    @contextmanager
    def _tx(self, *, write: bool, snapshot: bool = False) -> Iterator[sa.Connection]:
        """One transaction; commits on success, rolls everything back on any exception.

        ``snapshot`` makes every statement of a read see the same state on PostgreSQL
        (REPEATABLE READ), as SQLite's transactions always do.
        """
        reader = self._engine
        if snapshot and self._engine.dialect.name == "postgresql":
            reader = self._engine.execution_options(isolation_level="REPEATABLE READ")
        try:
            with (self._writer.begin() if write else reader.connect()) as conn:
                yield conn
        except exc.IntegrityError as err:
            raise StoreError(f"the database refused the change: {str(err.orig).splitlines()[0]}") from err
        except exc.DBAPIError as err:
            # OperationalError, InternalError, and DatabaseError for a damaged file ("malformed").
            raise StoreError(f"the audit database could not be used: {str(err.orig).splitlines()[0]}") from err

    def _current(self, conn: sa.Connection, user: User | None) -> User:
        """The caller as stored now, or PermissionDenied if absent, unknown or from an ended session."""
        if user is None:
            raise PermissionDenied("sign in first: reading or changing audits needs a user, got none")
        row = conn.execute(sa.select(USERS).where(USERS.c.id == user.id)).first()
        if row is None or row.username != user.username:
            raise PermissionDenied(f"user {user.username!r} does not exist in this audit database")
        if row.role != getattr(user.role, "value", user.role) or row.session_version != user.session_version:
            raise PermissionDenied(f"the session of {user.username} has ended because their password or role "
                                   "changed; sign in again")
        return _user(row)

    def check_session(self, user: User | None) -> User:
        """``user`` as stored now if its session is still valid; PermissionDenied otherwise.

        A password reset or a role change ends every session of that user: the
        pages call this on each run and sign the session out when it raises. A
        sign-in that outlives the browser session (a stored token) should record the
        user's id and ``session_version`` and be honoured only through this check.
        """
        with self._tx(write=False) as conn:
            return self._current(conn, user)

    def _check_actor(self, conn: sa.Connection, actor: User | None) -> int | None:
        if actor is None:
            return None
        if self._current(conn, actor).role is not Role.ADMIN:
            raise PermissionDenied(f"only an admin may manage accounts; {actor.username} is not one")
        return actor.id

    @contextmanager
    def _hash_slot(self) -> Iterator[None]:
        if not self._hash_slots.acquire(timeout=_HASH_WAIT_S):
            raise StoreError("the server is busy checking other passwords; try again in a moment")
        try:
            yield
        finally:
            self._hash_slots.release()

    def _hash(self, password: Any) -> str:
        check_password(password)
        with self._hash_slot():
            return self._hasher.hash(password)

    def _verify(self, stored: str, password: Any) -> bool:
        try:
            return self._hasher.verify(stored, password)
        except (VerificationError, InvalidHashError, TypeError):
            return False

    def _is_current(self, stored: str) -> bool:
        try:
            return not self._hasher.check_needs_rehash(stored)
        except (InvalidHashError, ValueError):
            return False

    def create_user(self, username: str, *, password: str, role: Role | str,
                    actor: User | None = None) -> User:
        """Create a local account with an argon2-hashed password.

        Parameters
        ----------
        username : str
            NFKC-normalised and trimmed; 1 to 150 characters of one script, no
            invisible characters, not a lookalike of an existing name.
        password : str
            8 to 1024 characters, not only whitespace, not a common password; only
            its argon2 hash is stored.
        role : Role or {"viewer", "reviewer", "admin"}
        actor : User, optional
            The admin doing it; None for the local operator (users CLI).

        Returns
        -------
        User

        Raises
        ------
        StoreError
            If the username is taken (or looks like a taken one) or an argument is invalid.
        PermissionDenied
            If ``actor`` is not an admin.
        """
        username = check_username(username)
        role = check_enum(Role, role, "role")
        password_hash = self._hash(password)
        with self._tx(write=True) as conn:
            actor_id = self._check_actor(conn, actor)
            taken = lookalike_of(username, conn.execute(sa.select(USERS.c.username)).scalars())
            if taken == username:
                raise StoreError(f"a user named {username!r} already exists")
            if taken is not None:
                raise StoreError(f"username {username!r} looks like the existing user {taken!r}; choose another")
            created = now()
            user_id = conn.execute(sa.insert(USERS).values(
                username=username, password_hash=password_hash, role=role.value, created_at=created,
                session_version=0,
            )).inserted_primary_key[0]
            append_event(conn, user_id=actor_id, action="user.created", username=username, role=role.value)
        return User(id=user_id, username=username, role=role, created_at=created, session_version=0)

    def _dummy_hash(self) -> str:
        if self._dummy is None:
            # Verified against for unknown usernames, so they cost as much time as a wrong password.
            self._dummy = self._hasher.hash("not a real password, only for timing")
        return self._dummy

    def authenticate(self, username: str, *, password: str, client: str | None = None) -> User:
        """Return the account if the password matches.

        Parameters
        ----------
        username, password : str
        client : str, optional
            Who is asking (the dashboard passes the browser's address), for the
            per-client limit; see :mod:`audit.store.throttle`.

        Returns
        -------
        User
            Pass it as ``user=`` to every audit call.

        Raises
        ------
        TooManyAttempts
            (a PermissionDenied) without checking the password, after too many failures
            for this username or from this client.
        PermissionDenied
            With the same message, after the same hashing work, whether the username
            is unknown, the password is wrong, or the account's hash is outdated.
        """
        if client is not None and not isinstance(client, str):
            raise StoreError(f"client must be text identifying who signs in, got {type(client).__name__}")
        name = lookup_name(username) or ""
        moment = throttle.utcnow()
        usable = isinstance(password, str) and len(password) <= MAX_PASSWORD_LENGTH
        new_hash = None
        with self._tx(write=False) as conn:  # refused at once, without queueing for a hashing slot
            throttle.check(conn, self._limits, username=name, client=client, moment=moment)
        with self._hash_slot():
            dummy = self._dummy_hash()  # made before the lookup, so the first unknown name is not the slow one
            with self._tx(write=False) as conn:  # again: attempts that queued meanwhile count now
                throttle.check(conn, self._limits, username=name, client=client, moment=moment)
                row = conn.execute(sa.select(USERS).where(USERS.c.username == name)).first() if name else None
            ok = usable and self._verify(row.password_hash if row else dummy, password)
            current = row is not None and self._is_current(row.password_hash)
            if row is not None and not current:
                if ok:  # argon2 parameters were raised since this hash was made; upgrade it now
                    new_hash = self._hasher.hash(password)
                elif usable:  # a cheaper old hash would answer faster than everyone else's
                    self._verify(dummy, password)
            ok = ok and row is not None  # row is None: only if someone's password is the dummy's
        with self._tx(write=True) as conn:
            throttle.record(conn, self._limits, username=name, client=client, succeeded=ok, moment=moment)
            if new_hash is not None and ok:
                conn.execute(sa.update(USERS).where(USERS.c.id == row.id).values(password_hash=new_hash))
        if not ok:
            raise PermissionDenied(_BAD_LOGIN)
        return _user(row)

    def reset_password(self, username: str, *, new_password: str, actor: User | None = None) -> None:
        """Replace a user's password and end their existing sessions.

        Parameters
        ----------
        username : str
        new_password : str
            As for :meth:`create_user`.
        actor : User, optional
            The admin doing it; None for the local operator (users CLI).

        Raises
        ------
        StoreError
            If there is no such user or the password is not allowed.
        PermissionDenied
            If ``actor`` is not an admin.
        """
        password_hash = self._hash(new_password)
        self._change_user(username, actor, "user.password_reset", password_hash=password_hash)

    def set_role(self, username: str, *, role: Role | str, actor: User | None = None) -> User:
        """Give a user another role, ending their existing sessions; raises as :meth:`reset_password`."""
        role = check_enum(Role, role, "role")
        return self._change_user(username, actor, "user.role_changed", role=role.value)

    def _change_user(self, username: str, actor: User | None, action: str, **values: Any) -> User:
        name = lookup_name(username)
        with self._tx(write=True) as conn:
            actor_id = self._check_actor(conn, actor)
            done = conn.execute(sa.update(USERS).where(USERS.c.username == name).values(
                session_version=USERS.c.session_version + 1, **values)).rowcount
            if not done:
                raise StoreError(f"no user named {username!r}")
            append_event(conn, user_id=actor_id, action=action, username=name,
                         **({"role": values["role"]} if "role" in values else {}))
            return _user(conn.execute(sa.select(USERS).where(USERS.c.username == name)).one())

    def verify_trail(self, *, actor: User | None = None) -> TrailReport:
        """Check the trail's chain and guards and every audit, run, decision, comment and role
        against it (see :mod:`audit.store.verify`); admin ``actor``, or None for the local operator."""
        with self._tx(write=False, snapshot=True) as conn:
            self._check_actor(conn, actor)
            return verify_store(conn)

    def list_users(self, *, actor: User | None = None) -> tuple[User, ...]:
        """All accounts sorted by username (admin ``actor``, or None for the local operator)."""
        with self._tx(write=False) as conn:
            self._check_actor(conn, actor)
            rows = conn.execute(sa.select(USERS).order_by(USERS.c.username)).all()
        return tuple(_user(r) for r in rows)
