"""Background audit jobs in the store: submit, progress seen from another connection, cancel,
fail with one line, reap dead workers; SQLite and PostgreSQL."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest
from argon2 import PasswordHasher

from audit.errors import PermissionDenied, StoreError
from audit.store.core import AuditStore
from audit.store.jobs import MAX_ERROR_LEN, JobStatus
from tests.store_backends import db_url, run_sql  # noqa: F401 - db_url is a fixture

FAST = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
PW = "correct horse battery"
SPEC = {"config": {"target": "label"}, "dir": "0" * 32}
REPORT = '{"manifest": {}}'


@pytest.fixture
def store(db_url):
    with AuditStore(db_url, password_hasher=FAST) as s:
        yield s


@pytest.fixture
def other(store, db_url):
    """A second connection to the same database, as another dashboard process would have."""
    with AuditStore(db_url, password_hasher=FAST) as s:
        yield s


@pytest.fixture
def team(store):
    return {name: store.create_user(name, password=PW, role=role) for name, role in
            [("root", "admin"), ("alice", "reviewer"), ("vera", "viewer")]}


def _running(store, user, label="adult.csv"):
    job = store.submit_job(user=user, label=label, spec=SPEC)
    assert store.claim_job(job.id, pid=os.getpid(), host=socket.gethostname())
    return job


def test_a_job_is_seen_with_its_progress_from_another_connection_and_ends_with_its_report(store, other, team):
    job = store.submit_job(user=team["vera"], label="adult.csv", spec=SPEC)  # a viewer may run an audit
    assert (job.status, job.author, job.progress, job.has_result) == (JobStatus.QUEUED, "vera", {}, False)
    assert store.job_spec(job.id) == SPEC
    assert store.claim_job(job.id, pid=os.getpid(), host=socket.gethostname())
    assert not store.claim_job(job.id, pid=1, host="elsewhere")  # claimed once only
    assert store.beat_job(job.id, {"data": (1.0, "2000 rows"), "models": (0.5, "training")}) is False
    seen = other.get_job(job.id, user=team["alice"])
    assert seen.status is JobStatus.RUNNING and seen.pid == os.getpid()
    assert seen.progress == {"data": (1.0, "2000 rows"), "models": (0.5, "training")}
    assert seen.fraction == pytest.approx(0.75)
    assert [j.id for j in other.list_jobs(user=team["root"], live_only=True)] == [job.id]
    with pytest.raises(StoreError, match="only a finished job"):
        other.job_result(job.id, user=team["alice"])
    assert store.end_job(job.id, JobStatus.DONE, result_json=REPORT) is JobStatus.DONE
    done = other.get_job(job.id, user=team["alice"])
    assert done.status is JobStatus.DONE and done.has_result and done.finished_at and done.fraction == 1.0
    assert other.job_result(job.id, user=team["alice"]) == REPORT
    assert other.list_jobs(user=team["root"], live_only=True) == ()


def test_jobs_need_a_signed_in_user(store):
    with pytest.raises(PermissionDenied):
        store.submit_job(user=None, label="x", spec=SPEC)
    with pytest.raises(PermissionDenied):
        store.list_jobs(user=None)


def test_only_the_author_or_an_admin_cancels_and_a_queued_job_stops_at_once(store, team):
    job = store.submit_job(user=team["alice"], label="adult.csv", spec=SPEC)
    with pytest.raises(PermissionDenied, match="only the author"):
        store.cancel_job(job.id, user=team["vera"])
    cancelled = store.cancel_job(job.id, user=team["root"])
    assert cancelled.status is JobStatus.CANCELLED and cancelled.finished_at
    assert not store.claim_job(job.id, pid=os.getpid(), host="h")  # a worker arriving late does nothing


def test_a_cancelled_running_job_stops_at_its_next_beat_and_never_gets_a_report(store, team):
    job = _running(store, team["alice"])
    assert store.cancel_job(job.id, user=team["alice"]).cancel_requested
    assert store.beat_job(job.id, {"data": (1.0, "")}) is True
    # The worker finished just as the cancel came: the report is dropped, the job is cancelled.
    assert store.end_job(job.id, JobStatus.DONE, result_json=REPORT) is JobStatus.CANCELLED
    ended = store.get_job(job.id, user=team["alice"])
    assert ended.status is JobStatus.CANCELLED and not ended.has_result
    with pytest.raises(StoreError, match="cancelled"):
        store.job_result(job.id, user=team["alice"])


def test_a_failed_job_keeps_one_line_of_error(store, team):
    job = _running(store, team["alice"])
    assert store.end_job(job.id, JobStatus.FAILED, error="column 'y' not found\nTraceback ...") is JobStatus.FAILED
    assert store.get_job(job.id, user=team["vera"]).error == "column 'y' not found"
    job2 = _running(store, team["alice"])
    store.end_job(job2.id, JobStatus.FAILED, error="x" * 2000)
    assert len(store.get_job(job2.id, user=team["vera"]).error) == MAX_ERROR_LEN


def test_a_report_is_written_with_done_only(store, team):
    job = _running(store, team["alice"])
    with pytest.raises(StoreError, match="only then"):
        store.end_job(job.id, JobStatus.FAILED, error="x", result_json=REPORT)
    with pytest.raises(StoreError, match="only then"):
        store.end_job(job.id, JobStatus.DONE)
    with pytest.raises(StoreError, match="not running"):
        store.end_job(job.id, "running")


def test_reaping_marks_jobs_of_dead_or_silent_workers_interrupted_and_leaves_live_ones(store, team):
    live = _running(store, team["alice"])  # this test's own pid: alive
    dead = store.submit_job(user=team["alice"], label="dead", spec=SPEC)
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    store.claim_job(dead.id, pid=gone.pid, host=socket.gethostname())
    silent = _running(store, team["alice"], label="silent")
    run_sql(store, f"UPDATE jobs SET heartbeat_at = '2000-01-01T00:00:00+00:00' WHERE id = {silent.id}")
    never = store.submit_job(user=team["alice"], label="never claimed", spec=SPEC)
    run_sql(store, f"UPDATE jobs SET created_at = '2000-01-01T00:00:00+00:00' WHERE id = {never.id}")
    fresh = store.submit_job(user=team["alice"], label="just queued", spec=SPEC)
    assert sorted(store.reap_jobs(stale_after_s=30)) == sorted([dead.id, silent.id, never.id])
    jobs = {j.id: j for j in store.list_jobs(user=team["vera"])}
    assert jobs[live.id].status is JobStatus.RUNNING and jobs[fresh.id].status is JobStatus.QUEUED
    assert f"worker process {gone.pid} stopped" in jobs[dead.id].error
    assert "stopped reporting" in jobs[silent.id].error and "picked the job up" in jobs[never.id].error
    assert all(jobs[i].status is JobStatus.INTERRUPTED for i in (dead.id, silent.id, never.id))
    # A worker that comes back after being given up on cannot write its report.
    assert store.end_job(silent.id, JobStatus.DONE, result_json=REPORT) is JobStatus.INTERRUPTED
    assert not store.get_job(silent.id, user=team["vera"]).has_result
    assert store.beat_job(silent.id, {}) is True


def test_an_in_memory_database_cannot_be_handed_to_a_worker():
    with AuditStore("sqlite://", password_hasher=FAST) as s, pytest.raises(StoreError, match="in-memory"):
        s.worker_url()
