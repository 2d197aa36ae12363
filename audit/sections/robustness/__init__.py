"""Robustness: noise, corruption and missing-value curves, flip tests, adversarial attacks (ART)."""

from audit.sections.robustness.attacks import AttackReport, AttackResult, BudgetPoint, FeatureChange  # noqa: F401
from audit.sections.robustness.perturb import Curve, CurvePoint  # noqa: F401
from audit.sections.robustness.probes import EdgeCases, EdgeSlice, FlipTest, GroupFlip  # noqa: F401
from audit.sections.robustness.section import RobustnessOptions, RobustnessReport, audit_robustness  # noqa: F401

from audit.sections.robustness.section import SUPPORTS_MULTICLASS  # noqa: F401,E402  (read by the pipeline)

__all__ = ['audit_robustness', 'RobustnessOptions', 'RobustnessReport', 'Curve', 'CurvePoint', 'FlipTest', 'GroupFlip', 'EdgeCases', 'EdgeSlice', 'AttackReport', 'AttackResult', 'BudgetPoint', 'FeatureChange']
