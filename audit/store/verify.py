"""``verify``: the audit trail's chain, its guards, and the stored state checked against it.

The chain (:mod:`audit.store.trail`) makes the trail itself tamper-evident. The
review state lives in other tables, so this module replays the trail and compares:

- each user's role with its ``user.created`` / ``user.role_changed`` events;
- each audit's status and latest run with its created/submitted/run/decision events;
- each run's report (and model card) with the SHA-256 its event recorded;
- each audit's decisions, in order, with its ``audit.decided`` events;
- each comment's author, audit, text hash and resolved flag with its events.

A row changed or deleted behind the store's back shows up as a problem; so does a
trail event whose row is gone. Reports are hashed in full, so this reads every run:
it is the explicit check (``python -m audit users verify``), not the one done at open.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from audit.store import trail
from audit.store.schema import AUDITS, COMMENTS, DECISIONS, EVENTS, RUNS, USERS


def text_sha256(text: str) -> str:
    """SHA-256 of a text's UTF-8 bytes, as recorded in the trail."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class TrailReport:
    """What :func:`verify_store` found; ``ok`` when ``problems`` is empty."""

    events: int
    head: str
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass
class _Expected:
    roles: dict[str, str] = field(default_factory=dict)
    audits: dict[int, dict[str, Any]] = field(default_factory=dict)
    runs: dict[tuple[int, int], dict[str, Any]] = field(default_factory=dict)
    decisions: dict[int, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    comments: dict[int, dict[str, Any]] = field(default_factory=dict)


def _replay(conn: sa.Connection) -> _Expected:
    want = _Expected()
    query = sa.select(EVENTS.c.user_id, EVENTS.c.action, EVENTS.c.audit_id, EVENTS.c.details_json).order_by(EVENTS.c.id)
    for row in conn.execution_options(yield_per=2000).execute(query):
        d, a, action = json.loads(row.details_json), row.audit_id, row.action
        if action in ("user.created", "user.role_changed"):
            want.roles[d["username"]] = d["role"]
        elif action == "audit.created":
            want.audits[a] = {"status": "draft", "latest_run": 1, "author": row.user_id}
            want.runs[(a, 1)] = d
        elif action == "audit.run_added" and a in want.audits:
            want.audits[a].update(status=d["status"], latest_run=d["run"])
            want.runs[(a, d["run"])] = d
        elif action == "audit.submitted" and a in want.audits:
            want.audits[a]["status"] = "in_review"
        elif action == "audit.decided" and a in want.audits:
            want.audits[a]["status"] = d["outcome"]
            want.decisions[a].append({**d, "user_id": row.user_id})
        elif action == "comment.added":
            want.comments[d["comment_id"]] = {"audit_id": a, "user_id": row.user_id, "section": d["section"],
                                              "body_sha256": d.get("body_sha256"), "resolved": False}
        elif action == "comment.edited" and d["comment_id"] in want.comments:
            want.comments[d["comment_id"]]["body_sha256"] = d["body_sha256"]
        elif action in ("comment.resolved", "comment.reopened") and d["comment_id"] in want.comments:
            want.comments[d["comment_id"]]["resolved"] = action == "comment.resolved"
    return want


def _check_users(conn: sa.Connection, want: _Expected) -> list[str]:
    problems, seen = [], set()
    for row in conn.execute(sa.select(USERS.c.username, USERS.c.role)):
        seen.add(row.username)
        if row.username not in want.roles:
            problems.append(f"user {row.username!r} has no user.created event in the trail")
        elif want.roles[row.username] != row.role:
            problems.append(f"user {row.username!r} is {row.role} in the database but "
                            f"{want.roles[row.username]} by the trail")
    problems += [f"user {name!r} is in the trail but missing from the database" for name in want.roles if name not in seen]
    return problems


def _check_audits(conn: sa.Connection, want: _Expected) -> list[str]:
    problems, seen = [], set()
    for row in conn.execute(sa.select(AUDITS.c.id, AUDITS.c.status, AUDITS.c.latest_run, AUDITS.c.author_id)):
        seen.add(row.id)
        expected = want.audits.get(row.id)
        if expected is None:
            problems.append(f"audit {row.id} has no audit.created event in the trail")
            continue
        for column in ("status", "latest_run"):
            if getattr(row, column) != expected[column]:
                problems.append(f"audit {row.id} has {column} {getattr(row, column)!r} in the database but "
                                f"{expected[column]!r} by the trail")
        if row.author_id != expected["author"]:
            problems.append(f"audit {row.id}'s author was changed after it was created")
    problems += [f"audit {a} is in the trail but missing from the database" for a in want.audits if a not in seen]
    return problems


def _check_runs(conn: sa.Connection, want: _Expected) -> list[str]:
    problems, seen = [], set()
    query = sa.select(RUNS.c.audit_id, RUNS.c.run, RUNS.c.report_json, RUNS.c.model_card_json)
    for row in conn.execution_options(yield_per=50).execute(query):
        key = (row.audit_id, row.run)
        seen.add(key)
        expected = want.runs.get(key)
        if expected is None:
            problems.append(f"run {row.run} of audit {row.audit_id} has no event in the trail")
            continue
        if "report_sha256" in expected and expected["report_sha256"] != text_sha256(row.report_json):
            problems.append(f"the report of run {row.run} of audit {row.audit_id} was changed after it was saved")
        card = None if row.model_card_json is None else text_sha256(row.model_card_json)
        if "model_card_sha256" in expected and expected["model_card_sha256"] != card:
            problems.append(f"the model card of run {row.run} of audit {row.audit_id} was changed after it was saved")
    problems += [f"run {r} of audit {a} is in the trail but missing from the database"
                 for a, r in want.runs if (a, r) not in seen]
    return problems


def _check_decisions(conn: sa.Connection, want: _Expected) -> list[str]:
    stored: dict[int, list[Any]] = defaultdict(list)
    for row in conn.execute(sa.select(DECISIONS).order_by(DECISIONS.c.id)):
        stored[row.audit_id].append(row)
    problems = []
    for audit_id in sorted(set(stored) | set(want.decisions)):
        rows, events = stored.get(audit_id, []), want.decisions.get(audit_id, [])
        if len(rows) != len(events):
            problems.append(f"audit {audit_id} has {len(rows)} decision(s) in the database but "
                            f"{len(events)} in the trail")
        for row, event in zip(rows, events):
            if (row.outcome, row.run, row.note, row.user_id) != (event["outcome"], event["run"], event["note"],
                                                                  event["user_id"]):
                problems.append(f"decision {row.id} on audit {audit_id} differs from what the trail recorded")
    return problems


def _check_comments(conn: sa.Connection, want: _Expected) -> list[str]:
    problems, seen = [], set()
    for row in conn.execute(sa.select(COMMENTS)):
        seen.add(row.id)
        expected = want.comments.get(row.id)
        if expected is None:
            problems.append(f"comment {row.id} has no comment.added event in the trail")
            continue
        if (row.audit_id, row.user_id, row.section) != (expected["audit_id"], expected["user_id"], expected["section"]):
            problems.append(f"comment {row.id}'s audit, author or section differs from the trail")
        if expected["body_sha256"] is not None and expected["body_sha256"] != text_sha256(row.body):
            problems.append(f"comment {row.id}'s text was changed without an edit in the trail")
        if bool(row.resolved) != expected["resolved"]:
            problems.append(f"comment {row.id} is {'resolved' if row.resolved else 'open'} in the database but "
                            f"{'resolved' if expected['resolved'] else 'open'} by the trail")
    problems += [f"comment {c} is in the trail but missing from the database" for c in want.comments if c not in seen]
    return problems


def verify_store(conn: sa.Connection) -> TrailReport:
    """Check the chain, the guards and every table the trail describes, in one read transaction."""
    chain, count, head = trail.chain_problems(conn)
    want = _replay(conn)
    problems = trail.guard_problems(conn) + chain
    for check in (_check_users, _check_audits, _check_runs, _check_decisions, _check_comments):
        problems += check(conn, want)
    return TrailReport(events=count, head=head, problems=tuple(problems))
