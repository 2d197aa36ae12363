"""Performance: sklearn-equal point estimates, vectorised bootstrap, calibration, verdicts."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score

from audit.errors import ConfigError
from audit.sections.performance import (
    PerformanceOptions,
    PerformanceReport,
    _binary_point,
    _binary_weighted,
    audit_performance,
    expected_calibration_error,
)
from audit.stats import bootstrap_weights, weighted_auc, weighted_average_precision


def _scores(n=500, seed=0, ties=False):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n).astype(float)
    p = 1 / (1 + np.exp(-(2 * y - 1 + rng.normal(size=n))))
    if ties:
        p = np.round(p, 1)
    return y, p


@pytest.mark.parametrize("ties", [False, True])
def test_weighted_metrics_equal_sklearn_with_unit_and_integer_weights(ties):
    y, p = _scores(ties=ties)
    ones = np.ones((1, len(y)))
    assert weighted_auc(y, p, ones)[0] == pytest.approx(roc_auc_score(y, p), abs=1e-12)
    assert weighted_average_precision(y, p, ones)[0] == pytest.approx(average_precision_score(y, p), abs=1e-12)
    # integer weights = repeating rows: compare against sklearn on the expanded sample
    rng = np.random.default_rng(1)
    W = next(bootstrap_weights(len(y), 3, rng))
    for b in range(3):
        rep = np.repeat(np.arange(len(y)), W[b].astype(int))
        assert weighted_auc(y, p, W[b : b + 1])[0] == pytest.approx(roc_auc_score(y[rep], p[rep]), abs=1e-12)
        assert weighted_average_precision(y, p, W[b : b + 1])[0] == pytest.approx(average_precision_score(y[rep], p[rep]), abs=1e-12)
        point = _binary_point(y[rep].astype(int), p[rep], 0.5, 10)
        wt = _binary_weighted(y, p, W[b : b + 1], 0.5, 10)
        for k in point:
            assert wt[k][0] == pytest.approx(point[k], abs=1e-9), k


def test_ece_is_zero_for_perfect_calibration_and_large_for_overconfidence():
    p = np.repeat(np.linspace(0.05, 0.95, 10), 1000)
    rng = np.random.default_rng(0)
    y = (rng.random(len(p)) < p).astype(int)
    assert expected_calibration_error(y, p) < 0.02
    assert expected_calibration_error(y, np.where(p > 0.5, 0.999, 0.001)) > 0.2


def test_audit_performance_on_synthetic(synthetic_trained):
    rep = audit_performance(synthetic_trained, options=PerformanceOptions(bootstrap=200), seed=0)
    m = rep.metrics
    auc = roc_auc_score(synthetic_trained.y_test, synthetic_trained.score(synthetic_trained.X_test))
    assert m["roc_auc"].value == pytest.approx(auc)
    for k, v in m.items():
        assert v.low <= v.value + 1e-9 and v.value <= v.high + 1e-9, k
    assert m["roc_auc"].high - m["roc_auc"].low < 0.1
    tn, fp = rep.confusion_matrix[0]
    fn, tp = rep.confusion_matrix[1]
    assert tn + fp + fn + tp == rep.n_test
    assert m["accuracy"].value == pytest.approx((tp + tn) / rep.n_test)
    assert sum(b.count for b in rep.reliability) == rep.n_test
    assert [pt.train_size for pt in rep.learning_curve] == sorted(pt.train_size for pt in rep.learning_curve)
    assert rep.baseline_primary == pytest.approx(0.5)
    assert rep.verdict.status in ("pass", "warn")
    assert PerformanceReport.from_dict(rep.to_dict()) == rep
    again = audit_performance(synthetic_trained, options=PerformanceOptions(bootstrap=200), seed=0)
    assert again == rep


def test_verdict_fails_when_model_is_no_better_than_dummy(synthetic_dataset):
    from audit.config import ModelOptions
    from audit.models.baselines import train_models

    only_dummy = train_models(synthetic_dataset, options=ModelOptions(models=("dummy",), cv_folds=0), seed=0)
    rep = audit_performance(only_dummy, options=PerformanceOptions(bootstrap=50, learning_curve_sizes=(1.0,)), seed=0)
    assert rep.verdict.status == "fail"
    assert "not better than the dummy baseline" in rep.verdict.reasons[0]


def test_bad_options():
    with pytest.raises(ConfigError, match="performance.confidence must be in"):
        PerformanceOptions(confidence=1.5)
    with pytest.raises(ConfigError, match="learning_curve_sizes"):
        PerformanceOptions(learning_curve_sizes=(0.0, 2.0))


def test_learning_curve_refits_are_capped_and_the_full_point_is_the_audited_model(synthetic_trained):
    n = len(synthetic_trained.y_train)
    opts = PerformanceOptions(bootstrap=20, learning_curve_sizes=(0.25, 0.5, 1.0), learning_curve_max_rows=200)
    rep = audit_performance(synthetic_trained, options=opts, seed=0)
    assert [pt.train_size for pt in rep.learning_curve] == [50, 100, n]
    whole = audit_performance(synthetic_trained, options=PerformanceOptions(bootstrap=20, learning_curve_sizes=(0.25, 0.5, 1.0),
                                                                            learning_curve_max_rows=0), seed=0)
    assert [pt.train_size for pt in whole.learning_curve] == [round(0.25 * n), round(0.5 * n), n]
    # The point at 1.0 is the audited model itself either way.
    assert rep.learning_curve[-1] == whole.learning_curve[-1]
    with pytest.raises(ConfigError, match="learning_curve_max_rows"):
        PerformanceOptions(learning_curve_max_rows=-1)


def test_a_refit_too_small_for_a_rare_class_is_left_out_not_fatal():
    """40 positives in 4,000 rows, a refit on 10% of 1,000 rows holds one positive: the boosting's own stratified
    validation split cannot be cut, so that point is left out and the section still reports."""
    import pandas as pd

    from audit.config import ModelOptions
    from audit.data import prepare_dataset
    from audit.models.baselines import train_models

    rng = np.random.default_rng(0)
    n = 4000
    y = np.zeros(n, dtype=int)
    y[rng.choice(n, 40, replace=False)] = 1
    frame = pd.DataFrame({"x1": rng.normal(size=n) + 2 * y, "x2": rng.normal(size=n), "g": rng.choice(["a", "b"], n), "y": y})
    tm = train_models(prepare_dataset(frame, target="y", sensitive=["g"], name="rare"),
                      options=ModelOptions(cv_folds=0, models=("dummy", "hist_gb")), seed=0)
    assert tm.selected == "hist_gb"
    opts = PerformanceOptions(bootstrap=20, learning_curve_sizes=(0.1, 0.5, 1.0), learning_curve_max_rows=1000)
    rep = audit_performance(tm, options=opts, seed=0)
    sizes = [pt.train_size for pt in rep.learning_curve]
    assert sizes[-1] == len(tm.y_train) and 100 not in sizes and 500 in sizes
