"""Robustness: noise, corruption and missing-value curves, flip tests, adversarial attacks (ART)."""

from audit.sections.robustness.section import (  # noqa: F401
    audit_robustness,
    RobustnessOptions,
    RobustnessReport,
    Curve,
    CurvePoint,
    FlipTest,
    GroupFlip,
    EdgeCases,
    EdgeSlice,
    AttackReport,
    AttackResult,
    BudgetPoint,
    FeatureChange,
)

from audit.sections.robustness.section import SUPPORTS_MULTICLASS  # noqa: F401,E402  (read by the pipeline)

__all__ = ['audit_robustness', 'RobustnessOptions', 'RobustnessReport', 'Curve', 'CurvePoint', 'FlipTest', 'GroupFlip', 'EdgeCases', 'EdgeSlice', 'AttackReport', 'AttackResult', 'BudgetPoint', 'FeatureChange']
