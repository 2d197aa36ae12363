"""Audits as background jobs in the dashboard, under AppTest with a real store and real worker processes:
start an audit, rerun the app (a reload), see its progress, open the result; cancel; a second
signed-in session sees the running job and cannot cancel it."""

from __future__ import annotations

import time

import pytest
from argon2 import PasswordHasher
from streamlit.testing.v1 import AppTest

from audit.store.core import AuditStore
from audit.store.jobs import JobStatus
from dashboard import state
from dashboard.components import md
from tests.conftest import ROOT, make_synthetic

APP = str(ROOT / "dashboard" / "app.py")
PASSWORD = "correct horse battery"
FAST = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


@pytest.fixture
def store(tmp_path, monkeypatch):
    url = str(tmp_path / "audit.db")
    monkeypatch.setenv("AUDIT_DB_URL", url)
    monkeypatch.setenv("AUDIT_JOB_DIR", str(tmp_path / "spool"))
    s = AuditStore(url, password_hasher=FAST)
    for name in ("alice", "bob"):
        s.create_user(name, password=PASSWORD, role="reviewer")
    yield s
    s.close()


def _ok(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def _signed_in(name: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60).run()
    at.switch_page("views/login.py").run()
    at.text_input(key="login_username").input(name)
    at.text_input(key="login_password").input(PASSWORD)
    at.form_submit_button(key="login_submit").click().run()
    at.switch_page("views/start.py").run()
    _ok(at)
    return at


def _texts(at: AppTest) -> str:
    return "\n".join(str(e.value) for kind in ("markdown", "caption", "error") for e in getattr(at, kind))


def _start_upload(at: AppTest, sections: list[str], rows: int = 800) -> AppTest:
    at.file_uploader(key="upload_data").upload("loans.csv", make_synthetic(rows, seed=3).to_csv(index=False).encode(),
                                               "text/csv")
    at.run()
    at.multiselect(key="opt_sections").set_value(sections)
    at.number_input(key="opt_cv").set_value(0 if sections == ["performance"] else 5)
    at.button(key="FormSubmitter:audit_options-Run audit").click()
    at.run()
    _ok(at)
    return at


def _wait(store, until, timeout=240.0):
    user = next(u for u in store.list_users() if u.username == "alice")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = store.list_jobs(user=user, limit=1)[0]
        if until(job):
            return job
        time.sleep(0.25)
    raise AssertionError(f"the job did not get there in {timeout} s: {job}")


def _button_keys(at: AppTest) -> set[str]:
    return {b.key for b in at.button}


@pytest.mark.slow
def test_start_reload_see_progress_and_open_the_result(store):
    at = _start_upload(_signed_in("alice"), ["performance"])
    assert state.REPORT not in at.session_state  # nothing ran in the page
    job = _wait(store, lambda j: j.progress or j.final)
    at.run()  # a reload: the page reads the job back from the store
    _ok(at)
    assert f"**Job {job.id}** · {md('loans.csv')} · started by alice" in _texts(at)
    done = _wait(store, lambda j: j.final)
    assert done.status is JobStatus.DONE, done.error
    at.run()
    assert "done" in _texts(at) and f"job_open_{job.id}" in _button_keys(at)
    at.button(key=f"job_open_{job.id}").click().run()
    _ok(at)
    report = at.session_state[state.REPORT]
    assert report.manifest.dataset.name == "loans.csv" and report.manifest.rows_used == 800
    assert report.performance is not None and report.fairness is None
    assert any("ROC AUC" in m.label for m in at.metric)  # the overview of the finished audit


@pytest.mark.slow
def test_a_second_user_sees_the_running_job_and_its_author_cancels_it(store):
    # 200,000 rows with cross-validation: tens of seconds even on a fast machine, so the cancel
    # (after another user's page has loaded) lands mid-audit; 800 rows finish in about 1.5 s.
    alice = _start_upload(_signed_in("alice"), ["performance", "fairness", "explanations", "privacy"], rows=200_000)
    job = _wait(store, lambda j: "models" in j.progress or j.final)
    assert job.status is JobStatus.RUNNING
    bob = _signed_in("bob")
    assert f"**Job {job.id}** · {md('loans.csv')} · started by alice · :blue[running]" in _texts(bob)
    assert "| section | progress | last message |" in _texts(bob)  # the per-section progress table
    assert f"job_cancel_{job.id}" not in _button_keys(bob)  # only its author (or an admin) cancels
    alice.run()
    alice.button(key=f"job_cancel_{job.id}").click().run()
    _ok(alice)
    ended = _wait(store, lambda j: j.final, timeout=60)
    assert ended.status is JobStatus.CANCELLED and not ended.has_result
    bob.run()
    assert ":orange[cancelled]" in _texts(bob) and f"job_open_{job.id}" not in _button_keys(bob)


def test_signed_out_the_page_says_jobs_need_a_sign_in(store):
    at = AppTest.from_file(APP, default_timeout=60).run()
    _ok(at)
    assert "Sign in to run audits as background jobs" in _texts(at)


def test_a_failed_job_shows_its_one_line_error_and_a_dead_worker_shows_interrupted(store):
    import os
    import socket
    import subprocess
    import sys

    alice = next(u for u in store.list_users() if u.username == "alice")
    spec = {"config": {}, "dir": "0" * 32}
    failed = store.submit_job(user=alice, label="bad.csv", spec=spec)
    store.claim_job(failed.id, pid=os.getpid(), host=socket.gethostname())
    store.end_job(failed.id, JobStatus.FAILED, error="column 'label' not found in <b>bad.csv</b>")
    dead = store.submit_job(user=alice, label="big.csv", spec=spec)
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    store.claim_job(dead.id, pid=gone.pid, host=socket.gethostname())
    at = _signed_in("bob")  # the page reaps the dead worker's job as it lists the jobs
    errors = [e.value for e in at.error]
    assert any("column 'label' not found in" in e for e in errors), errors
    assert any(f"worker process {gone.pid} stopped" in e for e in errors), errors
    assert store.get_job(dead.id, user=alice).status is JobStatus.INTERRUPTED
