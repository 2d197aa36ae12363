"""A Dask worker process killed (SIGKILL) while the every-row statistics run on a real
LocalCluster: the scheduler reruns its tasks on another worker and the numbers are unchanged;
with no retries allowed, the audit stops with one line and writes no report."""

from __future__ import annotations

import os
import signal
import threading
import time

import dask
import pytest

from audit.engine.cluster import connect, parse_engine
from audit.engine.sample import ClusterRows
from audit.sections.population import PopulationOptions, audit_population
from tests.test_population import _numbers, _trained, _write_parts, make_table

pytestmark = pytest.mark.slow


def _kill_a_busy_worker(client, pids: dict[str, int], marker: str, timeout: float = 120.0) -> int:
    """SIGKILL the process of a worker that holds a task whose key contains ``marker``; its pid."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        for addr, keys in client.processing().items():
            if addr in pids and any(marker in str(k) for k in keys):
                os.kill(pids[addr], signal.SIGKILL)
                return pids[addr]
        time.sleep(0.02)
    raise AssertionError(f"no worker ran a {marker} task within {timeout} s")


def _in_thread(fn):
    box: dict = {}

    def run():
        try:
            box["value"] = fn()
        except BaseException as exc:  # handed to the test thread
            box["error"] = exc

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t, box


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    frame = make_table(200_000, seed=6)
    folder = tmp_path_factory.mktemp("faults") / "table"
    files = _write_parts(frame, folder, 25_000)
    return frame, folder, files


def test_a_worker_killed_mid_task_is_retried_and_changes_no_number(table):
    frame, folder, files = table
    trained = _trained(frame)
    opts = PopulationOptions(bootstrap=200)
    with connect(parse_engine("dask", workers=2)) as client:
        pids = client.run(os.getpid)
        rows = ClusterRows(str(folder), client, "dask LocalCluster (2 worker processes)", len(frame), files)
        t, box = _in_thread(lambda: audit_population(trained, options=opts, seed=1, rows=rows))
        killed = _kill_a_busy_worker(client, pids, "partition_stats")
        t.join(timeout=600)
        assert "error" not in box, box.get("error")
        assert killed not in client.run(os.getpid).values()  # the nanny started a new worker process
    in_memory = audit_population(trained, options=opts, seed=1)
    assert _numbers(box["value"]) == _numbers(in_memory)


def test_with_no_retries_a_killed_worker_is_one_line_and_no_report(table, tmp_path, capsys):
    from audit.cli import main

    _, folder, _ = table
    out = tmp_path / "out"
    config = tmp_path / "audit.toml"
    config.write_text('[models]\ncv_folds = 0\nmodels = ["logistic"]\n\n[population]\nbootstrap = 200\n')
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        with connect(parse_engine("dask", workers=2)) as client:
            pids = client.run(os.getpid)
            address = client.scheduler.address
            argv = ["run", str(folder), "--target", "label", "--sensitive", "sex", "--sections", "population",
                    "--config", str(config), "--engine", address, "--out", str(out), "--quiet"]
            t, box = _in_thread(lambda: main(argv))
            _kill_a_busy_worker(client, pids, "partition_stats", timeout=300)
            t.join(timeout=600)
    assert box.get("value") == 2, box
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "a Dask worker died while computing the every-row statistics" in err[0]
    assert not (out / "report.json").exists()


def test_a_job_whose_dask_worker_dies_fails_in_one_line_and_stores_no_report(table, tmp_path, monkeypatch):
    """The same death inside a dashboard job (a real `python -m audit worker` process on the
    cluster's address): the job is failed with the reason, and the store holds no result."""
    from argon2 import PasswordHasher

    from audit.config import config_from_mapping
    from audit.store.core import AuditStore
    from audit.store.jobs import JobStatus
    from audit.worker import start_worker, submit_audit

    _, folder, _ = table
    monkeypatch.setenv("AUDIT_JOB_DIR", str(tmp_path / "spool"))
    store = AuditStore(tmp_path / "audit.db", password_hasher=PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    user = store.create_user("alice", password="correct horse battery", role="reviewer")
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        with connect(parse_engine("dask", workers=2)) as client:
            pids = client.run(os.getpid)
            config = config_from_mapping({"target": "label", "sensitive": ["sex"], "sections": ["population"],
                                          "models": {"cv_folds": 0, "models": ["logistic"]},
                                          "population": {"bootstrap": 200}, "engine": {"address": client.scheduler.address}})
            job = submit_audit(store, user=user, config=config, data=str(folder))
            proc = start_worker(store, job.id)
            _kill_a_busy_worker(client, pids, "partition_stats", timeout=300)
            assert proc.wait(timeout=300) == 1
    ended = store.get_job(job.id, user=user)
    assert ended.status is JobStatus.FAILED and not ended.has_result
    assert "a Dask worker died while computing the every-row statistics" in ended.error and "\n" not in ended.error
    assert len(store.list_audits(user=user)) == 0  # nothing half-written
    store.close()
