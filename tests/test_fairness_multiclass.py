"""Multiclass fairness: one-vs-rest per class on seeded data with a known top-class gap."""

from __future__ import annotations

import numpy as np
import pytest

from audit.config import ModelOptions
from audit.data import prepare_dataset
from audit.models.baselines import train_models
from audit.sections.fairness import FairnessOptions, FairnessReport, audit_fairness
from conftest import TOP_CLASS_GAP, make_multiclass


@pytest.fixture(scope="module")
def report(multiclass_trained):
    return audit_fairness(multiclass_trained, options=FairnessOptions(bootstrap=300), seed=0)


def test_known_top_class_gap_is_found_within_its_interval(report, multiclass_trained):
    dp = report.per_class["approve"].disparities_adequate["group"]["demographic_parity_difference"]
    assert dp.low <= TOP_CLASS_GAP <= dp.high
    assert dp.low > 0  # and it is distinguishable from no gap
    rows = {r.group: r for r in report.per_class["approve"].groups["group"]}
    assert rows["A"].metrics["selection_rate"].value > rows["B"].metrics["selection_rate"].value
    # "decline" was built identical in both groups: its interval contains 0.
    same = report.per_class["decline"].disparities_adequate["group"]["demographic_parity_difference"]
    assert same.low <= 0 <= same.high or same.value < 0.05


def test_per_class_rates_match_one_vs_rest_by_hand(report, multiclass_trained):
    t = multiclass_trained
    pred, y = t.predict(t.X_test), t.y_test
    g = t.groups_test["group"].to_numpy()
    for c, lab in enumerate(t.classes):
        for row in report.per_class[lab].groups["group"]:
            m = g == row.group
            assert row.metrics["selection_rate"].value == pytest.approx(np.mean(pred[m] == c))
            assert row.metrics["tpr"].value == pytest.approx(np.mean(pred[m & (y == c)] == c))
            assert row.metrics["fpr"].value == pytest.approx(np.mean(pred[m & (y != c)] == c))
            assert "accuracy" not in row.metrics  # one-vs-rest accuracy is not the model's accuracy
            assert "equalized_odds_difference" in report.per_class[lab].disparities_adequate["group"]
    for row in report.group_accuracy["group"]:
        m = g == row.group
        acc = row.metrics["accuracy"]
        assert acc.value == pytest.approx(np.mean(pred[m] == y[m])) and acc.low <= acc.value <= acc.high


def test_verdict_names_the_worst_class_and_binary_mitigations_are_not_run(report):
    assert report.worst_class == "approve" and report.classes == ("approve", "decline", "refer")
    assert report.verdict.status in ("warn", "fail")
    assert report.verdict.reasons[0].startswith("worst class 'approve'")
    top = {r.group: r.metrics["selection_rate"] for r in report.groups["group"]}  # top level = the worst class
    assert top == {r.group: r.metrics["selection_rate"] for r in report.per_class["approve"].groups["group"]}
    assert report.disparities_adequate == report.per_class["approve"].disparities_adequate
    by_name = {v.name: v for v in report.mitigations}
    assert by_name["unmitigated"].status == "done"
    for n in ("expgrad_dp", "expgrad_eo", "threshold_dp", "threshold_eo", "reweighing"):
        assert by_name[n].status == "skipped" and "binary" in by_name[n].detail and not by_name[n].metrics
    assert report.unawareness.status == "done"
    # Without the group, the model cannot shift the threshold by group: the approve gap shrinks.
    unaware = report.unawareness.disparities["group"]["demographic_parity_difference"].value
    assert unaware < report.disparities_adequate["group"]["demographic_parity_difference"].value
    assert FairnessReport.from_dict(report.to_dict()).to_dict() == report.to_dict()


def test_no_gap_passes_and_small_groups_are_excluded():
    frame = make_multiclass(2000, seed=4, gap=0.0)
    frame.loc[:40, "group"] = "C"  # a small third group
    frame["sex"] = np.random.default_rng(4).choice(["F", "M"], size=len(frame))
    ds = prepare_dataset(frame, target="decision", sensitive=["group", "sex"])
    t = train_models(ds, options=ModelOptions(cv_folds=0, models=("dummy", "logistic")), seed=0)
    r = audit_fairness(t, options=FairnessOptions(bootstrap=200, mitigations=()), seed=0)
    assert "C" in r.excluded_groups["group"]
    assert set(r.keys) == {"group", "sex", "group x sex"}
    for lab in t.classes:  # intersections per class too, small joint groups excluded from the verdict
        assert set(r.per_class[lab].disparities_adequate) == set(r.keys)
        assert {g.group for g in r.per_class[lab].groups["group x sex"] if not g.adequate} >= {"C x F", "C x M"}
    for lab in t.classes:
        for key in r.keys:
            dp = r.per_class[lab].disparities_adequate[key]["demographic_parity_difference"]
            assert dp.value < 0.1, (lab, key)
    assert r.verdict.status == "pass", r.verdict.reasons
