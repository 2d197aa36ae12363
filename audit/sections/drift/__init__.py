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

from audit.sections.drift.section import SUPPORTS_MULTICLASS  # noqa: F401,E402  (read by the pipeline)

__all__ = ['audit_drift', 'compare_frames', 'DriftOptions', 'DriftReport', 'DatasetDrift', 'FeatureDrift', 'DomainClassifier', 'SeparatingFeature', 'PerformanceShift']
