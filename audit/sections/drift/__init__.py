"""Drift: per-feature statistics, a domain classifier, prediction and label drift, simulated shifts."""

from audit.sections.drift.section import (  # noqa: F401
    audit_drift,
    compare_frames,
    DriftOptions,
    DriftReport,
    DatasetDrift,
    FeatureDrift,
    DomainClassifier,
    SeparatingFeature,
    PerformanceShift,
)

__all__ = ['audit_drift', 'compare_frames', 'DriftOptions', 'DriftReport', 'DatasetDrift', 'FeatureDrift', 'DomainClassifier', 'SeparatingFeature', 'PerformanceShift']
