"""Dashboard hardening (issue 17, items 13-17) under the real Streamlit AppTest."""

from __future__ import annotations

import tomllib

from streamlit.runtime.pages_manager import PagesManager
from streamlit.testing.v1 import AppTest

from tests.conftest import ROOT

APP = str(ROOT / "dashboard" / "app.py")
TIMEOUT = 120


# -- item 17: deep links and tracebacks ----------------------------------------------------


def test_a_fresh_server_runs_the_entry_script_for_a_deep_link():
    # Streamlit decides once per process, on its first session, whether the app is an old
    # pages/-directory app; if so a deep link runs that page without app.py (and its sys.path).
    PagesManager.uses_pages_directory = None
    PagesManager(APP)
    assert PagesManager.uses_pages_directory is False


def test_deep_links_open_through_the_navigation_before_any_other_page():
    for page in ("login", "reviews", "history"):
        at = AppTest.from_file(APP, default_timeout=TIMEOUT)
        at.switch_page(f"views/{page}.py").run()  # the first run of this app: no visit to / before
        assert not at.exception, at.exception
        assert "No audit loaded." in [c.value for c in at.sidebar.caption]  # app.py drew its sidebar
        assert at.title[0].value == {"login": "Sign in", "reviews": "Reviews", "history": "History"}[page]


def test_tracebacks_never_reach_a_browser():
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["client"]["showErrorDetails"] == "none"


# -- item 14: the database URL's password -----------------------------------------------------

SECRET_URL = "postgresql+psycopg://auditor:S3cret-pw@127.0.0.1:1/audit"  # port 1: refused at once


def _all_text(at: AppTest) -> str:
    parts = []
    for kind in ("markdown", "caption", "info", "warning", "error", "success", "title", "header", "subheader", "text"):
        parts += [str(e.value) for e in getattr(at, kind)]
    return "\n".join(parts)


def test_signed_out_visitor_never_sees_the_database_password(monkeypatch):
    monkeypatch.setenv("AUDIT_DB_URL", SECRET_URL)
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.switch_page("views/login.py").run()
    at.text_input(key="login_username").input("mallory")
    at.text_input(key="login_password").input("guess")
    at.form_submit_button(key="login_submit").click().run()
    shown = _all_text(at)
    assert "cannot be used" in shown and r"auditor\:\*\*\*@127\.0\.0\.1" in shown
    assert "S3cret" not in shown


def test_the_signed_in_caption_masks_the_password(monkeypatch):
    from dashboard import state

    monkeypatch.setenv("AUDIT_DB_URL", SECRET_URL)
    assert state.store_url() == "postgresql+psycopg://auditor:***@127.0.0.1:1/audit"
    assert state.redact(f"failed at {SECRET_URL} with password S3cret-pw") == (
        "failed at postgresql+psycopg://auditor:***@127.0.0.1:1/audit with password ***")
    monkeypatch.setenv("AUDIT_DB_URL", "/srv/audit.db")
    assert state.store_url() == "/srv/audit.db"


# -- item 16: a corrupted database ------------------------------------------------------------


def test_a_corrupted_database_is_one_line_on_history(tmp_path, monkeypatch):
    import random

    from argon2 import PasswordHasher

    from audit.store.core import AuditStore

    path = tmp_path / "audit.db"
    store = AuditStore(str(path), password_hasher=PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    alice = store.create_user("alice", password="correct horse battery", role="reviewer")
    for i in range(30):
        store.create_audit(user=alice, dataset_name=f"d{i}.csv", dataset_sha256="0" * 64, report_json='{"x": "' + "y" * 3000 + '"}')
    store.close()
    rng = random.Random(0)
    with path.open("r+b") as fh:  # scribble over every page but the first two (header and schema)
        for offset in range(8192, path.stat().st_size, 4096):
            fh.seek(offset + 100)
            fh.write(bytes(rng.randrange(256) for _ in range(300)))
    monkeypatch.setenv("AUDIT_DB_URL", str(path))
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.switch_page("views/history.py").run()
    assert not at.exception, [e.value for e in at.exception]
    at.text_input(key="login_username").input("alice")
    at.text_input(key="login_password").input("correct horse battery")
    at.form_submit_button(key="login_submit").click().run()
    assert not at.exception, [e.value for e in at.exception]
    errors = [e.value for e in at.error]
    assert len(errors) == 1 and "cannot" in errors[0] and "malformed" in errors[0], errors
    assert "SELECT" not in errors[0] and "\n" not in errors[0] and "sqlalche.me" not in errors[0]


# -- item 15: CSV downloads ---------------------------------------------------------------------


def test_the_built_in_dataframe_export_is_off():
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["client"]["disableDataExport"] is True


def test_table_csv_neutralises_formula_prefixes_in_cells_and_headers():
    import csv
    import io

    import pandas as pd

    from dashboard.components.text import table_csv

    frame = pd.DataFrame({"=cmd|' /C calc'!A0": ["=HYPERLINK(\"http://evil\",\"x\")", "+1+1", "-2+3", "@SUM(A1)",
                                                  "\t=1", "\r=1", "plain", None],
                          "score": [-0.5, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]})
    rows = list(csv.reader(io.StringIO(table_csv(frame))))
    assert rows[0] == ["'=cmd|' /C calc'!A0", "score"]
    assert [r[0] for r in rows[1:]] == ["'=HYPERLINK(\"http://evil\",\"x\")", "'+1+1", "'-2+3", "'@SUM(A1)",
                                        "'\t=1", "'\r=1", "plain", ""]
    assert rows[1][1] == "-0.5"  # numbers stay numbers


def test_tables_with_user_values_offer_the_escaped_download():
    from tests.test_hardening_markup import _hostile_report  # the real pipeline on hostile names

    report = _hostile_report(("performance", "fairness"), n=300)
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    from dashboard import state

    at.session_state[state.REPORT] = report
    at.session_state[state.REPORT_KEY] = "hostile"
    at.run()
    for page, name in (("fairness", "fairness_groups.csv"), ("datasheet", "columns.csv")):
        at.switch_page(f"views/{page}.py").run()
        assert not at.exception, [e.value for e in at.exception]
        assert at.get("download_button"), page
        assert any(b.proto.id and f"csv_{name}" in b.proto.id for b in at.get("download_button")), page
