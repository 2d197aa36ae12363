"""audit.models.permutation: the batched permutation importance equals scikit-learn's."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.inspection import permutation_importance
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import get_scorer

from audit.models.permutation import permutation_importances


def _data(seed=0, n=300, d=5, classes=2):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    X[rng.random((n, d)) < 0.05] = np.nan  # the drift section's encoding keeps NaN
    z = np.nan_to_num(X[:, 0]) + 0.5 * np.nan_to_num(X[:, 1]) + rng.normal(size=n)
    y = np.digitize(z, np.quantile(z, np.linspace(0, 1, classes + 1)[1:-1]))
    return X, y


@pytest.mark.parametrize("case", ["hgb_auc_sampled", "logistic_accuracy", "multiclass_ovr", "regression_r2"])
def test_equals_scikit_learn(case):
    X, y = _data(classes=3 if case == "multiclass_ovr" else 2)
    max_samples, scoring = 1.0, "roc_auc"
    if case == "hgb_auc_sampled":
        est, max_samples = HistGradientBoostingClassifier(max_iter=20, random_state=0).fit(X, y), 120
    elif case == "logistic_accuracy":
        X = np.nan_to_num(X)
        est, scoring = LogisticRegression().fit(X, y), "accuracy"
    elif case == "multiclass_ovr":
        est, scoring = HistGradientBoostingClassifier(max_iter=20, random_state=0).fit(X, y), "roc_auc_ovr"
    else:
        y = np.nan_to_num(X[:, 0]) * 2 + np.random.default_rng(1).normal(size=len(y))
        est, scoring = HistGradientBoostingRegressor(max_iter=20, random_state=0).fit(X, y), "r2"
    scorer = get_scorer(scoring)
    ref = permutation_importance(est, X, y, scoring=scorer, n_repeats=4, random_state=7, max_samples=max_samples)
    # max_rows small enough that the copies go in several batches
    base, drops = permutation_importances(est, X, y, scorer, n_repeats=4, random_state=7, max_samples=max_samples, max_rows=500)
    assert base == pytest.approx(float(scorer(est, X, y)), abs=1e-12)
    assert drops.shape == ref.importances.shape == (X.shape[1], 4)
    np.testing.assert_allclose(drops, ref.importances, atol=1e-12, rtol=0)
    assert np.abs(drops[0]).max() > 0  # the informative feature matters: the test can fail


def test_too_many_samples_is_refused_as_scikit_learn_does():
    X, y = _data()
    est = LogisticRegression().fit(np.nan_to_num(X), y)
    with pytest.raises(ValueError, match="max_samples"):
        permutation_importances(est, np.nan_to_num(X), y, get_scorer("accuracy"), n_repeats=2, random_state=0, max_samples=10_000)
