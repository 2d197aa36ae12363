"""The audit store: audits, runs, users, reviews, comments and the trail (SQLAlchemy, Alembic)."""

from audit.store.core import (  # noqa: F401
    AuditStore,
    AuditRecord,
    AuditSummary,
    Comment,
    Decision,
    Event,
    Job,
    JobStatus,
    Outcome,
    Role,
    Status,
    User,
    MIN_PASSWORD_LENGTH,
    MetricDelta,
    ValueChange,
    SectionComparison,
    ReportComparison,
    compare_reports,
)

__all__ = ['AuditStore', 'AuditRecord', 'AuditSummary', 'Comment', 'Decision', 'Event', 'Job', 'JobStatus', 'Outcome', 'Role', 'Status', 'User', 'MIN_PASSWORD_LENGTH', 'MetricDelta', 'ValueChange', 'SectionComparison', 'ReportComparison', 'compare_reports']
