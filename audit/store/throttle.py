"""Sign-in rate limiting, counted from a record of attempts kept in the database.

Every sign-in attempt that reaches the password check is a row of ``login_attempts``
(time, username as typed after normalisation, the client key the caller passed,
success). Before checking a password the store counts, within the last
``window_s`` seconds:

- failures for that username since its last success: at ``per_user`` the account
  is refused until the oldest of them leaves the window (unknown usernames are
  counted the same way, so the answer says nothing about which accounts exist);
- failures from that client, whatever the username: at ``per_client`` that client
  is refused the same way, which stops guessing one password across many accounts.

A refused attempt costs no hashing and is not recorded, so a locked-out guesser
cannot grow the table; rows older than ``keep_days`` are pruned as new ones come.
Because the record is in the database, the limits hold across dashboard processes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import sqlalchemy as sa

from audit.errors import PermissionDenied
from audit.store.schema import LOGIN_ATTEMPTS


@dataclass(frozen=True)
class SignInLimits:
    """How many failed sign-ins are allowed in a sliding window, and how long the record is kept."""

    per_user: int = 5
    per_client: int = 20
    window_s: float = 900.0
    keep_days: float = 30.0


class TooManyAttempts(PermissionDenied):
    """Sign-in refused without checking the password, because of earlier failures."""


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="microseconds")


def _minutes(oldest: str, window_s: float, moment: datetime) -> int:
    free_at = datetime.fromisoformat(oldest) + timedelta(seconds=window_s)
    return max(1, int((free_at - moment).total_seconds() // 60) + 1)


def check(conn: sa.Connection, limits: SignInLimits, *, username: str, client: str | None,
          moment: datetime) -> None:
    """Raise TooManyAttempts if this username or client used up its failures."""
    since = _iso(moment - timedelta(seconds=limits.window_s))
    last_ok = conn.execute(sa.select(sa.func.max(LOGIN_ATTEMPTS.c.created_at)).where(
        LOGIN_ATTEMPTS.c.username == username, LOGIN_ATTEMPTS.c.succeeded.is_(True))).scalar()
    failed = LOGIN_ATTEMPTS.c.succeeded.is_(False)
    scopes = [("this account", LOGIN_ATTEMPTS.c.username == username, max(since, last_ok or ""), limits.per_user)]
    if client is not None:
        scopes.append(("this client", LOGIN_ATTEMPTS.c.client == client, since, limits.per_client))
    for what, match, start, allowed in scopes:
        count, oldest = conn.execute(sa.select(sa.func.count(), sa.func.min(LOGIN_ATTEMPTS.c.created_at))
                                     .where(match, failed, LOGIN_ATTEMPTS.c.created_at > start)).one()
        if count >= allowed:
            raise TooManyAttempts(f"too many failed sign-ins for {what} ({count} in "
                                  f"{limits.window_s / 60:g} minutes); try again in "
                                  f"{_minutes(oldest, limits.window_s, moment)} minute(s)")


def record(conn: sa.Connection, limits: SignInLimits, *, username: str, client: str | None,
           succeeded: bool, moment: datetime) -> None:
    """Add one attempt to the record (and prune the record's old end on failures)."""
    conn.execute(sa.insert(LOGIN_ATTEMPTS).values(created_at=_iso(moment), username=username[:150],
                                                  client=None if client is None else client[:128],
                                                  succeeded=succeeded))
    if not succeeded:
        cutoff = _iso(moment - timedelta(days=limits.keep_days))
        conn.execute(sa.delete(LOGIN_ATTEMPTS).where(LOGIN_ATTEMPTS.c.created_at < cutoff))


def utcnow() -> datetime:
    return datetime.now(timezone.utc)
