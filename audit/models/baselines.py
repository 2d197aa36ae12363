"""Baseline models: split, preprocess, fit, cross-validate, select.

Every baseline is one scikit-learn ``Pipeline`` (preprocessing + estimator) so
the same object predicts on raw rows everywhere downstream (fairness, SHAP,
attacks, drift). ``TrainedModels`` holds the splits and fitted pipelines and
never reaches a report; ``ModelsReport`` is the serialisable summary.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline

from audit.serial import ReportMixin
from audit.config import ModelOptions
from audit.data import Dataset
from audit.errors import ConfigError, DataError
from audit.models.fast_scoring import encoded_proba, predict_proba
from audit.models.multiclass import check_class_counts, class_proba, widen_proba
from audit.models.info import UserModelInfo
from audit.models.cv import cv_fold, folds_of
from audit.threads import one_thread, share_openmp
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
        key = (kind, name or self.selected, split, X.shape)
        if key not in cache:
            cache[key] = compute()
        return cache[key].copy()

    def remember(self, split: str, name: str, values: np.ndarray) -> None:
        """Cache ``name``'s scores of split ``split`` ("train", "val", "test"): its probabilities
        (multiclass, as ``proba``), else what ``score`` gives, computed as those compute them."""
        X = {"train": self.X_train, "val": self.X_val, "test": self.X_test}[split]
        kind = "proba" if self.task == "multiclass" else "score"
        self.__dict__.setdefault("_score_cache", {})[(kind, name, split, X.shape)] = values

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
        idx_trval, test_size=rel_val, random_state=seed + 1, stratify=y[idx_trval] if clf else None
    )
    return idx_train, idx_val, idx_test


def _preprocessed(name: str, dataset: Dataset, encoded: dict[bool, tuple], Xtr: pd.DataFrame, seed: int) -> tuple:
    """The baseline's unfitted estimator, its fitted preprocessor and the encoded training split."""
    template = make_pipeline(name, dataset.task, dataset.numeric, dataset.categorical, seed=seed)
    scaled = name == "logistic"
    if scaled not in encoded:
        pre = template.named_steps["pre"]
        encoded[scaled] = (pre, pre.fit_transform(Xtr))
    pre, Ztr = encoded[scaled]
    return template.named_steps["model"], pre, Ztr


def _final_fit(name: str, dataset: Dataset, est, pre, Ztr: np.ndarray, splits: tuple, metric: str) -> dict:
    """Fit ``est`` on the whole training split; its validation, test and train scores.

    The scores go through :mod:`audit.models.fast_scoring` (the same probabilities): at 600,000
    training rows, scoring the three splits through the pipeline took 14 s of the gradient
    boosting's 42 s task, the models stage's longest."""
    task = dataset.task
    (_, ytr), (Xva, yva), (Xte, yte) = splits
    t0 = time.perf_counter()
    est.fit(Ztr, ytr)
    fit_s = time.perf_counter() - t0
    pipe = Pipeline([("pre", pre), ("model", est)])
    outputs: dict[str, np.ndarray] = {}

    def _score(split: str, X_, y_: np.ndarray, encoded: bool = False) -> float:
        # What TrainedModels.score / proba give for the split (regression: the predictions), kept
        # for its cache: every section scores the test split, performance the training split.
        if task == "regression":
            s = outputs[split] = est.predict(X_) if encoded else pipe.predict(X_)
        else:
            p = encoded_proba(est, X_) if encoded else predict_proba(pipe, X_)
            if task == "multiclass":
                s = outputs[split] = widen_proba(est, p, len(dataset.classes))
            else:
                s = outputs[split] = p[:, 1]
        return metric_value(metric, y_, s)

    return dict(name=name, label=MODEL_LABELS[name], val_score=_score("val", Xva, yva), test_score=_score("test", Xte, yte),
                train_score=_score("train", Ztr, ytr, encoded=True), fit_seconds=fit_s, outputs=outputs)


def _fit_all(names: tuple[str, ...], dataset: Dataset, splits: tuple, opts: ModelOptions, metric: str, scoring: str,
             seed: int, workers: int, progress: Callable[[float, str], None] | None) -> tuple[dict[str, Pipeline], list[dict], int]:
    """Every baseline's final fit and CV folds, as independent tasks on ``workers`` threads.

    Each worker thread gets its share of the cores for OpenMP (one thread each on a 2-core
    machine): on Adult, HistGradientBoosting's own two-thread team made the stage slower (13.7 s
    wall, 16.9 CPU s) than one thread (10.0 s, 10.9 CPU s), so the two cores go to two fits at
    once instead. The results do not depend on the thread count (the folds, clones and seeds are
    those of ``cross_validate``). Returns the pipelines, the leaderboard rows and the CV rows.
    """
    (Xtr, ytr), _, _ = splits
    encoded: dict[bool, tuple] = {}
    prepared = {n: _preprocessed(n, dataset, encoded, Xtr, seed) for n in names}
    folds = folds_of(dataset.task, opts, ytr, seed)
    # Each fold's estimator is cloned here, so no task reads an estimator another one is fitting.
    fold_est = {(n, k): clone(prepared[n][0]) for n in names for k in range(len(folds))}

    def task(kind: str, name: str, k: int = 0):
        est, pre, Ztr = prepared[name]
        if kind == "fold":
            return cv_fold(fold_est[(name, k)], Ztr, ytr, folds[k], scoring)
        return _final_fit(name, dataset, est, pre, Ztr, splits, metric)

    # The slowest model's tasks first, so the last task to finish is a short one.
    jobs = [(kind, n, k) for n in reversed(names) for kind, k in [("fit", 0), *(("fold", k) for k in range(len(folds)))]]
    limits = one_thread("blas") if workers > 1 else contextlib.nullcontext()
    if progress:
        progress(0.0, f"fitting {len(names)} baselines" + (f" and {len(folds)} CV folds each" if folds else ""))
    with limits, ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="models",
                                    initializer=share_openmp, initargs=(workers,)) as pool:
        futures = {pool.submit(task, *job): job for job in jobs}
        results: dict[tuple, Any] = {}
        try:
            for done, fut in enumerate(as_completed(futures), 1):
                results[futures[fut]] = fut.result()
                if progress:  # a cancelled job's callback raises: that ends the stage too
                    kind, n, k = futures[fut]
                    progress(0.95 * done / len(jobs), f"{MODEL_LABELS[n]}: {'fitted' if kind == 'fit' else f'fold {k + 1} of {len(folds)}'}")
        except BaseException:
            for other in futures:  # a failed fit or a cancelled job ends the stage: the queued tasks do not run
                other.cancel()
            raise
    rows = []
    for n in names:
        scores = [results[("fold", n, k)] for k in range(len(folds))]
        cv_mean, cv_std = (float(np.mean(scores)), float(np.std(scores))) if scores else (float("nan"), float("nan"))
        rows.append(dict(results[("fit", n, 0)], cv_mean=cv_mean, cv_std=cv_std))
    cv_rows = len(np.union1d(*folds[0])) if folds else 0
    return {n: Pipeline([("pre", prepared[n][1]), ("model", prepared[n][0])]) for n in names}, rows, cv_rows


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
    pipelines, rows, cv_rows = _fit_all(names, dataset, ((Xtr, ytr), (Xva, yva), (Xte, yte)), opts, metric, scoring, seed,
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
