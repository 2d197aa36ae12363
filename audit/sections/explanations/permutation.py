"""Permutation importance of the original features, with scikit-learn, on a stated test sample.

scikit-learn's ``permutation_importance`` shuffles one column of ``X`` at a time and
re-scores the estimator. Given the raw frame and the whole pipeline it would re-run the
pandas preprocessing for every shuffle (features x repeats times), two thirds of the
section's time on Adult. Instead it is given a matrix of *row numbers*, one column per
original feature, and a small adapter that gathers each feature's encoded columns from
the (once) preprocessed rows: shuffling column ``f`` of the row numbers is exactly
shuffling feature ``f``, because every encoded column depends on one original feature.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.inspection import permutation_importance
from sklearn.metrics import get_scorer
from sklearn.model_selection import train_test_split

from audit.serial import ReportMixin
from audit.models.baselines import TrainedModels

_SCORERS = {"roc_auc": "roc_auc", "accuracy": "accuracy", "balanced_accuracy": "balanced_accuracy", "f1": "f1",
            "r2": "r2", "neg_mae": "neg_mean_absolute_error"}


@dataclass(frozen=True)
class PermutationFeature(ReportMixin):
    feature: str
    mean: float
    std: float
    repeats: tuple[float, ...]


@dataclass(frozen=True)
class PermutationImportance(ReportMixin):
    """Drop in ``metric`` when a feature's test values are shuffled (scikit-learn), largest first."""

    metric: str
    n_rows: int
    n_repeats: int
    baseline_score: float
    features: tuple[PermutationFeature, ...]


def sample_rows(n: int, size: int, y: np.ndarray, binary: bool, seed: int) -> np.ndarray:
    """Sorted positions of a sample of ``size`` of ``n`` rows, stratified on ``y`` for a classification task."""
    if size >= n:
        return np.arange(n)
    strat = y if binary and np.bincount(y.astype(np.int64), minlength=2).min() >= 2 else None
    idx, _ = train_test_split(np.arange(n), train_size=size, random_state=seed, stratify=strat)
    return np.sort(idx)


class _GatherModel(BaseEstimator):
    """Scores rows given as per-feature row numbers into an already preprocessed matrix."""

    def __init__(self, estimator=None, Z=None, columns=None):
        self.estimator, self.Z, self.columns = estimator, Z, columns

    def _assemble(self, R: np.ndarray) -> np.ndarray:
        R = np.asarray(R, dtype=np.int64)
        out = np.empty((len(R), self.Z.shape[1]), dtype=self.Z.dtype)
        for j, cols in enumerate(self.columns):
            out[:, cols] = self.Z[R[:, j][:, None], cols]
        return out

    def fit(self, R, y=None):  # never refitted; present for the estimator protocol
        return self

    def predict(self, R):
        return self.estimator.predict(self._assemble(R))


class _GatherClassifier(ClassifierMixin, _GatherModel):
    @property
    def classes_(self):
        return self.estimator.classes_

    def predict_proba(self, R):
        return self.estimator.predict_proba(self._assemble(R))

    def decision_function(self, R):
        return self.estimator.decision_function(self._assemble(R))


class _GatherRegressor(RegressorMixin, _GatherModel):
    pass


def permutation_scores(trained: TrainedModels, *, sample: int, repeats: int, seed: int) -> PermutationImportance:
    """Permutation importance of every original feature on a stratified sample of the test split."""
    binary = trained.task != "regression"  # stratified, and scored as a classifier
    idx = sample_rows(len(trained.X_test), sample, trained.y_test, binary, seed)
    X, y = trained.X_test.iloc[idx], trained.y_test[idx]
    metric = trained.report.selection_metric
    if metric == "roc_auc" and len(np.unique(y)) < 2:
        metric = "accuracy"  # AUC is undefined on one class
    pre, est = trained.model.named_steps["pre"], trained.model.named_steps["model"]
    owner = np.array(trained.encoded_to_original())
    features = tuple(trained.dataset.features)
    columns = [np.flatnonzero(owner == f) for f in features]
    Z = np.asarray(pre.transform(X), dtype=np.float64)
    model = (_GatherClassifier if binary else _GatherRegressor)(estimator=est, Z=Z, columns=columns)
    R = np.repeat(np.arange(len(X))[:, None], len(features), axis=1)
    names = _SCORERS if trained.task != "multiclass" else {**_SCORERS, "roc_auc": "roc_auc_ovr", "f1": "f1_macro"}
    scorer = get_scorer(names[metric])
    res = permutation_importance(model, R, y, scoring=scorer, n_repeats=repeats, random_state=seed)
    feats = [PermutationFeature(feature=f, mean=float(res.importances_mean[j]), std=float(res.importances_std[j]),
                                repeats=tuple(float(f"{v:.6g}") for v in res.importances[j]))
             for j, f in enumerate(features)]
    feats.sort(key=lambda p: (-p.mean, p.feature))
    return PermutationImportance(metric=metric, n_rows=len(idx), n_repeats=repeats,
                                 baseline_score=float(scorer(model, R, y)), features=tuple(feats))
