"""Privacy: DP-SGD training (Opacus) and measured membership-inference leakage."""

from audit.sections.privacy.section import (  # noqa: F401
    PrivacyOptions,
    PrivacyReport,
    ModelPrivacy,
    GroupMetrics,
    AttackResult,
    audit_privacy,
    compute_epsilon,
)

from audit.sections.privacy.section import SUPPORTS_MULTICLASS  # noqa: F401,E402  (read by the pipeline)

__all__ = ['PrivacyOptions', 'PrivacyReport', 'ModelPrivacy', 'GroupMetrics', 'AttackResult', 'audit_privacy', 'compute_epsilon']
