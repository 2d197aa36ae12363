"""Hash-chained trail, append-only triggers on PostgreSQL, session versions, sign-in attempts.

Revision ID: 0002
Revises: 0001

- ``events.hash``: the chain (see ``audit/store/trail.py``), computed here for the
  events already stored. The hash function is copied, not imported, so this
  revision stays what it was when later code changes.
- ``users.session_version``: bumped on a password reset or role change, which ends
  the sessions that hold the old value.
- ``login_attempts``: the record sign-in rate limiting counts.
- PostgreSQL gets the append-only triggers SQLite has had since 0001.
"""

from __future__ import annotations

import hashlib
import json

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_GENESIS = "0" * 64
_SQLITE_GUARD = ("CREATE TRIGGER events_no_{verb_l} BEFORE {verb} ON events "
                 "BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END")


def _hash(prev: str, row: sa.Row) -> str:
    content = json.dumps([row.id, row.created_at, row.user_id, row.action, row.audit_id, row.details_json],
                         ensure_ascii=True, separators=(",", ":"))
    return hashlib.sha256((prev + content).encode("ascii")).hexdigest()


def _backfill_chain(bind: sa.Connection) -> None:
    prev = _GENESIS
    rows = bind.execute(sa.text("SELECT id, created_at, user_id, action, audit_id, details_json "
                                "FROM events ORDER BY id")).all()
    for row in rows:
        prev = _hash(prev, row)
        bind.execute(sa.text("UPDATE events SET hash = :h WHERE id = :i"), {"h": prev, "i": row.id})


def upgrade() -> None:
    bind = op.get_bind()
    sqlite = bind.dialect.name == "sqlite"
    if sqlite:  # the 0001 triggers would refuse the backfill
        op.execute("DROP TRIGGER IF EXISTS events_no_update")
        op.execute("DROP TRIGGER IF EXISTS events_no_delete")
    op.add_column("users", sa.Column("session_version", sa.Integer, nullable=False, server_default="0"))
    op.add_column("events", sa.Column("hash", sa.String(64), nullable=True))
    _backfill_chain(bind)
    op.create_table(
        "login_attempts",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("username", sa.String(150), nullable=False),
        sa.Column("client", sa.String(128), nullable=True),
        sa.Column("succeeded", sa.Boolean, nullable=False),
    )
    op.create_index("ix_login_attempts_username", "login_attempts", ["username"])
    op.create_index("ix_login_attempts_client", "login_attempts", ["client"])
    op.create_index("ix_login_attempts_created_at", "login_attempts", ["created_at"])
    if sqlite:
        for verb in ("UPDATE", "DELETE"):
            op.execute(_SQLITE_GUARD.format(verb=verb, verb_l=verb.lower()))
    elif bind.dialect.name == "postgresql":
        op.execute("CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
                   "BEGIN RAISE EXCEPTION 'the audit trail is append-only'; END $$")
        for verb, each in (("UPDATE", "ROW"), ("DELETE", "ROW"), ("TRUNCATE", "STATEMENT")):
            op.execute(f"CREATE TRIGGER events_no_{verb.lower()} BEFORE {verb} ON events "
                       f"FOR EACH {each} EXECUTE FUNCTION audit_events_append_only()")


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        for verb in ("update", "delete", "truncate"):
            op.execute(f"DROP TRIGGER IF EXISTS events_no_{verb} ON events")
        op.execute("DROP FUNCTION IF EXISTS audit_events_append_only()")
    op.drop_table("login_attempts")
    with op.batch_alter_table("events") as batch:
        batch.drop_column("hash")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("session_version")
