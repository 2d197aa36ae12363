"""Background audit jobs: submitting, watching, cancelling, and the worker's side of the record.

Split from :mod:`audit.store.core` to keep files short; :class:`audit.store.core.AuditStore`
inherits from :class:`JobStore`. A job's life:

``queued`` (a signed-in user submitted it) -> ``running`` (a worker claimed it, records its
pid and host and beats every second) -> ``done`` (the finished report is written, in the
same transaction as the status, so a report is either whole or absent) | ``failed`` (a
one-line error) | ``cancelled`` (its author or an admin asked; the worker stops at its next
beat) | ``interrupted`` (:meth:`JobStore.reap_jobs` found the worker gone: no beat for
``stale_after_s`` or its process no longer exists on this host).

Jobs are operational records, not audits: they are not in the trail. The audit that
someone saves from a finished job is (``AuditStore.create_audit``).
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from audit.errors import PermissionDenied, StoreError
from audit.store.accounts import StoreBase, check_text, now
from audit.store.schema import JOBS, USERS, JobStatus, Role, User

__all__ = ["Job", "JobStatus", "JobStore", "FINAL", "MAX_ERROR_LEN"]

FINAL = frozenset({JobStatus.DONE, JobStatus.FAILED, JobStatus.CANCELLED, JobStatus.INTERRUPTED})
_LIVE = (JobStatus.QUEUED.value, JobStatus.RUNNING.value)
MAX_ERROR_LEN = 500
_AUTHOR = USERS.alias("author")


@dataclass(frozen=True)
class Job:
    """One background audit as stored; ``progress`` maps section -> (fraction 0..1, last message)."""

    id: int
    author: str
    label: str
    status: JobStatus
    progress: Mapping[str, tuple[float, str]]
    error: str | None
    cancel_requested: bool
    has_result: bool
    pid: int | None
    host: str | None
    created_at: str
    started_at: str | None
    heartbeat_at: str | None
    finished_at: str | None

    @property
    def final(self) -> bool:
        return self.status in FINAL

    @property
    def fraction(self) -> float:
        """Overall progress: the mean over the sections seen so far (1.0 once done)."""
        if self.status is JobStatus.DONE:
            return 1.0
        return sum(f for f, _ in self.progress.values()) / max(1, len(self.progress))


_COLUMNS = [c for c in JOBS.c if c.name not in ("result_json", "spec_json")]
_SELECT = (sa.select(*_COLUMNS, (JOBS.c.result_json.is_not(None)).label("has_result"), _AUTHOR.c.username)
           .join(_AUTHOR, _AUTHOR.c.id == JOBS.c.user_id))


def _job(row: Any) -> Job:
    progress = {k: (float(v[0]), str(v[1])) for k, v in json.loads(row.progress_json).items()}
    return Job(id=row.id, author=row.username, label=row.label, status=JobStatus(row.status), progress=progress,
               error=row.error, cancel_requested=bool(row.cancel_requested), has_result=bool(row.has_result),
               pid=row.pid, host=row.host, created_at=row.created_at, started_at=row.started_at,
               heartbeat_at=row.heartbeat_at, finished_at=row.finished_at)


def one_line(message: object) -> str:
    """The first line of ``message``, cut to what the jobs table holds."""
    lines = str(message).strip().splitlines()
    text = lines[0] if lines else "the audit failed"
    return text if len(text) <= MAX_ERROR_LEN else text[: MAX_ERROR_LEN - 1] + "…"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: it exists
        return True
    try:  # a killed child its parent has not waited for is a zombie: gone for our purpose
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def _progress_json(progress: Mapping[str, Any]) -> str:
    clean = {}
    for section, value in progress.items():
        fraction, message = value
        clean[str(section)[:64]] = [min(1.0, max(0.0, float(fraction))), str(message)[:200]]
    return json.dumps(clean, ensure_ascii=True, separators=(",", ":"))


class JobStore(StoreBase):
    """The jobs half of :class:`audit.store.core.AuditStore`; use that class."""

    @staticmethod
    def _job_row(conn: sa.Connection, job_id: int, *, lock: bool = False) -> Any:
        if not isinstance(job_id, int) or isinstance(job_id, bool):
            raise StoreError(f"job_id must be an integer, got {job_id!r}")
        query = sa.select(JOBS).where(JOBS.c.id == job_id)
        row = conn.execute(query.with_for_update() if lock else query).first()
        if row is None:
            raise StoreError(f"no job with id {job_id}")
        return row

    @staticmethod
    def _load_job(conn: sa.Connection, job_id: int) -> Job:
        return _job(conn.execute(_SELECT.where(JOBS.c.id == job_id)).one())

    # -- the people's side ----------------------------------------------------------------

    def submit_job(self, *, user: User | None, label: str, spec: Mapping[str, Any]) -> Job:
        """Queue an audit; any signed-in user may (the report is theirs to read, not yet an audit).

        ``spec`` is what the worker needs (config, input file names), as JSON-able values.
        """
        label = check_text(label, "label", max_len=255)
        try:
            spec_json = json.dumps(dict(spec), ensure_ascii=True, sort_keys=True)
        except (TypeError, ValueError) as err:
            raise StoreError(f"a job's spec must be JSON-able values: {err}") from err
        with self._tx(write=True) as conn:
            me = self._current(conn, user)
            job_id = conn.execute(sa.insert(JOBS).values(
                user_id=me.id, label=label, status=JobStatus.QUEUED.value, spec_json=spec_json, progress_json="{}",
                cancel_requested=False, created_at=now())).inserted_primary_key[0]
            return self._load_job(conn, job_id)

    def get_job(self, job_id: int, *, user: User | None) -> Job:
        with self._tx(write=False) as conn:
            self._current(conn, user)
            self._job_row(conn, job_id)
            return self._load_job(conn, job_id)

    def list_jobs(self, *, user: User | None, live_only: bool = False, limit: int | None = 20) -> tuple[Job, ...]:
        """Jobs of every user, newest first; any signed-in user sees them, as with audits."""
        query = _SELECT.order_by(JOBS.c.id.desc()).limit(limit)
        if live_only:
            query = query.where(JOBS.c.status.in_(_LIVE))
        with self._tx(write=False) as conn:
            self._current(conn, user)
            return tuple(_job(r) for r in conn.execute(query))

    def job_result(self, job_id: int, *, user: User | None) -> str:
        """The finished report's JSON text; StoreError unless the job is done."""
        with self._tx(write=False) as conn:
            self._current(conn, user)
            row = self._job_row(conn, job_id)
        if row.status != JobStatus.DONE or row.result_json is None:
            raise StoreError(f"job {job_id} is {row.status}; only a finished job has a report")
        return row.result_json

    def cancel_job(self, job_id: int, *, user: User | None) -> Job:
        """Ask a job to stop (its author or an admin). A queued job is cancelled at once; a running one
        when its worker next beats. A finished job is left as it is."""
        with self._tx(write=True) as conn:
            me = self._current(conn, user)
            row = self._job_row(conn, job_id, lock=True)
            if row.user_id != me.id and me.role is not Role.ADMIN:
                raise PermissionDenied(f"only the author of job {job_id} or an admin may cancel it")
            if row.status == JobStatus.QUEUED:
                conn.execute(sa.update(JOBS).where(JOBS.c.id == job_id).values(
                    status=JobStatus.CANCELLED.value, cancel_requested=True, finished_at=now()))
            elif row.status == JobStatus.RUNNING:
                conn.execute(sa.update(JOBS).where(JOBS.c.id == job_id).values(cancel_requested=True))
            return self._load_job(conn, job_id)

    def reap_jobs(self, *, stale_after_s: float = 30.0) -> tuple[int, ...]:
        """Mark ``interrupted`` every live job whose worker is gone; returns their ids.

        Gone: no beat (or, for a queued job, no claim) for ``stale_after_s`` seconds, or
        a worker process on this host that no longer exists.
        """
        cutoff = (datetime.now(timezone.utc) - timedelta(seconds=stale_after_s)).isoformat(timespec="microseconds")
        host = socket.gethostname()
        reaped = []
        with self._tx(write=True) as conn:
            for row in conn.execute(sa.select(JOBS).where(JOBS.c.status.in_(_LIVE))).all():
                last = row.heartbeat_at or row.created_at
                if row.status == JobStatus.RUNNING and row.host == host and row.pid and not _pid_alive(row.pid):
                    why = f"the worker process {row.pid} stopped before the audit finished"
                elif last < cutoff:
                    why = (f"no worker picked the job up within {stale_after_s:g} s" if row.status == JobStatus.QUEUED
                           else f"the worker stopped reporting (last heard at {last[:19]} UTC)")
                else:
                    continue
                conn.execute(sa.update(JOBS).where(JOBS.c.id == row.id, JOBS.c.status.in_(_LIVE)).values(
                    status=JobStatus.INTERRUPTED.value, error=one_line(why), finished_at=now()))
                reaped.append(row.id)
        return tuple(reaped)

    # -- the worker's side (the local operator, like the users CLI: no user) -------------

    def worker_url(self) -> str:
        """This database's URL, password included, for a worker process's environment (never its argv)."""
        url = self._engine.url
        if url.get_backend_name() == "sqlite":
            if not url.database or url.database == ":memory:":
                raise StoreError("an in-memory database cannot be shared with a worker process; use a file")
            return str(Path(url.database).resolve())
        return url.render_as_string(hide_password=False)

    def get_job_status(self, job_id: int) -> JobStatus:
        with self._tx(write=False) as conn:
            return JobStatus(self._job_row(conn, job_id).status)

    def job_spec(self, job_id: int) -> dict[str, Any]:
        with self._tx(write=False) as conn:
            return json.loads(self._job_row(conn, job_id).spec_json)

    def claim_job(self, job_id: int, *, pid: int, host: str) -> bool:
        """Move a queued job to running for this worker; False if it is not queued any more."""
        stamp = now()
        with self._tx(write=True) as conn:
            done = conn.execute(sa.update(JOBS).where(JOBS.c.id == job_id, JOBS.c.status == JobStatus.QUEUED.value)
                                .values(status=JobStatus.RUNNING.value, pid=pid, host=host[:255], started_at=stamp,
                                        heartbeat_at=stamp))
            return done.rowcount == 1

    def beat_job(self, job_id: int, progress: Mapping[str, Any] | None = None) -> bool:
        """Record a beat (and the progress so far); True when the job should stop."""
        values: dict[str, Any] = {"heartbeat_at": now()}
        if progress is not None:
            values["progress_json"] = _progress_json(progress)
        with self._tx(write=True) as conn:
            conn.execute(sa.update(JOBS).where(JOBS.c.id == job_id, JOBS.c.status == JobStatus.RUNNING.value)
                         .values(**values))
            row = self._job_row(conn, job_id)
        return bool(row.cancel_requested) or row.status != JobStatus.RUNNING

    def end_job(self, job_id: int, status: JobStatus, *, error: str | None = None, result_json: str | None = None,
                progress: Mapping[str, Any] | None = None) -> JobStatus:
        """Write a running job's final state in one transaction; returns the state it ended in.

        A result is written only with ``done``, and never once a cancel was asked for: the
        job ends ``cancelled`` instead, with no report.
        """
        status = JobStatus(status)
        if status not in FINAL:
            raise StoreError(f"a job ends done, failed, cancelled or interrupted, not {status}")
        if (result_json is not None) != (status is JobStatus.DONE):
            raise StoreError("a report is written with status done, and only then")
        with self._tx(write=True) as conn:
            row = self._job_row(conn, job_id, lock=True)
            if row.status != JobStatus.RUNNING:
                return JobStatus(row.status)  # reaped or cancelled meanwhile: leave that record alone
            if row.cancel_requested and status is JobStatus.DONE:
                status, result_json = JobStatus.CANCELLED, None
            values: dict[str, Any] = {"status": status.value, "finished_at": now(), "result_json": result_json,
                                      "error": None if error is None else one_line(error)}
            if progress is not None:
                values["progress_json"] = _progress_json(progress)
            conn.execute(sa.update(JOBS).where(JOBS.c.id == job_id).values(**values))
        return status
