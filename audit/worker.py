"""Audits as background jobs: queue one in the store, and the worker process that runs it.

``submit_audit`` writes the inputs into a fresh spool directory and queues a job;
``start_worker`` starts ``python -m audit worker --job N`` as its own OS process (its own
session, so a dashboard rerun or restart does not take it down). The worker claims the
job, runs :func:`audit.pipeline.run_audit`, and a beat thread writes the progress and a
heartbeat into the store every second; when the job's author cancels, that thread marks
the job cancelled and ends the process at once. The report is written only at the end,
with status ``done``, in one transaction: a stopped, failed or killed job leaves none.
A worker that dies is found by :meth:`audit.store.core.AuditStore.reap_jobs`.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from audit.config import AuditConfig
from audit.errors import AuditError, StoreError
from audit.store.jobs import Job, JobStatus

log = logging.getLogger("audit.worker")

SPOOL_ENV = "AUDIT_JOB_DIR"
HEARTBEAT_S = 1.0
GENERIC_ERROR = "the audit stopped on an internal error; the server log has the details"
EXIT_CANCELLED = 3
_TOKEN = re.compile(r"[0-9a-f]{32}")
Input = str | Path | tuple[str, bytes] | None  # a file path, or an upload's (name, bytes)


def spool_root(spool: str | Path | None = None) -> Path:
    """Where job inputs wait for their worker: ``spool``, else ``$AUDIT_JOB_DIR``, else a temp folder."""
    return Path(spool or os.environ.get(SPOOL_ENV) or Path(tempfile.gettempdir()) / "audit-jobs")


def _safe_name(name: str) -> str:
    base = Path(str(name)).name
    base = re.sub(r"[^A-Za-z0-9._ -]", "_", base).strip(" .") or "data"
    return base[:120]


def _put(folder: Path, item: Input, slot: str) -> dict[str, str] | None:
    if item is None:
        return None
    if isinstance(item, tuple):
        name, raw = item
        sub = folder / slot  # one folder per input, so the file keeps the upload's name (the data set's name)
        sub.mkdir()
        path = sub / _safe_name(name)
        path.write_bytes(raw)
        return {"file": f"{slot}/{path.name}"}
    return {"path": str(Path(item).resolve())}


def submit_audit(store: Any, *, user: Any, config: AuditConfig, data: Input, current: Input = None,
                 model: Input = None, label: str | None = None, spool: str | Path | None = None) -> Job:
    """Queue an audit of ``data`` as a job of ``user``; start it with :func:`start_worker`."""
    token = uuid.uuid4().hex
    folder = spool_root(spool) / token
    try:
        folder.mkdir(parents=True)
        spec = {"config": config.to_dict(), "dir": token, "data": _put(folder, data, "data"),
                "current": _put(folder, current, "current"), "model": _put(folder, model, "model")}
    except OSError as exc:
        shutil.rmtree(folder, ignore_errors=True)
        raise StoreError(f"cannot keep the job's input files in {folder.parent}: {exc.strerror or exc}") from exc
    if label is None:
        label = data[0] if isinstance(data, tuple) else Path(str(data)).name
    try:
        return store.submit_job(user=user, label=_safe_name(label), spec=spec)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise


def start_worker(store: Any, job_id: int, *, spool: str | Path | None = None) -> subprocess.Popen:
    """Start the worker process of job ``job_id``; the database URL travels in its environment."""
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "AUDIT_DB_URL": store.worker_url(), SPOOL_ENV: str(spool_root(spool)),
           "PYTHONPATH": os.pathsep.join([str(root), *filter(None, [os.environ.get("PYTHONPATH")])])}
    proc = subprocess.Popen([sys.executable, "-m", "audit", "worker", "--job", str(int(job_id))], env=env,
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, start_new_session=True)
    # Wait for it in the background, so a finished worker never lingers as a zombie.
    threading.Thread(target=proc.wait, name=f"audit-job-{job_id}", daemon=True).start()
    return proc


def _input(spec: Mapping[str, Any], slot: str, folder: Path) -> Path | None:
    item = spec.get(slot)
    if item is None:
        return None
    if "file" in item:
        rel = Path(item["file"])
        if rel.is_absolute() or ".." in rel.parts:
            raise AuditError(f"the job's {slot} file {item['file']!r} is outside its folder")
        return folder / rel
    return Path(item["path"])


def _run(spec: Mapping[str, Any], folder: Path, progress: Any) -> Any:
    from audit.models.loading import read_model_file
    from audit.pipeline import run_audit

    config = AuditConfig.from_dict(spec["config"])
    model_path = _input(spec, "model", folder)
    model_file = None
    if model_path is not None:
        model_file = read_model_file(model_path, name=model_path.name, max_file_mb=config.model.max_file_mb)
    return run_audit(config, _input(spec, "data", folder), current=_input(spec, "current", folder),
                     progress=progress, model_file=model_file)


def run_job(store: Any, job_id: int, *, heartbeat_s: float = HEARTBEAT_S) -> JobStatus:
    """Claim and run job ``job_id`` in this process; returns the state it ended in."""
    if not store.claim_job(job_id, pid=os.getpid(), host=socket.gethostname()):
        return store.get_job_status(job_id)
    spec = store.job_spec(job_id)
    token = str(spec.get("dir", ""))
    folder = spool_root() / token if _TOKEN.fullmatch(token) else None
    # Every planned step from the start, so the overall fraction is over the whole audit, not what began.
    planned = ["data", "models", *spec.get("config", {}).get("sections", ())]
    progress: dict[str, tuple[float, str]] = {str(step): (0.0, "waiting") for step in planned}
    lock, stop = threading.Lock(), threading.Event()

    def snapshot() -> dict[str, tuple[float, str]]:
        with lock:
            return dict(progress)

    def on_progress(section: str, fraction: float, message: str) -> None:
        with lock:
            seen = progress.get(section, (0.0, ""))[0]
            progress[section] = (max(seen, float(fraction)), message)

    def beat() -> None:
        while not stop.wait(heartbeat_s):
            try:
                should_stop = store.beat_job(job_id, snapshot())
                if should_stop:
                    ended = store.end_job(job_id, JobStatus.CANCELLED, progress=snapshot())
            except StoreError as exc:  # a busy or briefly unreachable database: try at the next beat
                log.warning("job %s: heartbeat not recorded: %s", job_id, exc)
                continue
            if should_stop and ended is not JobStatus.DONE:
                # Cancelled (or reaped): stop now, mid-section; the report was never written.
                _clean(folder)
                os._exit(EXIT_CANCELLED)

    thread = threading.Thread(target=beat, name="audit-job-beat", daemon=True)
    thread.start()
    try:
        if folder is None:
            raise AuditError("the job's input folder is missing from its record")
        report = _run(spec, folder, on_progress)
    except AuditError as exc:
        stop.set()
        return store.end_job(job_id, JobStatus.FAILED, error=str(exc), progress=snapshot())
    except Exception:  # a bug: the traceback goes to the server log, the job shows one generic line
        stop.set()
        log.exception("job %s failed", job_id)
        return store.end_job(job_id, JobStatus.FAILED, error=GENERIC_ERROR, progress=snapshot())
    else:
        stop.set()
        return store.end_job(job_id, JobStatus.DONE, result_json=report.to_json(), progress=snapshot())
    finally:
        stop.set()
        _clean(folder)


def _clean(folder: Path | None) -> None:
    if folder is not None:
        shutil.rmtree(folder, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    """``python -m audit worker --job N``: run one job from the store at ``$AUDIT_DB_URL``."""
    from audit.store import AuditStore

    parser = argparse.ArgumentParser(prog="python -m audit worker", description="run one queued audit job")
    parser.add_argument("--job", type=int, required=True, help="the job's id in the store")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        with AuditStore() as store:
            status = run_job(store, args.job)
    except AuditError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return exit_code(status)


def exit_code(status: JobStatus) -> int:
    """The worker's exit code for the state its job ended in."""
    if status is JobStatus.CANCELLED:  # also when the cancel landed after the last section (no beat saw it)
        return EXIT_CANCELLED
    return 0 if status is JobStatus.DONE else 1
