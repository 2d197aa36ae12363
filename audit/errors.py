"""Errors raised at the boundary of the audit core.

Pages and the CLI catch :class:`AuditError` only; anything else is a bug.
Messages say what was expected and what was found, in plain words.
"""

from __future__ import annotations


class AuditError(ValueError):
    """A problem with the user's input that the user can fix."""


class DataError(AuditError):
    """The data file or table cannot be audited as given."""


class ConfigError(AuditError):
    """An option, threshold or config file is invalid."""


class StoreError(AuditError):
    """The audit database cannot be used (missing, corrupted, foreign, or a rule was broken)."""


class PermissionDenied(StoreError):
    """The current user may not do this."""
