"""Audits, accounts, reviews, comments and an append-only trail in a SQL database.

:class:`AuditStore` is the entry point. It takes a SQLite path or any SQLAlchemy
URL (default ``$AUDIT_DB_URL``, else ``./audit.db``) and returns frozen dataclasses
of plain values, never database rows. :func:`compare_reports` diffs two reports.

Rules, enforced here rather than in the pages so that the CLI obeys them too:

- Every audit read or write takes ``user`` (a :class:`User` from
  :meth:`AuditStore.authenticate`); ``None`` raises :class:`PermissionDenied`. The
  role is re-read from the database, so a demoted user cannot act on a stale object.
- Viewers read and comment. Reviewers and admins also save audits and decide.
  Only the author (or an admin) submits an audit or adds a run to it.
- Decisions are taken on audits ``in_review`` only and name the run decided on, which
  must be the latest. Neither the audit's author nor the author of that run may
  approve it (they may request changes, which only delays it).
- A comment is resolved by its author, or by a reviewer or admin who did not write the audit.
- ``draft -> in_review -> approved | changes_requested``; a new run moves a
  reviewed audit back to ``in_review``, because an approval covers one run.
- Account functions (``create_user``, ``reset_password``, ``list_users``) take an
  optional ``actor``: an admin, or ``None`` for the local operator of the users CLI,
  who can open the database file anyway.
- Every change appends an :class:`Event` to a hash chain (:mod:`audit.store.trail`);
  the API cannot edit or delete one, triggers make the database refuse it too, and
  the store will not open a database whose chain is broken or triggers are gone.
  :func:`audit.store.verify.verify_store` also checks the audits, runs, decisions,
  comments and roles against the trail (``python -m audit users verify``).

Each call is one transaction. SQLite runs in WAL mode and writers take the write
lock up front (``BEGIN IMMEDIATE``), waiting up to ``busy_timeout_s`` for it.
"""

from __future__ import annotations

import json
import re
from typing import Any

import sqlalchemy as sa

from audit.store.accounts import (
    MIN_PASSWORD_LENGTH, SignInLimits, TooManyAttempts, append_event, check_enum, check_text, now,
)
from audit.store.verify import text_sha256
from audit.store.comments import CommentStore
from audit.store.sessions import SessionPolicy, SessionStore  # noqa: F401
from audit.store.jobs import Job, JobStatus, JobStore
from audit.store.sso import SsoStore, UnknownIdentities  # noqa: F401
from audit.store.compare import MetricDelta, ReportComparison, SectionComparison, ValueChange, compare_reports
from audit.store.schema import (
    AUDITS, DECISIONS, EVENTS, RUNS, USERS,
    AuditRecord, AuditSummary, Comment, Decision, Event, Outcome, Role, Status, User,
)
from audit.errors import PermissionDenied, StoreError

__all__ = [
    "AuditStore", "AuditRecord", "AuditSummary", "Comment", "Decision", "Event", "Outcome", "Role",
    "Status", "User", "MIN_PASSWORD_LENGTH", "MetricDelta", "ValueChange", "SectionComparison",
    "ReportComparison", "compare_reports", "SignInLimits", "TooManyAttempts", "Job", "JobStatus",
]

_SHA256 = re.compile(r"[0-9a-f]{64}")
_AUTHOR, _ACTOR = USERS.alias("author"), USERS.alias("actor")
_SUMMARY = sa.select(
    AUDITS.c.id, AUDITS.c.dataset_name, AUDITS.c.dataset_sha256, _AUTHOR.c.username.label("author"),
    AUDITS.c.status, AUDITS.c.latest_run, AUDITS.c.created_at, AUDITS.c.updated_at,
).join(_AUTHOR, _AUTHOR.c.id == AUDITS.c.author_id)


def _json_object(value: Any, name: str, *, optional: bool = False) -> str | None:
    if value is None and optional:
        return None
    if not isinstance(value, str):
        raise StoreError(f"{name} must be the JSON text of an object, got {type(value).__name__}")
    try:
        parsed = json.loads(value)
    except ValueError as err:
        raise StoreError(f"{name} is not valid JSON ({err})") from err
    if not isinstance(parsed, dict):
        raise StoreError(f"{name} must be a JSON object, got a JSON {type(parsed).__name__}")
    return value


def _sha(value: Any) -> str:
    sha = value.lower() if isinstance(value, str) else value
    if not isinstance(sha, str) or not _SHA256.fullmatch(sha):
        raise StoreError(f"dataset_sha256 must be 64 hexadecimal characters, got {value!r}")
    return sha


def _run_digests(report_json: str, model_card_json: str | None) -> dict[str, str | None]:
    return {"report_sha256": text_sha256(report_json),
            "model_card_sha256": None if model_card_json is None else text_sha256(model_card_json)}


def _summary(row: Any) -> AuditSummary:
    return AuditSummary(id=row.id, dataset_name=row.dataset_name, dataset_sha256=row.dataset_sha256,
                        author=row.author, status=Status(row.status), run=row.latest_run,
                        created_at=row.created_at, updated_at=row.updated_at)


class AuditStore(JobStore, CommentStore, SessionStore, SsoStore):
    """Facade over the audit database; one instance may be shared between threads.

    Parameters
    ----------
    url_or_path : str or path-like, optional
        SQLite file path or SQLAlchemy URL. Default ``$AUDIT_DB_URL``, else ``./audit.db``.
    busy_timeout_s : float, default 30.0
        How long a SQLite writer waits for another writer before failing.
    password_hasher : argon2.PasswordHasher, optional
        Argon2 parameters for new hashes; default ``PasswordHasher()``. Older
        hashes are upgraded at the next successful sign-in.

    Raises
    ------
    StoreError
        If the database cannot be opened, is corrupted, is not an audit database, or
        has a newer schema than this package knows.
    """

    # -- helpers taking the caller's connection, so a call stays one transaction --------

    def _owned_audit(self, conn: sa.Connection, audit_id: int, user: User | None, doing: str) -> tuple[User, Any]:
        me = self._current(conn, user)
        row = self._audit(conn, audit_id, lock=True)
        if row.author_id != me.id and me.role is not Role.ADMIN:
            raise PermissionDenied(f"only the author of audit {audit_id} or an admin may {doing}")
        return me, row

    def _add_run(self, conn: sa.Connection, *, audit_id: int, run: int, user_id: int, report_json: str,
                 model_card_json: str | None, dataset_sha256: str) -> None:
        conn.execute(sa.insert(RUNS).values(
            audit_id=audit_id, run=run, report_json=report_json, model_card_json=model_card_json,
            dataset_sha256=dataset_sha256, created_by=user_id, created_at=now()))

    @staticmethod
    def _load_summary(conn: sa.Connection, audit_id: int) -> AuditSummary:
        return _summary(conn.execute(_SUMMARY.where(AUDITS.c.id == audit_id)).one())

    @staticmethod
    def _decisions(conn: sa.Connection, audit_id: int) -> tuple[Decision, ...]:
        rows = conn.execute(sa.select(DECISIONS, _ACTOR.c.username).join(_ACTOR, _ACTOR.c.id == DECISIONS.c.user_id)
                            .where(DECISIONS.c.audit_id == audit_id).order_by(DECISIONS.c.id)).all()
        return tuple(Decision(id=r.id, audit_id=r.audit_id, run=r.run, reviewer=r.username,
                              outcome=Outcome(r.outcome), note=r.note, created_at=r.created_at) for r in rows)

    # -- audits and the review workflow --------------------------------------------------

    def create_audit(self, *, user: User | None, dataset_name: str, dataset_sha256: str,
                     report_json: str, model_card_json: str | None = None) -> AuditSummary:
        """Save a new audit as a ``draft`` with run 1, all in one transaction.

        Parameters
        ----------
        user : User
            The author; a reviewer or admin.
        dataset_name : str
            What was audited, 1 to 255 characters.
        dataset_sha256 : str
            The data file's SHA-256, 64 hex characters.
        report_json : str
            JSON text of an object; stored and returned byte-for-byte.
        model_card_json : str, optional
            JSON text of the model card narrative.

        Returns
        -------
        AuditSummary

        Raises
        ------
        PermissionDenied
            If there is no user or the user is a viewer.
        StoreError
            If an argument is invalid.
        """
        dataset_name = check_text(dataset_name, "dataset_name", max_len=255)
        dataset_sha256 = _sha(dataset_sha256)
        report_json = _json_object(report_json, "report_json")
        model_card_json = _json_object(model_card_json, "model_card_json", optional=True)
        with self._tx(write=True) as conn:
            author = self._current(conn, user)
            if author.role is Role.VIEWER:
                raise PermissionDenied(f"{author.username} is a viewer; viewers may read and comment "
                                       "but not save audits")
            stamp = now()
            audit_id = conn.execute(sa.insert(AUDITS).values(
                dataset_name=dataset_name, dataset_sha256=dataset_sha256, author_id=author.id,
                status=Status.DRAFT.value, latest_run=1, created_at=stamp, updated_at=stamp,
            )).inserted_primary_key[0]
            self._add_run(conn, audit_id=audit_id, run=1, user_id=author.id, report_json=report_json,
                          model_card_json=model_card_json, dataset_sha256=dataset_sha256)
            append_event(conn, user_id=author.id, action="audit.created", audit_id=audit_id,
                         dataset_name=dataset_name, dataset_sha256=dataset_sha256, **_run_digests(
                             report_json, model_card_json))
            return self._load_summary(conn, audit_id)

    def add_run(self, audit_id: int, *, user: User | None, report_json: str,
                model_card_json: str | None = None, dataset_sha256: str | None = None) -> AuditSummary:
        """Store a new run of an audit; a reviewed audit goes back to ``in_review``.

        Only the author or an admin may add a run; a draft stays a draft.
        ``dataset_sha256`` defaults to the previous run's. Earlier runs stay readable
        through :meth:`get_audit`. Raises as :meth:`create_audit`.
        """
        report_json = _json_object(report_json, "report_json")
        model_card_json = _json_object(model_card_json, "model_card_json", optional=True)
        with self._tx(write=True) as conn:
            me, row = self._owned_audit(conn, audit_id, user, "add a run to it")
            sha = row.dataset_sha256 if dataset_sha256 is None else _sha(dataset_sha256)
            run = row.latest_run + 1
            status = Status.DRAFT if row.status == Status.DRAFT else Status.IN_REVIEW
            self._add_run(conn, audit_id=audit_id, run=run, user_id=me.id, report_json=report_json,
                          model_card_json=model_card_json, dataset_sha256=sha)
            conn.execute(sa.update(AUDITS).where(AUDITS.c.id == audit_id).values(
                latest_run=run, dataset_sha256=sha, status=status.value, updated_at=now()))
            append_event(conn, user_id=me.id, action="audit.run_added", audit_id=audit_id, run=run,
                         status=status.value, dataset_sha256=sha, **_run_digests(report_json, model_card_json))
            return self._load_summary(conn, audit_id)

    def submit_for_review(self, audit_id: int, *, user: User | None) -> AuditSummary:
        """Move a ``draft`` audit to ``in_review`` (author or admin only)."""
        with self._tx(write=True) as conn:
            me, row = self._owned_audit(conn, audit_id, user, "submit it")
            if row.status != Status.DRAFT:
                raise StoreError(f"audit {audit_id} is {row.status}, only a draft can be submitted; "
                                 "add a run to send a reviewed audit back to review")
            conn.execute(sa.update(AUDITS).where(AUDITS.c.id == audit_id)
                         .values(status=Status.IN_REVIEW.value, updated_at=now()))
            append_event(conn, user_id=me.id, action="audit.submitted", audit_id=audit_id, run=row.latest_run)
            return self._load_summary(conn, audit_id)

    def decide(self, audit_id: int, *, user: User | None, run: int, outcome: Outcome | str,
               note: str = "") -> Decision:
        """Approve or request changes on the run of an audit that is ``in_review``.

        Parameters
        ----------
        audit_id : int
        user : User
            A reviewer or admin; when approving, neither the audit's author nor the
            author of the run under review.
        run : int
            The run the reviewer looked at; refused unless it is the latest run, so a
            decision never covers a run its reviewer did not see.
        outcome : Outcome or {"approved", "changes_requested"}
            Also the audit's new status.
        note : str, default ""
            The reviewer's reasoning, stored verbatim.

        Returns
        -------
        Decision

        Raises
        ------
        PermissionDenied
            If the user is a viewer, or wrote the audit or the run and tries to approve.
        StoreError
            If the audit is not in review, ``run`` is not its latest run, or an argument
            is invalid.
        """
        outcome = check_enum(Outcome, outcome, "outcome")
        if not isinstance(run, int) or isinstance(run, bool):
            raise StoreError(f"run must be the number of the run you reviewed, got {run!r}")
        note = check_text(note, "note", max_len=20_000, allow_empty=True)
        with self._tx(write=True) as conn:
            me = self._current(conn, user)
            if me.role is Role.VIEWER:
                raise PermissionDenied(f"{me.username} is a viewer; only reviewers and admins may decide")
            row = self._audit(conn, audit_id, lock=True)
            if run != row.latest_run:
                raise StoreError(f"audit {audit_id} has run {row.latest_run}, newer than run {run} you "
                                 "reviewed; open the latest run and decide on it"
                                 if run < row.latest_run else f"audit {audit_id} has no run {run}")
            if outcome is Outcome.APPROVED:
                run_author = conn.execute(sa.select(RUNS.c.created_by).where(
                    RUNS.c.audit_id == audit_id, RUNS.c.run == run)).scalar_one()
                if me.id in (row.author_id, run_author):
                    whose = "audit" if row.author_id == me.id else f"run {run} of audit"
                    raise PermissionDenied(f"{me.username} is the author of {whose} {audit_id} and cannot "
                                           "approve it; another reviewer must")
            if row.status != Status.IN_REVIEW:
                raise StoreError(f"audit {audit_id} is {row.status}; decisions are taken on audits in_review")
            stamp = now()
            decision_id = conn.execute(sa.insert(DECISIONS).values(
                audit_id=audit_id, run=row.latest_run, user_id=me.id, outcome=outcome.value, note=note,
                created_at=stamp)).inserted_primary_key[0]
            conn.execute(sa.update(AUDITS).where(AUDITS.c.id == audit_id)
                         .values(status=outcome.value, updated_at=stamp))
            append_event(conn, user_id=me.id, action="audit.decided", audit_id=audit_id,
                         run=row.latest_run, outcome=outcome.value, note=note, decision_id=decision_id)
        return Decision(id=decision_id, audit_id=audit_id, run=row.latest_run, reviewer=me.username,
                        outcome=outcome, note=note, created_at=stamp)

    # -- reading -------------------------------------------------------------------------

    def list_audits(self, *, user: User | None, dataset: str | None = None, status: Status | str | None = None,
                    author: str | None = None, limit: int | None = None) -> tuple[AuditSummary, ...]:
        """Audits, newest first.

        Parameters
        ----------
        user : User
        dataset : str, optional
            Matches the dataset name or its SHA-256.
        status : Status or str, optional
        author : str, optional
            The author's username.
        limit : int, optional
            At most this many.
        """
        query = _SUMMARY
        if dataset is not None:
            query = query.where(sa.or_(AUDITS.c.dataset_name == dataset,
                                       AUDITS.c.dataset_sha256 == str(dataset).lower()))
        if status is not None:
            query = query.where(AUDITS.c.status == check_enum(Status, status, "status").value)
        if author is not None:
            query = query.where(_AUTHOR.c.username == author)
        query = query.order_by(AUDITS.c.created_at.desc(), AUDITS.c.id.desc()).limit(limit)
        with self._tx(write=False) as conn:
            self._current(conn, user)
            return tuple(_summary(r) for r in conn.execute(query))

    def get_audit(self, audit_id: int, *, user: User | None, run: int | None = None) -> AuditRecord:
        """One run of an audit (default the latest) with its report JSON exactly as saved."""
        with self._tx(write=False) as conn:
            self._current(conn, user)
            audit = self._audit(conn, audit_id)
            row = conn.execute(
                _SUMMARY.add_columns(RUNS.c.run, RUNS.c.report_json, RUNS.c.model_card_json,
                                     RUNS.c.created_at.label("run_created_at"), RUNS.c.dataset_sha256.label("run_sha"))
                .join(RUNS, RUNS.c.audit_id == AUDITS.c.id)
                .where(AUDITS.c.id == audit_id, RUNS.c.run == (audit.latest_run if run is None else run))).first()
        if row is None:
            raise StoreError(f"audit {audit_id} has runs 1 to {audit.latest_run}, not {run!r}")
        return AuditRecord(id=row.id, dataset_name=row.dataset_name, dataset_sha256=row.run_sha, author=row.author,
                           status=Status(row.status), run=row.run, latest_run=row.latest_run,
                           created_at=row.created_at, updated_at=row.updated_at, run_created_at=row.run_created_at,
                           report_json=row.report_json, model_card_json=row.model_card_json)

    def list_decisions(self, audit_id: int, *, user: User | None) -> tuple[Decision, ...]:
        """Decisions on an audit, oldest first."""
        with self._tx(write=False) as conn:
            self._current(conn, user)
            self._audit(conn, audit_id)
            return self._decisions(conn, audit_id)

    def list_events(self, *, user: User | None, audit_id: int | None = None) -> tuple[Event, ...]:
        """The audit trail, oldest first, optionally for one audit; any signed-in user may read it."""
        query = (sa.select(EVENTS, _ACTOR.c.username).outerjoin(_ACTOR, _ACTOR.c.id == EVENTS.c.user_id)
                 .order_by(EVENTS.c.id))
        if audit_id is not None:
            query = query.where(EVENTS.c.audit_id == audit_id)
        with self._tx(write=False) as conn:
            self._current(conn, user)
            rows = conn.execute(query).all()
        return tuple(Event(id=r.id, created_at=r.created_at, actor=r.username, action=r.action,
                           audit_id=r.audit_id, details=json.loads(r.details_json)) for r in rows)

    def review_summary(self, audit_id: int, *, user: User | None) -> dict[str, Any]:
        """Review state for the model card exporter, as plain JSON-able values.

        Returns
        -------
        dict
            ``audit_id``, ``status``, ``run``, ``author``; ``decisions`` (reviewer,
            outcome, note, run, date) oldest first; ``open_comments`` (id, author,
            section, body, parent_id, date) for unresolved comments only.
        """
        with self._tx(write=False) as conn:  # one snapshot, so status and decisions agree
            self._current(conn, user)
            self._audit(conn, audit_id)
            audit = self._load_summary(conn, audit_id)
            decisions = self._decisions(conn, audit_id)
            comments = self._comments(conn, audit_id, open_only=True)
        return {
            "audit_id": audit.id, "status": audit.status.value, "run": audit.run, "author": audit.author,
            "decisions": [{"reviewer": d.reviewer, "outcome": d.outcome.value, "note": d.note, "run": d.run,
                           "date": d.created_at} for d in decisions],
            "open_comments": [{"id": c.id, "author": c.author, "section": c.section, "body": c.body,
                               "parent_id": c.parent_id, "date": c.created_at} for c in comments],
        }
