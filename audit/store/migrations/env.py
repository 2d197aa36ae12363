"""Alembic environment for the audit store.

The store builds the Alembic ``Config`` in code and hands over the connection it
already holds (inside a ``BEGIN IMMEDIATE`` transaction on SQLite), so migrations
run in the caller's transaction and concurrent openers of one file migrate one at
a time. There is no ``alembic.ini``: ``python -m alembic`` is not the entry point.
"""

from __future__ import annotations

from alembic import context

from audit.store.schema import METADATA, VERSION_TABLE

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only reachable by running alembic by hand
    raise RuntimeError("run migrations through audit.store.core.AuditStore, which supplies the connection")

context.configure(
    connection=connection,
    target_metadata=METADATA,
    version_table=VERSION_TABLE,
    # SQLite cannot ALTER most things; batch mode rebuilds tables when a later migration needs it.
    render_as_batch=True,
)
with context.begin_transaction():
    context.run_migrations()
