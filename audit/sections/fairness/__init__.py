"""Fairness across groups (fairlearn MetricFrame), disparities with intervals, mitigations."""

from audit.sections.fairness.section import (  # noqa: F401
    FairnessOptions,
    FourFifths,
    FairnessReport,
    audit_fairness,
)

__all__ = ['FairnessOptions', 'FourFifths', 'FairnessReport', 'audit_fairness']
