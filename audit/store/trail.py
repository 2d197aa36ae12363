"""The audit trail as a hash chain, and the database guards that keep it append-only.

Each event row stores ``hash = sha256(previous hash + canonical content)``, the
content being the row's id, time, actor id, action, audit id and details JSON; the
first event chains from :data:`GENESIS`. Editing, deleting or reordering a stored
event therefore breaks the chain at that row, whatever the backend. On top of that
the database refuses UPDATE, DELETE (and on PostgreSQL TRUNCATE) on ``events`` with
triggers, and the store checks at every open that the triggers are still there and
the chain is whole (:func:`open_problems`).

The hash is not keyed: someone who can write to the database and recomputes every
later hash can forge a consistent chain. :mod:`audit.store.verify` therefore also
prints the head hash, which an operator records elsewhere to compare later.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import sqlalchemy as sa

from audit.store.schema import EVENTS

GENESIS = "0" * 64
TRAIL_LOCK_KEY = 0x41554454  # "AUDT": PostgreSQL advisory lock that orders appends to the chain
APPEND_ONLY = "the audit trail is append-only"
SQLITE_TRIGGERS = ("events_no_update", "events_no_delete")
PG_TRIGGERS = ("events_no_update", "events_no_delete", "events_no_truncate")
PG_FUNCTION = "audit_events_append_only"
MAX_REPORTED = 20  # problems listed before "and N more"


def event_hash(prev: str, *, id: int, created_at: str, user_id: int | None, action: str,  # noqa: A002
               audit_id: int | None, details_json: str) -> str:
    """The chain hash of one event; the format is part of the stored data, so never change it."""
    content = json.dumps([id, created_at, user_id, action, audit_id, details_json],
                         ensure_ascii=True, separators=(",", ":"))
    return hashlib.sha256((prev + content).encode("ascii")).hexdigest()


def append(conn: sa.Connection, *, created_at: str, user_id: int | None, action: str,
           audit_id: int | None, details: dict[str, Any]) -> int:
    """Add one event to the chain inside the caller's write transaction; returns its id."""
    if conn.dialect.name == "postgresql":
        # Appends must see the previous head; SQLite writers are already serialised by BEGIN IMMEDIATE.
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": TRAIL_LOCK_KEY})
    head = conn.execute(sa.select(EVENTS.c.id, EVENTS.c.hash).order_by(EVENTS.c.id.desc()).limit(1)).first()
    event_id = 1 if head is None else head.id + 1
    details_json = json.dumps(details, sort_keys=True)
    digest = event_hash(GENESIS if head is None else (head.hash or ""), id=event_id, created_at=created_at,
                        user_id=user_id, action=action, audit_id=audit_id, details_json=details_json)
    conn.execute(sa.insert(EVENTS).values(id=event_id, created_at=created_at, user_id=user_id, action=action,
                                          audit_id=audit_id, details_json=details_json, hash=digest))
    return event_id


def chain_problems(conn: sa.Connection) -> tuple[list[str], int, str]:
    """Every break in the chain, the number of events and the head hash."""
    problems: list[str] = []
    prev, count = GENESIS, 0
    query = sa.select(EVENTS.c.id, EVENTS.c.created_at, EVENTS.c.user_id, EVENTS.c.action,
                      EVENTS.c.audit_id, EVENTS.c.details_json, EVENTS.c.hash).order_by(EVENTS.c.id)
    for row in conn.execution_options(yield_per=2000).execute(query):
        count += 1
        expected = event_hash(prev, id=row.id, created_at=row.created_at, user_id=row.user_id,
                              action=row.action, audit_id=row.audit_id, details_json=row.details_json)
        if row.hash != expected:
            problems.append(f"event {row.id} ({row.action}) does not match the chain: it was edited, or an "
                            "event before it was deleted, inserted or reordered")
        prev = row.hash or expected  # one edit is reported once, not at every later row
    return problems, count, prev


def guard_problems(conn: sa.Connection) -> list[str]:
    """The append-only triggers that are missing or disabled."""
    if conn.dialect.name == "sqlite":
        found = set(conn.execute(sa.text(
            "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'events'")).scalars())
        expected = SQLITE_TRIGGERS
    elif conn.dialect.name == "postgresql":
        found = set(conn.execute(sa.text(
            "SELECT tgname FROM pg_trigger WHERE tgrelid = 'events'::regclass "
            "AND NOT tgisinternal AND tgenabled <> 'D'")).scalars())
        expected = PG_TRIGGERS
    else:  # other servers: the chain alone makes the trail tamper-evident
        return []
    missing = [name for name in expected if name not in found]
    return [f"the append-only trigger(s) {', '.join(missing)} on events were dropped or disabled"] if missing else []


def open_problems(conn: sa.Connection) -> list[str]:
    """What the store checks at every open: the guards, then the chain."""
    return guard_problems(conn) + chain_problems(conn)[0]


def summarise(problems: list[str]) -> str:
    """The problems as one line, the first few in full."""
    shown = "; ".join(problems[:3])
    return shown + (f"; and {len(problems) - 3} more" if len(problems) > 3 else "")
