"""The review state a model card shows, read once from the store's review summary.

``AuditStore.review_summary`` returns plain JSON-able values (the dashboard caches on
them); :meth:`Review.from_summary` turns that dict into typed values at the card's
boundary, so the renderers read attributes. Missing entries are tolerated: a card can
be exported with a hand-written review dict.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from audit.errors import AuditError


@dataclass(frozen=True)
class ReviewDecision:
    """One reviewer's decision (``outcome`` is ``approved``, ``changes_requested``, ...) on one run."""

    reviewer: str | None
    outcome: str
    note: str | None
    run: int | None
    date: str

    @property
    def approved(self) -> bool:
        return self.outcome == "approved"


@dataclass(frozen=True)
class ReviewComment:
    """An unresolved comment; ``section`` is a report section key, or None for a general one."""

    author: str | None
    section: str | None
    body: str | None
    date: str


@dataclass(frozen=True)
class Review:
    """Status, decisions (oldest first) and open comments of one stored audit."""

    status: str | None
    audit_id: int | None
    run: int | None
    author: str | None
    decisions: tuple[ReviewDecision, ...] = ()
    open_comments: tuple[ReviewComment, ...] = ()

    @classmethod
    def from_summary(cls, summary: Review | Mapping[str, Any] | None) -> Review | None:
        """The review of ``AuditStore.review_summary(...)``; None for no (or an empty) summary."""
        if summary is None or isinstance(summary, Review):
            return summary
        if not isinstance(summary, Mapping):
            raise AuditError(f"review must be the dict of AuditStore.review_summary; found {type(summary).__name__}")
        if not summary:
            return None
        return cls(
            status=summary.get("status"), audit_id=summary.get("audit_id"), run=summary.get("run"), author=summary.get("author"),
            decisions=tuple(ReviewDecision(reviewer=d.get("reviewer"), outcome=str(d.get("outcome", "?")), note=d.get("note"),
                                           run=d.get("run"), date=str(d.get("date", "?")))
                            for d in summary.get("decisions") or () if isinstance(d, Mapping)),
            open_comments=tuple(ReviewComment(author=c.get("author"), section=c.get("section"), body=c.get("body"),
                                              date=str(c.get("date", "?")))
                                for c in summary.get("open_comments") or () if isinstance(c, Mapping)),
        )

    @property
    def approvals(self) -> tuple[ReviewDecision, ...]:
        return tuple(d for d in self.decisions if d.approved)


def review_status(review: Review | None) -> str:
    """The review status shown on the card: ``not reviewed`` without a review."""
    return "not reviewed" if review is None or review.status is None else str(review.status)
