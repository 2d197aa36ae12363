"""The job worker as a real OS process (`python -m audit worker`): progress seen from another
store connection, a finished report, cancel, a killed worker marked interrupted, a failure in one line.

These run on a SQLite file; the store's job records are tested on PostgreSQL too in
test_store_jobs.py, and the worker only calls those methods.
"""

from __future__ import annotations

import time

import pytest
from argon2 import PasswordHasher

from audit.config import config_from_mapping
from audit.report import AuditReport
from audit.store.core import AuditStore
from audit.store.jobs import JobStatus
from audit.worker import EXIT_CANCELLED, exit_code, run_job, spool_root, start_worker, submit_audit
from tests.conftest import make_synthetic

FAST = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
QUICK = {"target": "label", "sensitive": ["sex"], "sections": ["performance"], "models": {"cv_folds": 0}}
# Every section with cross-validation on BIG rows: tens of seconds even on a fast machine, so a cancel
# sent once the job runs always lands mid-audit (1,500 rows now finish in about 2 s).
LONG = {"target": "label", "sensitive": ["sex"], "models": {"cv_folds": 5}}
BIG = 200_000


@pytest.fixture
def setup(tmp_path, monkeypatch):
    monkeypatch.setenv("AUDIT_JOB_DIR", str(tmp_path / "spool"))
    db = tmp_path / "audit.db"
    store = AuditStore(db, password_hasher=FAST)
    watcher = AuditStore(db, password_hasher=FAST)  # another dashboard's connection
    user = store.create_user("alice", password="correct horse battery", role="reviewer")
    raw = make_synthetic(n=1500).to_csv(index=False).encode()
    yield store, watcher, user, raw
    store.close()
    watcher.close()


def _wait(watcher, user, job_id, until, timeout=240.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = watcher.get_job(job_id, user=user)
        if until(job):
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} did not get there in {timeout} s: {job}")


def _start(store, user, raw, config):
    job = submit_audit(store, user=user, config=config_from_mapping(config), data=("loans.csv", raw))
    return job, start_worker(store, job.id)


@pytest.mark.slow
def test_a_worker_process_runs_the_job_and_writes_the_report_once_done(setup):
    store, watcher, user, raw = setup
    job, proc = _start(store, user, raw, QUICK)
    done = _wait(watcher, user, job.id, lambda j: j.final)
    assert proc.wait(timeout=30) == 0
    assert done.status is JobStatus.DONE, done.error
    assert done.progress["data"][0] == 1.0 and done.progress["performance"][0] == 1.0
    report = AuditReport.from_json(watcher.job_result(job.id, user=user))
    assert report.manifest.dataset.name == "loans.csv" and report.manifest.rows_used == 1500
    assert report.performance is not None
    assert list(spool_root().iterdir()) == []  # the inputs are gone with the job


@pytest.mark.slow
def test_cancel_stops_the_worker_mid_audit_and_leaves_no_report(setup):
    store, watcher, user, _ = setup
    job, proc = _start(store, user, make_synthetic(n=BIG).to_csv(index=False).encode(), LONG)
    running = _wait(watcher, user, job.id, lambda j: "models" in j.progress or j.final)
    assert running.status is JobStatus.RUNNING and running.pid == proc.pid
    # Every planned section is listed from the start, so the overall fraction is over the whole audit.
    assert set(running.progress) == {"data", "models", "performance", "fairness", "explanations", "robustness",
                                     "drift", "privacy", "population"}
    assert running.fraction < 0.5
    watcher.cancel_job(job.id, user=user)  # from the other connection, as another tab would
    assert proc.wait(timeout=30) == EXIT_CANCELLED
    ended = watcher.get_job(job.id, user=user)
    assert ended.status is JobStatus.CANCELLED and not ended.has_result
    assert list(spool_root().iterdir()) == []


def test_a_cancel_that_lands_after_the_last_section_ends_cancelled_with_no_report(setup):
    """The beat thread did not see the cancel before the audit finished: the job still ends
    cancelled, with no report, and the worker's exit code says cancelled (it said failed before)."""
    store, watcher, user, raw = setup
    job = submit_audit(store, user=user, config=config_from_mapping(QUICK), data=("loans.csv", raw))
    end_job = store.end_job

    def cancel_then_end(job_id, status, **kw):  # the author's cancel, just before the worker writes its end
        watcher.cancel_job(job_id, user=user)
        return end_job(job_id, status, **kw)

    store.end_job = cancel_then_end
    status = run_job(store, job.id, heartbeat_s=3600)  # no beat during the audit
    assert status is JobStatus.CANCELLED and exit_code(status) == EXIT_CANCELLED
    ended = watcher.get_job(job.id, user=user)
    assert ended.status is JobStatus.CANCELLED and not ended.has_result
    assert exit_code(JobStatus.DONE) == 0 and exit_code(JobStatus.FAILED) == 1


@pytest.mark.slow
def test_a_killed_worker_leaves_an_interrupted_job_and_no_report(setup):
    store, watcher, user, raw = setup
    job, proc = _start(store, user, raw, LONG)
    _wait(watcher, user, job.id, lambda j: "data" in j.progress or j.final)
    proc.kill()
    proc.wait(timeout=30)
    assert watcher.reap_jobs(stale_after_s=60) == (job.id,)
    ended = watcher.get_job(job.id, user=user)
    assert ended.status is JobStatus.INTERRUPTED and not ended.has_result
    assert f"worker process {proc.pid} stopped" in ended.error


@pytest.mark.slow
def test_bad_input_fails_the_job_with_the_core_message(setup):
    store, watcher, user, raw = setup
    job, proc = _start(store, user, raw, {**QUICK, "target": "no_such_column"})
    ended = _wait(watcher, user, job.id, lambda j: j.final)
    assert proc.wait(timeout=30) == 1
    assert ended.status is JobStatus.FAILED and "no_such_column" in ended.error and "\n" not in ended.error
    assert not ended.has_result
