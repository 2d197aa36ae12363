"""Baseline models: split, preprocess, fit, cross-validate, select.

Every baseline is one scikit-learn ``Pipeline`` (preprocessing + estimator) so
the same object predicts on raw rows everywhere downstream (fairness, SHAP,
attacks, drift). ``TrainedModels`` holds the splits and fitted pipelines and
never reaches a report; ``ModelsReport`` is the serialisable summary.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline

from audit.serial import ReportMixin
from audit.config import ModelOptions
from audit.data import Dataset
from audit.errors import ConfigError, DataError
from audit.models.fast_scoring import predict_proba
from audit.models.fitting import fit_all
from audit.models.multiclass import check_class_counts, class_proba
from audit.models.info import UserModelInfo
from audit.stats import derived_seed
from audit.models.pipelines import (  # noqa: F401  (re-exported: sections import them from here)
    MODEL_LABELS, MODEL_NAMES, encoded_to_original, make_pipeline, make_preprocessor, metric_value)

_CLASSIFICATION_METRICS = ("roc_auc", "accuracy", "balanced_accuracy", "f1")
_REGRESSION_METRICS = ("r2", "neg_mae")


@dataclass(frozen=True)
class LeaderboardRow(ReportMixin):
    """One baseline's scores. ``cv_*`` are on the training split, ``val`` / ``test`` on held-out splits."""

    name: str
    label: str
    cv_mean: float
    cv_std: float
    val_score: float
    test_score: float
    train_score: float
    fit_seconds: float
    selected: bool


@dataclass(frozen=True)
class ModelsReport(ReportMixin):
    """The ``models`` section: splits, baselines and the audited model."""

    task: str
    selection_metric: str
    selected: str
    selected_label: str
    positive_label: str | None
    decision_threshold: float
    n_train: int
    n_val: int
    n_test: int
    cv_folds: int
    features: tuple[str, ...]
    numeric_features: tuple[str, ...]
    categorical_features: tuple[str, ...]
    n_encoded_features: int
    leaderboard: tuple[LeaderboardRow, ...]
    classes: tuple[str, ...] = ()  # class labels in code order (classification)
    cv_rows: int = 0  # training rows the CV folds used (a seeded sample of n_train when smaller); 0: no CV
    # Set when the audited model is the user's (``selected == "user"``); None for a baseline.
    user_model: UserModelInfo | None = None


@dataclass(frozen=True, eq=False)
class TrainedModels:
    """Splits and fitted pipelines. Downstream audits read from this; it is not serialised.

    ``X_*`` are raw feature frames (columns ``dataset.features``); ``y_*`` are 0/1 ints
    (binary), class codes 0..k-1 (multiclass, labels in ``classes``) or floats (regression);
    ``groups_*`` hold the sensitive group labels;
    ``idx_*`` index rows of ``dataset.frame``.
    """

    dataset: Dataset
    X_train: pd.DataFrame
    X_val: pd.DataFrame
    X_test: pd.DataFrame
    y_train: np.ndarray
    y_val: np.ndarray
    y_test: np.ndarray
    groups_train: pd.DataFrame
    groups_val: pd.DataFrame
    groups_test: pd.DataFrame
    idx_train: np.ndarray
    idx_val: np.ndarray
    idx_test: np.ndarray
    pipelines: Mapping[str, Pipeline]
    selected: str
    report: ModelsReport
    seed: int

    @property
    def task(self) -> str:
        return self.dataset.task

    @property
    def refittable(self) -> bool:
        """Whether sections may clone and refit the audited model (False for the user's model)."""
        return True

    @property
    def model(self) -> Pipeline:
        """The audited (selected) pipeline."""
        return self.pipelines[self.selected]

    @property
    def classes(self) -> tuple[str, ...]:
        """Class labels in code order (``y == k`` means ``classes[k]``); empty for regression."""
        return self.dataset.classes

    def _cached(self, kind: str, X: pd.DataFrame, name: str | None, compute: Callable[[], np.ndarray]) -> np.ndarray:
        """``compute()``, remembered when ``X`` is one of the split frames themselves (identity, not equality).

        Every section scores the test split again; the splits are never modified after
        ``train_models``, so the same object gives the same scores. A copy is returned so a
        caller editing its array in place cannot change another section's numbers. Sections
        run in threads: a race only computes the same array twice.
        """
        split = next((k for k, frame in (("train", self.X_train), ("val", self.X_val), ("test", self.X_test))
                      if X is frame), None)
        if split is None:
            return compute()
        cache = self.__dict__.setdefault("_score_cache", {})  # frozen dataclass: no field, set once
        key = self._cache_key(kind, name, split)
        if key not in cache:
            cache[key] = compute()
        return cache[key].copy()

    def remember(self, split: str, name: str, values: np.ndarray) -> None:
        """Cache ``name``'s scores of split ``split`` ("train", "val", "test"): its probabilities
        (multiclass, as ``proba``), else what ``score`` gives, computed as those compute them."""
        kind = "proba" if self.task == "multiclass" else "score"
        self.__dict__.setdefault("_score_cache", {})[self._cache_key(kind, name, split)] = values

    def _cache_key(self, kind: str, name: str | None, split: str) -> tuple:
        X = {"train": self.X_train, "val": self.X_val, "test": self.X_test}[split]
        return (kind, name or self.selected, split, X.shape)

    def score(self, X: pd.DataFrame, name: str | None = None) -> np.ndarray:
        """Positive-class probability (binary), the predicted class's probability (multiclass)
        or the prediction (regression). Scores of the split frames are cached (``_cached``)."""
        return self._cached("score", X, name, lambda: self._score(X, name))

    def _score(self, X: pd.DataFrame, name: str | None) -> np.ndarray:
        pipe = self.pipelines[name or self.selected]
        if self.task == "binary":
            return predict_proba(pipe, X)[:, 1]
        if self.task == "multiclass":
            return self.proba(X, name).max(axis=1)
        return pipe.predict(X)

    def proba(self, X: pd.DataFrame, name: str | None = None) -> np.ndarray:
        """Class probabilities, shape (n, k), columns in code order (classification only)."""
        if self.task == "regression":
            raise TypeError("proba() is for classification tasks")
        return self._cached("proba", X, name, lambda: class_proba(self.pipelines[name or self.selected], X, len(self.classes)))

    def predict(self, X: pd.DataFrame, name: str | None = None) -> np.ndarray:
        """Hard predictions: 0/1 at the 0.5 threshold (binary), the most probable class code
        (multiclass) or values (regression)."""
        if self.task == "multiclass":
            return self.proba(X, name).argmax(axis=1).astype(np.int64)
        s = self.score(X, name)
        if self.task == "binary":
            return (s >= self.report.decision_threshold).astype(np.int64)
        return s

    def encoded_feature_names(self, name: str | None = None) -> tuple[str, ...]:
        return tuple(self.pipelines[name or self.selected][:-1].get_feature_names_out())

    def encoded_to_original(self, name: str | None = None) -> tuple[str, ...]:
        """For every column after preprocessing, the original feature it came from."""
        return encoded_to_original(self.pipelines[name or self.selected], self.dataset.features)


def _checked_options(options: ModelOptions | None, dataset: Dataset) -> tuple[ModelOptions, tuple[str, ...], str]:
    """The options, the baselines to fit and the selection metric ("auto" resolved), validated."""
    opts = options or ModelOptions()
    names = tuple(opts.models)
    for n in names:
        if n not in MODEL_NAMES:
            raise ConfigError(f"unknown model {n!r}: expected some of {', '.join(MODEL_NAMES)}")
    if not names:
        raise ConfigError("models must list at least one baseline")
    task = dataset.task
    metric = opts.selection_metric
    if metric == "auto":
        metric = "r2" if task == "regression" else "roc_auc"
    allowed = _REGRESSION_METRICS if task == "regression" else _CLASSIFICATION_METRICS
    if metric not in allowed:
        raise ConfigError(f"selection_metric for a {task} task must be one of {', '.join(allowed)}; got {metric!r}")
    if opts.cv_max_rows < 0 or (opts.cv_folds >= 2 and 0 < opts.cv_max_rows < 10 * opts.cv_folds):
        raise ConfigError(f"cv_max_rows must be 0 (every training row) or at least 10 rows per fold; got {opts.cv_max_rows}")
    if not 0 < opts.test_size < 0.9 or not 0 < opts.val_size < 0.9 or opts.test_size + opts.val_size >= 0.9:
        raise ConfigError(
            f"test_size and val_size must be fractions with a sum below 0.9; got {opts.test_size} and {opts.val_size}"
        )
    return opts, names, metric


def _split(dataset: Dataset, opts: ModelOptions, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Row numbers of the train, validation and test splits (stratified for classification)."""
    n, y, task = dataset.n_rows, dataset.y, dataset.task
    clf = task != "regression"
    if task == "binary":
        counts = np.bincount(y, minlength=2)
        if counts.min() < 10:
            raise DataError(
                f"the target's rarer class has only {counts.min()} row{'' if counts.min() == 1 else 's'}; at least 10 are needed to split into train, validation and test"
            )
    elif task == "multiclass":
        check_class_counts(y, dataset.classes, dataset.target)
    if n < 50:
        raise DataError(f"the data has {n} rows; at least 50 are needed to train and evaluate models")
    idx_trval, idx_test = train_test_split(np.arange(n), test_size=opts.test_size, random_state=seed, stratify=y if clf else None)
    rel_val = opts.val_size / (1 - opts.test_size)
    idx_train, idx_val = train_test_split(
        idx_trval, test_size=rel_val, random_state=derived_seed(seed, 1), stratify=y[idx_trval] if clf else None
    )
    return idx_train, idx_val, idx_test


def train_models(
    dataset: Dataset,
    *,
    options: ModelOptions | None = None,
    seed: int = 0,
    progress: Callable[[float, str], None] | None = None,
    workers: int = 2,
) -> TrainedModels:
    """Split ``dataset`` (train / validation / test, stratified for classification), fit the
    baselines, cross-validate them on train and select the audited model on validation.

    Parameters
    ----------
    dataset : a prepared :class:`~audit.data.Dataset`.
    options : split sizes, folds, baselines and the selection metric.
    seed : drives the split, the folds and every model's randomness.
    progress : called with (fraction done, message), from the caller's thread.
    workers : threads for the fits and CV folds (1 = one after another).

    Returns
    -------
    TrainedModels
    """
    opts, names, metric = _checked_options(options, dataset)
    task = dataset.task
    idx_train, idx_val, idx_test = _split(dataset, opts, seed)
    y = dataset.y
    X = dataset.X
    Xtr, Xva, Xte = (X.iloc[i].reset_index(drop=True) for i in (idx_train, idx_val, idx_test))
    ytr, yva, yte = y[idx_train], y[idx_val], y[idx_test]
    g = dataset.groups
    gtr, gva, gte = (g.iloc[i].reset_index(drop=True) for i in (idx_train, idx_val, idx_test))

    scoring = {"roc_auc": "roc_auc", "accuracy": "accuracy", "balanced_accuracy": "balanced_accuracy", "f1": "f1", "r2": "r2", "neg_mae": "neg_mean_absolute_error"}[metric]
    if task == "multiclass":
        scoring = {"roc_auc": "roc_auc_ovr", "f1": "f1_macro"}.get(metric, scoring)
    # The preprocessing is fitted once on the whole training split and the folds
    # reuse the encoded matrix: imputation medians, category sets and scaling
    # moments barely differ between folds, and this halves the cost of CV.
    pipelines, rows, cv_rows = fit_all(names, dataset, ((Xtr, ytr), (Xva, yva), (Xte, yte)), opts, metric, scoring, seed,
                               workers, progress)
    scored = {r["name"]: r.pop("outputs") for r in rows}
    # Select on validation; a NaN (e.g. AUC of a constant dummy) never wins.
    best = max(rows, key=lambda r: -np.inf if np.isnan(r["val_score"]) else r["val_score"])["name"]
    if progress:
        progress(1.0, f"selected {MODEL_LABELS[best]}")
    enc = pipelines[best][:-1].get_feature_names_out()
    report = ModelsReport(
        task=task, selection_metric=metric, selected=best, selected_label=MODEL_LABELS[best],
        positive_label=dataset.positive_label, decision_threshold=0.5,
        n_train=len(idx_train), n_val=len(idx_val), n_test=len(idx_test), cv_folds=int(opts.cv_folds),
        features=dataset.features, numeric_features=dataset.numeric, categorical_features=dataset.categorical,
        n_encoded_features=len(enc), leaderboard=tuple(LeaderboardRow(selected=r["name"] == best, **r) for r in rows),
        classes=dataset.classes if task == "multiclass" else (),
        cv_rows=cv_rows,
    )
    trained = TrainedModels(
        dataset=dataset,
        X_train=Xtr, X_val=Xva, X_test=Xte,
        y_train=ytr, y_val=yva, y_test=yte,
        groups_train=gtr, groups_val=gva, groups_test=gte,
        idx_train=idx_train, idx_val=idx_val, idx_test=idx_test,
        pipelines=pipelines, selected=best, report=report, seed=seed,
    )
    for name, outputs in scored.items():  # the leaderboard scored every split: the sections reuse them
        for split, values in outputs.items():
            trained.remember(split, name, values)
    return trained
