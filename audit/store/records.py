"""The record types the audit store returns: roles, statuses and frozen rows.

Split from :mod:`audit.store.schema` (the tables and how a database opens); that module
re-exports them, so ``from audit.store.schema import User`` keeps working.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


class Role(enum.StrEnum):
    """What an account may do: viewers read and comment, reviewers also decide, admins also manage."""

    VIEWER = "viewer"
    REVIEWER = "reviewer"
    ADMIN = "admin"


class Status(enum.StrEnum):
    """Where an audit is in the review workflow."""

    DRAFT = "draft"
    IN_REVIEW = "in_review"
    APPROVED = "approved"
    CHANGES_REQUESTED = "changes_requested"


class JobStatus(enum.StrEnum):
    """Where a background audit job is; the last four are final."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"
    INTERRUPTED = "interrupted"


class Outcome(enum.StrEnum):
    """A reviewer's decision; each value is also the status the audit moves to."""

    APPROVED = "approved"
    CHANGES_REQUESTED = "changes_requested"


@dataclass(frozen=True)
class User:
    """An account, as returned by ``authenticate`` and passed back to every other call."""

    id: int
    username: str
    role: Role
    created_at: str
    # Bumped by a password reset or role change: a User holding an older value is refused,
    # which ends that user's existing sessions.
    session_version: int


@dataclass(frozen=True)
class AuditSummary:
    """One audit without its (possibly large) report JSON, for listings."""

    id: int
    dataset_name: str
    dataset_sha256: str
    author: str
    status: Status
    run: int
    created_at: str
    updated_at: str


@dataclass(frozen=True)
class AuditRecord:
    """One run of an audit exactly as stored; ``report_json`` is the saved string, unchanged."""

    id: int
    dataset_name: str
    dataset_sha256: str
    author: str
    status: Status
    run: int
    latest_run: int
    created_at: str
    updated_at: str
    run_created_at: str
    report_json: str
    model_card_json: str | None


@dataclass(frozen=True)
class Decision:
    """A reviewer's decision on one run of an audit."""

    id: int
    audit_id: int
    run: int
    reviewer: str
    outcome: Outcome
    note: str
    created_at: str


@dataclass(frozen=True)
class Comment:
    """A comment on a report section; ``parent_id`` is set when it answers another comment."""

    id: int
    audit_id: int
    author: str
    section: str
    body: str
    parent_id: int | None
    resolved: bool
    resolved_by: str | None
    resolved_at: str | None
    created_at: str


@dataclass(frozen=True)
class Event:
    """One entry of the append-only audit trail; ``actor`` is None for the local operator (CLI)."""

    id: int
    created_at: str
    actor: str | None
    action: str
    audit_id: int | None
    details: Mapping[str, Any]
