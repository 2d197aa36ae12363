"""Sign-ins that outlive a browser tab: random session tokens, kept hashed, with absolute and idle expiry.

A token is 32 bytes from :mod:`secrets` (256 bits), handed to the browser once (the
dashboard puts it in a cookie) and never stored: the ``sessions`` table keeps its
SHA-256. A fast hash is enough here, unlike for passwords: the token is uniformly
random, so a copy of the table gives nothing to guess from.

A session is honoured while all of these hold:

- it was not ended (sign-out ends it at once);
- it is younger than the absolute lifetime and was used within the idle lifetime;
- its user still exists with the role and ``session_version`` it was issued under: a
  password reset or role change bumps the version (:mod:`audit.store.accounts`), which
  ends every session of that user, and ``end_sessions`` does the same on request.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import sqlalchemy as sa

from audit.errors import PermissionDenied, StoreError
from audit.store.accounts import StoreBase, append_event
from audit.store.credentials import lookup_name
from audit.store.schema import SESSIONS, USERS, User

TOKEN_BYTES = 32
_TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{20,100}")  # what token_urlsafe produces, with room
SIGN_IN_AGAIN = "sign in again"
ENV_HOURS = "AUDIT_SESSION_HOURS"  # absolute lifetime, hours
ENV_IDLE_MINUTES = "AUDIT_SESSION_IDLE_MINUTES"  # idle lifetime, minutes


@dataclass(frozen=True)
class SessionPolicy:
    """How long a sign-in lasts: at most ``absolute`` after it started, ``idle`` after it was last used.

    ``touch_every``: how often a session in use records that it was used (a write per
    page view would make every reader a writer).
    """

    absolute: timedelta = timedelta(hours=12)
    idle: timedelta = timedelta(hours=2)
    touch_every: timedelta = timedelta(minutes=1)

    @classmethod
    def from_env(cls, environ: os._Environ[str] | dict[str, str] = os.environ) -> SessionPolicy:
        """The policy set by ``$AUDIT_SESSION_HOURS`` and ``$AUDIT_SESSION_IDLE_MINUTES`` (defaults otherwise)."""
        default = cls()
        hours = _env_number(environ, ENV_HOURS, default.absolute / timedelta(hours=1))
        minutes = _env_number(environ, ENV_IDLE_MINUTES, default.idle / timedelta(minutes=1))
        return cls(absolute=timedelta(hours=hours), idle=timedelta(minutes=minutes))

    def __post_init__(self) -> None:
        for name in ("absolute", "idle", "touch_every"):
            value = getattr(self, name)
            if not isinstance(value, timedelta) or value <= timedelta(0):
                raise StoreError(f"session {name} must be a positive duration, got {value!r}")
        if self.idle > self.absolute:
            raise StoreError(f"the idle lifetime ({self.idle}) cannot exceed the absolute one ({self.absolute})")


def _env_number(environ, name: str, default: float) -> float:
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not 0 < value < 10_000:  # also refuses nan and inf
        raise StoreError(f"${name} must be a positive number below 10000, got {raw[:40]!r}")
    return value


def token_sha256(token: str) -> str:
    return hashlib.sha256(token.encode("ascii")).hexdigest()


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="microseconds")


class SessionStore(StoreBase):
    """Start, resume and end sign-in sessions (mixed into :class:`audit.store.core.AuditStore`)."""

    def start_session(self, user: User, *, policy: SessionPolicy | None = None, source: str = "password",
                      moment: datetime | None = None) -> str:
        """A new session token for ``user`` (who must be current); only its hash is kept.

        Parameters
        ----------
        user : User
            As returned by ``authenticate`` (or the SSO sign-in).
        policy : SessionPolicy, optional
            Lifetimes; default ``SessionPolicy()`` (12 hours absolute, 2 hours idle).
        source : {"password", "sso"}
        moment : datetime, optional
            Now, for tests; default the current UTC time.

        Returns
        -------
        str
            The token (43 URL-safe characters). Give it to the browser; it cannot be read back.
        """
        policy = policy or SessionPolicy()
        moment = moment or datetime.now(timezone.utc)
        token = secrets.token_urlsafe(TOKEN_BYTES)
        with self._tx(write=True) as conn:
            current = self._current(conn, user)
            # Sessions past their absolute end can never be honoured again: keep the table small.
            conn.execute(sa.delete(SESSIONS).where(SESSIONS.c.expires_at < _iso(moment - policy.absolute)))
            conn.execute(sa.insert(SESSIONS).values(
                token_sha256=token_sha256(token), user_id=current.id, session_version=current.session_version,
                role=current.role.value, source=source, created_at=_iso(moment), last_seen_at=_iso(moment),
                expires_at=_iso(moment + policy.absolute), ended_at=None,
            ))
        return token

    def resume_session(self, token: str, *, policy: SessionPolicy | None = None,
                       moment: datetime | None = None) -> User:
        """The user a token was issued to, if its session is still honoured.

        Raises
        ------
        PermissionDenied
            Saying why: unknown token, ended (signed out), expired (absolute or idle), or ended
            by a password reset, a role change or a removed account.
        """
        policy = policy or SessionPolicy()
        moment = moment or datetime.now(timezone.utc)
        if not isinstance(token, str) or not _TOKEN_SHAPE.fullmatch(token):
            raise PermissionDenied(f"this is not a sign-in session of this dashboard; {SIGN_IN_AGAIN}")
        digest = token_sha256(token)
        with self._tx(write=False) as conn:
            row = conn.execute(sa.select(SESSIONS, USERS.c.username)
                               .join(USERS, USERS.c.id == SESSIONS.c.user_id)
                               .where(SESSIONS.c.token_sha256 == digest)).first()
            if row is None:
                raise PermissionDenied(f"this sign-in session is not known (it may have expired); {SIGN_IN_AGAIN}")
            user = self._check_row(conn, row, policy, moment)
        if moment - _utc(row.last_seen_at) >= policy.touch_every:
            with self._tx(write=True) as conn:
                conn.execute(sa.update(SESSIONS).where(SESSIONS.c.id == row.id,
                                                       SESSIONS.c.last_seen_at < _iso(moment))
                             .values(last_seen_at=_iso(moment)))
        return user

    def _check_row(self, conn: sa.Connection, row: sa.Row, policy: SessionPolicy, moment: datetime) -> User:
        if row.ended_at is not None:
            raise PermissionDenied(f"this sign-in session was ended (signed out) at {row.ended_at}; {SIGN_IN_AGAIN}")
        if moment >= min(_utc(row.expires_at), _utc(row.created_at) + policy.absolute):
            raise PermissionDenied(f"this sign-in session expired: sessions last at most {policy.absolute}; "
                                   f"{SIGN_IN_AGAIN}")
        if moment - _utc(row.last_seen_at) >= policy.idle:
            raise PermissionDenied(f"this sign-in session expired after {policy.idle} without use; {SIGN_IN_AGAIN}")
        stored = conn.execute(sa.select(USERS).where(USERS.c.id == row.user_id)).first()
        if stored is None or stored.session_version != row.session_version or stored.role != row.role:
            raise PermissionDenied(f"the session of {row.username} has ended because their password or role "
                                   f"changed; {SIGN_IN_AGAIN}")
        return self._current(conn, User(id=stored.id, username=stored.username, role=stored.role,
                                        created_at=stored.created_at, session_version=stored.session_version))

    def end_session(self, token: str, *, moment: datetime | None = None) -> bool:
        """End one session (sign-out); True if it was live. Unknown or malformed tokens are ignored."""
        if not isinstance(token, str) or not _TOKEN_SHAPE.fullmatch(token):
            return False
        when = _iso(moment or datetime.now(timezone.utc))
        with self._tx(write=True) as conn:
            return bool(conn.execute(sa.update(SESSIONS).where(SESSIONS.c.token_sha256 == token_sha256(token),
                                                               SESSIONS.c.ended_at.is_(None))
                                     .values(ended_at=when)).rowcount)

    def end_sessions(self, username: str, *, actor: User | None = None) -> int:
        """End every live session of a user (admin ``actor``, or None for the local operator); how many."""
        name = lookup_name(username)
        with self._tx(write=True) as conn:
            actor_id = self._check_actor(conn, actor)
            user_id = conn.execute(sa.select(USERS.c.id).where(USERS.c.username == name)).scalar()
            if user_id is None:
                raise StoreError(f"no user named {username!r}")
            ended = conn.execute(sa.update(SESSIONS).where(SESSIONS.c.user_id == user_id,
                                                           SESSIONS.c.ended_at.is_(None))
                                 .values(ended_at=_iso(datetime.now(timezone.utc)))).rowcount
            append_event(conn, user_id=actor_id, action="user.sessions_ended", username=name, sessions=ended)
        return ended
