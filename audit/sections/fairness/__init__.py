"""Fairness across groups (fairlearn MetricFrame), disparities with intervals, mitigations."""

from audit.sections.fairness.section import (  # noqa: F401
    FairnessOptions,
    FourFifths,
    FairnessReport,
    audit_fairness,
)

from audit.sections.fairness.section import SUPPORTS_MULTICLASS  # noqa: F401,E402  (read by the pipeline)

__all__ = ['FairnessOptions', 'FourFifths', 'FairnessReport', 'audit_fairness']
