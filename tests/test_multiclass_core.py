"""Multiclass intake, baselines and performance on seeded data with known truth."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score, log_loss, roc_auc_score

from audit.config import DataOptions, ModelOptions
from audit.data import prepare_dataset
from audit.errors import ConfigError, DataError
from audit.models.baselines import train_models
from audit.sections import performance_multiclass as mc
from audit.sections.performance import PerformanceOptions, PerformanceReport, audit_performance
from conftest import MULTICLASS_LABELS, make_multiclass


def test_three_classes_are_multiclass_with_sorted_codes(multiclass_dataset):
    ds = multiclass_dataset
    assert ds.task == "multiclass" and ds.positive_label is None
    assert ds.classes == tuple(sorted(MULTICLASS_LABELS))
    labels = ds.frame["decision"].to_numpy()
    assert (np.array(ds.classes)[ds.y] == labels).all()


def test_integer_target_with_few_values_is_multiclass_unless_declared_numeric():
    frame = make_multiclass(300)
    frame["decision"] = frame["decision"].map({"approve": 3, "refer": 2, "decline": 1})
    ds = prepare_dataset(frame.copy(), target="decision", sensitive=["group"])
    assert ds.task == "multiclass" and ds.classes == ("1", "2", "3")
    reg = prepare_dataset(frame.copy(), target="decision", sensitive=["group"],
                          options=DataOptions(column_types={"decision": "numeric"}))
    assert reg.task == "regression"


def test_too_many_classes_is_a_clear_error_and_the_maximum_is_configurable():
    frame = make_multiclass(300)
    frame["decision"] = [f"k{i % 6}" for i in range(300)]
    with pytest.raises(DataError, match=r"has 6 classes; at most 5 are supported .*group rare classes"):
        prepare_dataset(frame.copy(), target="decision", sensitive=["group"], options=DataOptions(max_classes=5))
    assert prepare_dataset(frame.copy(), target="decision", sensitive=["group"]).task == "multiclass"
    with pytest.raises(ConfigError, match="data.max_classes"):
        DataOptions(max_classes=2)


def test_a_class_too_rare_to_stratify_is_named():
    frame = make_multiclass(600)
    frame.loc[:3, "decision"] = "escalate"  # 4 rows
    ds = prepare_dataset(frame, target="decision", sensitive=["group"])
    with pytest.raises(DataError, match=r"class 'escalate' \(4 rows\) of target 'decision' has too few rows"):
        train_models(ds, options=ModelOptions(cv_folds=0))


def test_baselines_are_multinomial_and_splits_stratified(multiclass_trained):
    t = multiclass_trained
    assert t.report.selection_metric == "roc_auc" and t.report.classes == t.classes
    logistic = t.pipelines["logistic"].named_steps["model"]
    assert isinstance(logistic, LogisticRegression) and logistic.coef_.shape[0] == 3  # one row per class
    shares = [np.bincount(y, minlength=3) / len(y) for y in (t.y_train, t.y_val, t.y_test)]
    assert np.abs(shares[0] - shares[2]).max() < 0.01 and np.abs(shares[1] - shares[2]).max() < 0.01
    P = t.proba(t.X_test)
    assert P.shape == (len(t.X_test), 3) and np.allclose(P.sum(axis=1), 1)
    assert (t.predict(t.X_test) == P.argmax(axis=1)).all()
    dummy = next(r for r in t.report.leaderboard if r.name == "dummy")
    assert dummy.test_score == pytest.approx(0.5)
    assert t.report.leaderboard[[r.selected for r in t.report.leaderboard].index(True)].test_score > 0.95


def test_weighted_forms_equal_scikit_learn_with_unit_weights():
    rng = np.random.default_rng(3)
    n, k = 400, 4
    y = rng.integers(0, k, n)
    logits = rng.normal(size=(n, k)) + 1.5 * np.eye(k)[y]
    P = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    classes = tuple("abcd")
    point = mc.multiclass_point(y, P, classes, 10)
    weighted = mc.multiclass_weighted(y, P, classes, np.ones((1, n)), 10)
    assert set(point) == set(weighted)
    for key, v in point.items():
        assert weighted[key][0] == pytest.approx(v, abs=1e-9), key
    assert point["roc_auc"] == pytest.approx(roc_auc_score(y, P, multi_class="ovr", average="macro"))
    assert point["log_loss"] == pytest.approx(log_loss(y, P))
    assert point["f1_macro"] == pytest.approx(f1_score(y, P.argmax(1), average="macro"))


def test_performance_report_on_known_data(multiclass_trained):
    t = multiclass_trained
    r = audit_performance(t, options=PerformanceOptions(bootstrap=200, learning_curve_sizes=(0.5, 1.0)), seed=0)
    assert r.task == "multiclass" and r.classes == t.classes
    pred = t.predict(t.X_test)
    assert r.metrics["accuracy"].value == pytest.approx(accuracy_score(t.y_test, pred))
    for name in ("balanced_accuracy", "precision_macro", "recall_weighted", "f1_weighted", "roc_auc", "log_loss", "ece"):
        m = r.metrics[name]
        assert m.low <= m.value <= m.high, name
    cm = np.array(r.confusion_matrix)
    assert cm.shape == (3, 3) and cm.sum() == len(t.y_test)
    assert cm.diagonal().sum() == (pred == t.y_test).sum()
    assert r.class_support == {lab: int((t.y_test == c).sum()) for c, lab in enumerate(t.classes)}
    assert set(r.per_class) == set(t.classes)
    for lab, ms in r.per_class.items():
        assert set(ms) == set(mc.PER_CLASS_METRICS)
        assert ms["recall"].low <= ms["recall"].value <= ms["recall"].high
    assert sum(b.count for b in r.reliability) == len(t.y_test)
    assert r.baseline_primary == pytest.approx(0.5) and r.verdict.status != "fail"
    assert PerformanceReport.from_dict(r.to_dict()).to_dict() == r.to_dict()


def test_a_model_without_signal_fails():
    frame = make_multiclass(1500)
    frame["x1"] = np.random.default_rng(1).random(len(frame))  # the label no longer depends on any feature
    ds = prepare_dataset(frame[["x1", "group", "decision"]], target="decision", sensitive=["group"],
                         options=DataOptions(sensitive_as_features=False))
    t = train_models(ds, options=ModelOptions(cv_folds=0, models=("dummy", "logistic")), seed=0)
    r = audit_performance(t, options=PerformanceOptions(bootstrap=200, learning_curve_sizes=(1.0,)), seed=0)
    assert r.verdict.status == "fail"


@pytest.mark.slow
def test_pipeline_runs_every_section_on_a_multiclass_target():
    from audit.config import AuditConfig
    from audit.pipeline import run_audit
    from audit.report import AuditReport
    from audit.sections import registry

    cfg = AuditConfig(target="decision", sensitive=("group",), models=ModelOptions(cv_folds=0, models=("dummy", "logistic")),
                      section_options={"performance": {"bootstrap": 50, "learning_curve_sizes": [1.0]},
                                       "fairness": {"bootstrap": 50}, "explanations": {"sample_size": 100, "permutation_sample": 100},
                                       "robustness": {"attack_rows": 20, "max_rows": 200},
                                       "privacy": {"target_epsilons": [2.0], "networks": ["logistic"], "epochs": 2, "bootstrap": 20}})
    rep = run_audit(cfg, make_multiclass(800), workers=1)
    assert rep.manifest.task == "multiclass" and rep.performance.classes == tuple(sorted(MULTICLASS_LABELS))
    assert set(rep.manifest.label_counts) == set(MULTICLASS_LABELS)
    timing = {t.name: t for t in rep.manifest.timings}
    for spec in registry.active():
        assert getattr(spec.load(), "SUPPORTS_MULTICLASS", False), spec.name
        assert timing[spec.name].status == "done", (spec.name, timing[spec.name])
    assert rep.population.worst_class in rep.population.stats.classes and not rep.missing()
    assert rep.fairness.worst_class == "approve" and rep.explanations.per_class
    assert AuditReport.from_dict(rep.to_dict()).to_dict() == rep.to_dict()
