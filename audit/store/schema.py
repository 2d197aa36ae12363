"""What the audit store keeps, and how a database gets opened and brought up to date.

Holds the SQLAlchemy Core tables the store's records (:mod:`audit.store.records`) are read
from, and :func:`open_database`, which turns a path or URL into a
ready engine: SQLite pragmas and transaction hooks, a check that the file really
is an audit database, and Alembic migrations from ``audit/migrations``.

Migrations are frozen copies of the schema (``versions/0001_initial.py`` does not
import these tables), so editing a table here needs a new revision; a test
compares the migrated database with :data:`METADATA` to catch a forgotten one.
"""

from __future__ import annotations

import enum
import os
import threading
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import event, exc
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.pool import StaticPool

from audit.errors import StoreError

DEFAULT_PATH = "audit.db"
ENV_URL = "AUDIT_DB_URL"
VERSION_TABLE = "audit_store_version"
# Execution option that marks an engine whose transactions write (see _add_sqlite_hooks).
WRITE_OPTION = "audit_store_write"
_MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# Alembic installs module-level proxies (alembic.context/op) while it runs, so two
# threads migrating two different databases at once would see each other's context.
_MIGRATION_LOCK = threading.Lock()


from audit.store.records import (  # noqa: F401  (re-exported: the store's public record types)
    Role,
    Status,
    JobStatus,
    Outcome,
    User,
    AuditSummary,
    AuditRecord,
    Decision,
    Comment,
    Event,
)


METADATA = sa.MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)
_TS = sa.String(32)  # UTC ISO-8601 text: sorts correctly and reads the same in every backend


def _check_in(column: str, enum_type: type[enum.StrEnum]) -> sa.CheckConstraint:
    values = ", ".join(f"'{v.value}'" for v in enum_type)
    return sa.CheckConstraint(f"{column} IN ({values})", name=column)


USERS = sa.Table(
    "users", METADATA,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("username", sa.String(150), nullable=False, unique=True),
    sa.Column("password_hash", sa.String(255), nullable=False),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("created_at", _TS, nullable=False),
    sa.Column("session_version", sa.Integer, nullable=False, server_default="0"),
    _check_in("role", Role),
)
AUDITS = sa.Table(
    "audits", METADATA,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("dataset_name", sa.String(255), nullable=False, index=True),
    sa.Column("dataset_sha256", sa.String(64), nullable=False, index=True),
    sa.Column("author_id", sa.Integer, sa.ForeignKey("users.id"), nullable=False),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("latest_run", sa.Integer, nullable=False),
    sa.Column("created_at", _TS, nullable=False),
    sa.Column("updated_at", _TS, nullable=False),
    _check_in("status", Status),
)
RUNS = sa.Table(
    "audit_runs", METADATA,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("audit_id", sa.Integer, sa.ForeignKey("audits.id"), nullable=False),
    sa.Column("run", sa.Integer, nullable=False),
    # Text, not JSON: the report must come back byte-for-byte, not re-serialised.
    sa.Column("report_json", sa.Text, nullable=False),
    sa.Column("model_card_json", sa.Text, nullable=True),
    sa.Column("dataset_sha256", sa.String(64), nullable=False),
    sa.Column("created_by", sa.Integer, sa.ForeignKey("users.id"), nullable=False),
    sa.Column("created_at", _TS, nullable=False),
    sa.UniqueConstraint("audit_id", "run", name="uq_audit_runs_audit_id_run"),
)
DECISIONS = sa.Table(
    "decisions", METADATA,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("audit_id", sa.Integer, sa.ForeignKey("audits.id"), nullable=False, index=True),
    sa.Column("run", sa.Integer, nullable=False),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), nullable=False),
    sa.Column("outcome", sa.String(32), nullable=False),
    sa.Column("note", sa.Text, nullable=False),
    sa.Column("created_at", _TS, nullable=False),
    _check_in("outcome", Outcome),
)
COMMENTS = sa.Table(
    "comments", METADATA,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("audit_id", sa.Integer, sa.ForeignKey("audits.id"), nullable=False, index=True),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), nullable=False),
    sa.Column("section", sa.String(64), nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("parent_id", sa.Integer, sa.ForeignKey("comments.id"), nullable=True),
    sa.Column("resolved", sa.Boolean, nullable=False),
    sa.Column("resolved_by", sa.Integer, sa.ForeignKey("users.id"), nullable=True),
    sa.Column("resolved_at", _TS, nullable=True),
    sa.Column("created_at", _TS, nullable=False),
)
EVENTS = sa.Table(
    "events", METADATA,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("created_at", _TS, nullable=False),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), nullable=True),
    sa.Column("action", sa.String(64), nullable=False),
    sa.Column("audit_id", sa.Integer, sa.ForeignKey("audits.id"), nullable=True, index=True),
    sa.Column("details_json", sa.Text, nullable=False),
    # sha256 of the previous event's hash and this event's content (audit/store/trail.py).
    sa.Column("hash", sa.String(64), nullable=True),
)
LOGIN_ATTEMPTS = sa.Table(
    "login_attempts", METADATA,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("created_at", _TS, nullable=False, index=True),
    sa.Column("username", sa.String(150), nullable=False, index=True),
    sa.Column("client", sa.String(128), nullable=True, index=True),
    sa.Column("succeeded", sa.Boolean, nullable=False),
)
SESSIONS = sa.Table(  # sign-in sessions that outlive a browser tab (audit/store/sessions.py)
    "sessions", METADATA,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("token_sha256", sa.String(64), nullable=False, unique=True),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), nullable=False, index=True),
    # The user's session_version and role when it started: a later change ends it.
    sa.Column("session_version", sa.Integer, nullable=False),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("source", sa.String(16), nullable=False),
    sa.Column("created_at", _TS, nullable=False),
    sa.Column("last_seen_at", _TS, nullable=False),
    sa.Column("expires_at", _TS, nullable=False, index=True),
    sa.Column("ended_at", _TS, nullable=True),
)
JOBS = sa.Table(  # background audits (audit/store/jobs.py); the report is written only when one is done
    "jobs", METADATA,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), nullable=False, index=True),
    sa.Column("label", sa.String(255), nullable=False),
    sa.Column("status", sa.String(16), nullable=False, index=True),
    sa.Column("spec_json", sa.Text, nullable=False),
    sa.Column("progress_json", sa.Text, nullable=False),
    sa.Column("error", sa.String(500), nullable=True),
    sa.Column("result_json", sa.Text, nullable=True),
    sa.Column("cancel_requested", sa.Boolean, nullable=False),
    sa.Column("pid", sa.Integer, nullable=True),
    sa.Column("host", sa.String(255), nullable=True),
    sa.Column("created_at", _TS, nullable=False),
    sa.Column("started_at", _TS, nullable=True),
    sa.Column("heartbeat_at", _TS, nullable=True),
    sa.Column("finished_at", _TS, nullable=True),
    _check_in("status", JobStatus),
)
IDENTITIES = sa.Table(  # single sign-on identities and the account each signs in as (audit/store/sso.py)
    "identities", METADATA,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("issuer", sa.String(255), nullable=False),
    sa.Column("subject", sa.String(255), nullable=False),
    sa.Column("email", sa.String(255), nullable=True),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), nullable=False, index=True),
    sa.Column("created_at", _TS, nullable=False),
    sa.UniqueConstraint("issuer", "subject", name="uq_identities_issuer_subject"),
)


def resolve_url(url_or_path: str | os.PathLike[str] | None) -> URL:
    """Turn the argument, else ``$AUDIT_DB_URL``, else ``./audit.db`` into a SQLAlchemy URL.

    A string containing ``://`` is a URL; anything else is a SQLite file path.
    """
    raw = os.fspath(url_or_path) if url_or_path is not None else (os.environ.get(ENV_URL) or DEFAULT_PATH)
    if not raw.strip():
        raise StoreError("the database path or URL is empty; give a file path or a SQLAlchemy URL")
    if "://" in raw:
        try:
            return make_url(raw)
        except (exc.ArgumentError, ValueError) as err:
            raise StoreError(f"the database URL {raw!r} is not a valid SQLAlchemy URL ({err})") from err
    if raw == ":memory:":
        return make_url("sqlite://")
    return URL.create("sqlite+pysqlite", database=str(Path(raw).expanduser().resolve()))


def _is_sqlite_file(url: URL) -> bool:
    return url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:")


def _add_sqlite_hooks(engine: Engine, *, busy_timeout_s: float) -> None:
    # The documented SQLAlchemy recipe for SQLite transactions: stop the sqlite3
    # driver from emitting BEGIN itself (it skips it before SELECTs and DDL), and emit
    # it from the "begin" event instead. Writers use BEGIN IMMEDIATE so they take the
    # write lock up front and queue on the busy timeout; a deferred transaction that
    # upgrades from read to write gets SQLITE_BUSY at once, with no waiting.
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout_s * 1000)}")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: sa.Connection) -> None:
        write = connection.get_execution_options().get(WRITE_OPTION, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def _alembic_config(connection: sa.Connection) -> Config:
    config = Config()
    # configparser interpolation would eat a '%' in the install path.
    config.set_main_option("script_location", str(_MIGRATIONS).replace("%", "%%"))
    config.attributes["connection"] = connection
    return config


def _migrate(connection: sa.Connection, where: str) -> None:
    tables = set(sa.inspect(connection).get_table_names())
    if tables and VERSION_TABLE not in tables:
        listed = ", ".join(sorted(tables)[:5]) + (", ..." if len(tables) > 5 else "")
        raise StoreError(
            f"{where} is not an audit database: it already holds other tables ({listed}) and no "
            f"{VERSION_TABLE} table; point --db / {ENV_URL} at a new file or an existing audit database"
        )
    current = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE}).get_current_revision()
    script = ScriptDirectory.from_config(_alembic_config(connection))
    head = script.get_current_head()
    if current != head:
        try:
            known = current is None or script.get_revision(current) is not None
        except CommandError:
            known = False
        if not known:
            raise StoreError(
                f"{where} has audit schema version {current!r}, which this version of the audit "
                f"package does not know (latest is {head!r}); upgrade the package to open it"
            )
        with _MIGRATION_LOCK:
            command.upgrade(_alembic_config(connection), "head")
    missing = set(METADATA.tables) - set(sa.inspect(connection).get_table_names())
    if missing:
        raise StoreError(
            f"{where} is an incomplete audit database: tables {', '.join(sorted(missing))} are missing"
        )


def open_database(url_or_path: str | os.PathLike[str] | None, *, busy_timeout_s: float) -> Engine:
    """Create an engine for the audit database, creating or migrating its schema as needed.

    Parameters
    ----------
    url_or_path : str or path-like or None
        SQLite file path or SQLAlchemy URL; None means ``$AUDIT_DB_URL`` or ``./audit.db``.
    busy_timeout_s : float
        How long a SQLite writer waits for the write lock before giving up.

    Returns
    -------
    sqlalchemy.engine.Engine
        Ready engine. Use ``engine.execution_options(audit_store_write=True)`` for writes.

    Raises
    ------
    StoreError
        If the location cannot be opened, is not a SQLite database, is corrupted,
        belongs to something else, or has a schema newer than this package.
    """
    url = resolve_url(url_or_path)
    where = url.render_as_string(hide_password=True)
    if _is_sqlite_file(url):
        where = url.database
        if not Path(url.database).parent.is_dir():
            raise StoreError(f"cannot create the audit database {where}: the folder does not exist")
        engine = sa.create_engine(url, connect_args={"timeout": busy_timeout_s})
    elif url.get_backend_name() == "sqlite":
        # One shared connection, or every connection would see its own empty memory database.
        engine = sa.create_engine(url, poolclass=StaticPool, connect_args={"check_same_thread": False})
    else:
        try:
            engine = sa.create_engine(url)
        except (exc.ArgumentError, exc.NoSuchModuleError, ImportError) as err:
            raise StoreError(f"cannot use the database URL {where}: {err}") from err
    if url.get_backend_name() == "sqlite":
        _add_sqlite_hooks(engine, busy_timeout_s=busy_timeout_s)
    try:
        # A write transaction, so that processes opening a new file at once migrate one after another.
        with engine.execution_options(**{WRITE_OPTION: True}).begin() as connection:
            _migrate(connection, where)
        if _is_sqlite_file(url):
            # WAL lets readers work while one writer commits; the mode is stored in the
            # file, so setting it once here covers every later connection and process.
            # Done only after the check above so a foreign file is never modified.
            raw = engine.raw_connection()
            try:
                raw.driver_connection.execute("PRAGMA journal_mode = WAL")
                # A damaged page would otherwise surface later as a raw error mid-page; quick_check
                # reads every page once (O(size), a fraction of a second for a typical store).
                verdict = raw.driver_connection.execute("PRAGMA quick_check").fetchone()[0]
            finally:
                raw.close()
            if verdict != "ok":
                raise StoreError(f"cannot open the audit database {where}: the file is corrupted (SQLite's "
                                 f"integrity check: {str(verdict).splitlines()[0]}); restore it from a backup "
                                 "or choose another path")
    except exc.SQLAlchemyError as err:
        engine.dispose()
        reason = _reason(err)
        if "not a database" in reason or "malformed" in reason:
            raise StoreError(
                f"cannot open the audit database {where}: the file is not a SQLite database or is "
                f"corrupted ({reason}); restore it from a backup or choose another path"
            ) from err
        raise StoreError(f"cannot open the audit database {where}: {reason}") from err
    except BaseException:
        engine.dispose()
        raise
    return engine


def _reason(err: BaseException) -> str:
    # The DBAPI's own message, without SQLAlchemy's multi-line SQL and help-link suffix.
    orig = getattr(err, "orig", None)
    return str(orig if orig is not None else err).splitlines()[0]
