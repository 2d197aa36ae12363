"""Audits as background jobs on the New audit page: submit one, watch every job, cancel, open.

The audit runs in a worker process (:mod:`audit.worker`), never in this script: the page
only writes the inputs, queues the job in the audit store and starts the worker. The job
list is read from the store on every run, so a reload, a second tab or another signed-in
user sees the same jobs and their progress; it refreshes itself every few seconds while a
job is live. Jobs whose worker died are marked interrupted here (``reap_jobs``).
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from audit.errors import AuditError
from audit.report import AuditReport
from audit.store.jobs import Job, JobStatus
from audit.store.schema import Role
from audit.worker import start_worker, submit_audit
from dashboard import state
from dashboard.components.nav import OVERVIEW_PAGE, area_label
from dashboard.components.text import md

REFRESH_S = 2.0
STALE_AFTER_S = 30.0  # a worker beats every second; this many seconds of silence means it is gone
_BADGE = {JobStatus.QUEUED: ":gray[queued]", JobStatus.RUNNING: ":blue[running]", JobStatus.DONE: ":green[done]",
          JobStatus.FAILED: ":red[failed]", JobStatus.CANCELLED: ":orange[cancelled]",
          JobStatus.INTERRUPTED: ":red[interrupted]"}


def _upload(item: Any) -> Any:
    """A path stays a path; an upload (a named BytesIO) becomes (name, bytes) for the spool."""
    if item is None or isinstance(item, str):
        return item
    return (str(getattr(item, "name", "data")), item.getvalue())


def submit(pending: Any, user: Any) -> Job | None:
    """Queue ``pending`` (an ``intake.PendingRun``) as a job of ``user`` and start its worker; None on an error."""
    store = state.audit_store()
    model = None if pending.model_file is None else (pending.model_file.name, pending.model_file.raw)
    try:
        job = submit_audit(store, user=user, config=pending.config, data=_upload(pending.data),
                           current=_upload(pending.current), model=model)
        start_worker(store, job.id)
    except AuditError as exc:
        st.error(md(state.redact(exc)))
        return None
    except OSError as exc:  # the worker process could not be started: the job will show as interrupted
        st.error(f"the audit worker could not be started: {md(exc.strerror or exc)}")
        return None
    st.toast(f"Audit of {job.label} started as job {job.id}; it keeps running if you leave or reload this page.",
             icon=":material/rocket_launch:")
    return job


def _progress_table(job: Job) -> str:
    lines = ["| section | progress | last message |", "|---|---:|---|"]
    for section, (fraction, message) in job.progress.items():
        lines.append(f"| {area_label(section)} | {fraction:.0%} | {md(message)} |")
    return "\n".join(lines)


def _open(job: Job, user: Any) -> None:
    try:
        report = AuditReport.from_json(state.audit_store().job_result(job.id, user=user))
    except AuditError as exc:
        st.error(md(state.redact(exc)))
        return
    state.set_current(report, f"job:{job.id}")
    st.switch_page(OVERVIEW_PAGE)


def _job_row(job: Job, user: Any) -> None:
    with st.container(border=True):
        head, actions = st.columns([4, 1])
        head.markdown(f"**Job {job.id}** · {md(job.label)} · started by {md(job.author)} · {_BADGE[job.status]}")
        if job.status in (JobStatus.QUEUED, JobStatus.RUNNING):
            st.progress(min(1.0, job.fraction), text=f"{job.fraction:.0%}" + (" · cancelling" if job.cancel_requested else ""))
            if job.progress:
                st.markdown(_progress_table(job))
            mine = job.author == user.username or user.role is Role.ADMIN
            if mine and not job.cancel_requested and actions.button("Cancel", key=f"job_cancel_{job.id}",
                                                                    icon=":material/stop:"):
                try:
                    state.audit_store().cancel_job(job.id, user=user)
                except AuditError as exc:
                    st.error(md(state.redact(exc)))
                st.rerun()
        elif job.status is JobStatus.DONE:
            if actions.button("Open", key=f"job_open_{job.id}", type="primary", icon=":material/open_in_new:"):
                _open(job, user)
            if job.progress:  # what each section said last: what ran, what was skipped and why
                with st.expander(f"Sections ({len(job.progress)})"):
                    st.markdown(_progress_table(job))
        elif job.error:
            st.error(md(job.error))


@st.fragment(run_every=REFRESH_S)
def _live_jobs(user: Any) -> None:
    store = state.audit_store()
    try:
        store.reap_jobs(stale_after_s=STALE_AFTER_S)
        jobs = store.list_jobs(user=user, limit=10)
    except AuditError as exc:
        st.error(md(state.redact(exc)))
        return
    if not jobs:
        st.caption("No audit jobs yet. An audit you start here runs in the background and shows up in this list.")
        return
    for job in jobs:
        _job_row(job, user)


def jobs_panel(user: Any) -> None:
    """Every user's recent audit jobs, live; the signed-in user cancels their own and opens finished ones."""
    with st.container(border=True):
        st.subheader("Audit jobs")
        _live_jobs(user)
