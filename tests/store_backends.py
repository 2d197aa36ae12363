"""The two databases every store test runs on: a SQLite file and a real PostgreSQL server.

PostgreSQL comes from ``$AUDIT_TEST_PG_URL`` (``eval "$(.ci/postgres)"`` starts a local
server and sets it; ``.ci/run`` does so in CI). Each test gets an empty database:
the schema is dropped and made again. Without the variable the PostgreSQL cases
skip on a workstation but fail in CI (``CI=true``), so CI can never pass on SQLite alone.
"""

from __future__ import annotations

import os

import pytest
import sqlalchemy as sa

PG_ENV = "AUDIT_TEST_PG_URL"
BACKENDS = ["sqlite", "postgresql"]


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def pg_url() -> str:
    """The test server's URL with an empty ``public`` schema, or skip/fail as above."""
    url = os.environ.get(PG_ENV, "").strip()
    if not url:
        message = f"${PG_ENV} is not set; start a server with: eval \"$(.ci/postgres)\""
        if _in_ci():
            pytest.fail(f"CI must run the store tests on PostgreSQL too: {message}")
        pytest.skip(message)
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if worker:  # parallel workers get a database each, or they would drop each other's tables
        url = _worker_database(url, f"audit_test_{worker}")
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("DROP SCHEMA IF EXISTS public CASCADE")
            conn.exec_driver_sql("CREATE SCHEMA public")
    finally:
        engine.dispose()
    return url


def _worker_database(url: str, name: str) -> str:
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            if conn.exec_driver_sql(f"SELECT 1 FROM pg_database WHERE datname = '{name}'").first() is None:
                conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    finally:
        engine.dispose()
    return sa.make_url(url).set(database=name).render_as_string(hide_password=False)


@pytest.fixture(params=BACKENDS)
def db_url(request, tmp_path) -> str:
    """A SQLite file path, or the URL of an empty PostgreSQL database."""
    return str(tmp_path / "audit.db") if request.param == "sqlite" else pg_url()


def run_sql(store, sql: str) -> None:
    """Run raw SQL on the store's database behind its back, as someone with a SQL console would."""
    with store._engine.begin() as conn:
        conn.exec_driver_sql(sql)
