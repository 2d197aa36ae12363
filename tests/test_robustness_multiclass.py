"""Multiclass robustness: a flip is a change of predicted class; known flip rates on seeded data."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from audit.sections.robustness.section import RobustnessOptions, RobustnessReport, audit_robustness
from conftest import TOP_CLASS_GAP

_OPTS = RobustnessOptions(attack_rows=60, max_rows=600, repeats=1)


@pytest.fixture(scope="module")
def report(multiclass_trained):
    t = dataclasses.replace(multiclass_trained, selected="logistic")
    return t, audit_robustness(t, options=_OPTS, seed=0)


def test_flipping_the_group_changes_the_class_of_the_rows_between_the_two_thresholds(report):
    t, r = report
    assert r.flip_definition == "the predicted class changes" and r.metric == "accuracy"
    (flip,) = [f for f in r.flip_tests if f.column == "group"]
    # Only rows with x1 between 2/3 and 2/3 + gap change class with the group: a share of the gap.
    assert flip.flip_rate == pytest.approx(TOP_CLASS_GAP, abs=0.05)
    assert r.verdict.status == "fail" and any("changing group" in m for m in r.verdict.reasons)


def test_curves_start_at_zero_and_grow(report):
    _, r = report
    assert r.noise.points[0].flip_rate == 0 and r.noise.points[-1].flip_rate > r.noise.points[1].flip_rate
    assert r.clean_metric > 0.95
    assert r.missing_values.points[-1].flip_rate > 0
    assert RobustnessReport.from_dict(r.to_dict()).to_dict() == r.to_dict()


def test_untargeted_attacks_flip_rows_near_a_class_boundary(report):
    t, r = report
    a = r.attacks
    assert a.applicable and a.fixed_values_changed == 0
    X = t.X_test.iloc[list(a.rows)]
    edges = np.where(X["group"].to_numpy() == "B", 2 / 3 + TOP_CLASS_GAP, 2 / 3)
    x1 = X["x1"].to_numpy()
    nearest = np.minimum(np.abs(x1 - 1 / 3), np.abs(x1 - edges))  # distance to the nearest class boundary
    sd = a.feature_sd["x1"]
    for res in (a.decision_based, a.gradient):
        for p in res.success_by_budget:
            within = np.mean(nearest <= p.budget * sd)
            # x1 alone decides the class, so success is the share of rows that close to a boundary.
            assert p.success_rate == pytest.approx(within, abs=0.12), (res.name, p.budget)
