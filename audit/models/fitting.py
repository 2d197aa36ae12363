"""The baselines' fits: each model's final fit and CV folds as tasks on the stage's threads.

Split from :mod:`audit.models.baselines` (which splits the data, selects the audited model and
holds :class:`~audit.models.baselines.TrainedModels`): this module only fits and scores.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from typing import Any

import numpy as np
from sklearn.base import clone
from sklearn.pipeline import Pipeline

from audit.config import ModelOptions
from audit.data import Dataset
from audit.models.cv import cv_fold, folds_of
from audit.models.fast_scoring import encoded_proba, predict_proba
from audit.models.multiclass import widen_proba
from audit.models.pipelines import MODEL_LABELS, make_pipeline, metric_value
from audit.threads import one_thread, share_openmp


def _templates(names: tuple[str, ...], dataset: Dataset, seed: int) -> tuple[dict[str, Any], dict[bool, Any]]:
    """Each baseline's unfitted estimator, and one unfitted preprocessor per kind of encoding
    (scaled for the logistic regression, unscaled for the others), shared by the models using it."""
    estimators, preprocessors = {}, {}
    for name in names:
        template = make_pipeline(name, dataset.task, dataset.numeric, dataset.categorical, seed=seed)
        estimators[name] = template.named_steps["model"]
        preprocessors.setdefault(_scaled(name), template.named_steps["pre"])
    return estimators, preprocessors


def _scaled(name: str) -> bool:
    return name == "logistic"


def final_fit(name: str, dataset: Dataset, est, pre, Ztr: np.ndarray, splits: tuple, metric: str) -> dict:
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
            s = est.predict(X_) if encoded else pipe.predict(X_)
        else:
            p = encoded_proba(est, X_) if encoded else predict_proba(pipe, X_)
            s = widen_proba(est, p, len(dataset.classes)) if task == "multiclass" else p[:, 1]
        outputs[split] = s
        return metric_value(metric, y_, s)

    return dict(name=name, label=MODEL_LABELS[name], val_score=_score("val", Xva, yva), test_score=_score("test", Xte, yte),
                train_score=_score("train", Ztr, ytr, encoded=True), fit_seconds=fit_s, outputs=outputs)


def fit_all(names: tuple[str, ...], dataset: Dataset, splits: tuple, opts: ModelOptions, metric: str, scoring: str,
             seed: int, workers: int, progress: Callable[[float, str], None] | None) -> tuple[dict[str, Pipeline], list[dict], int]:
    """Every baseline's final fit and CV folds, as independent tasks on ``workers`` threads.

    Each worker thread gets its share of the cores for OpenMP (one thread each on a 2-core
    machine): on Adult, HistGradientBoosting's own two-thread team made the stage slower (13.7 s
    wall, 16.9 CPU s) than one thread (10.0 s, 10.9 CPU s), so the two cores go to two fits at
    once instead. The results do not depend on the thread count (the folds, clones and seeds are
    those of ``cross_validate``). Returns the pipelines, the leaderboard rows and the CV rows.
    """
    (Xtr, ytr), _, _ = splits
    estimators, preprocessors = _templates(names, dataset, seed)
    folds = folds_of(dataset.task, opts, ytr, seed)
    # Each fold's estimator is cloned here, so no task reads an estimator another one is fitting.
    fold_est = {(n, k): clone(estimators[n]) for n in names for k in range(len(folds))}
    encodings: dict[bool, Future] = {}

    def encode(scaled: bool) -> tuple[Any, np.ndarray]:
        pre = preprocessors[scaled]
        return pre, pre.fit_transform(Xtr)

    def task(kind: str, name: str, k: int = 0):
        pre, Ztr = encodings[_scaled(name)].result()  # submitted before this task: running or done
        if kind == "fold":
            return cv_fold(fold_est[(name, k)], Ztr, ytr, folds[k], scoring)
        return final_fit(name, dataset, estimators[name], pre, Ztr, splits, metric)

    limits = one_thread("blas") if workers > 1 else contextlib.nullcontext()
    if progress:
        progress(0.0, f"fitting {len(names)} baselines" + (f" and {len(folds)} CV folds each" if folds else ""))
    with limits, ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="models",
                                    initializer=share_openmp, initargs=(workers,)) as pool:
        # The slowest model's tasks first, so the last task to finish is a short one; each encoding
        # is queued just before the first task that reads it. The slowest model's fit so starts as
        # soon as its encoding is done, while the other worker encodes for the other models (on
        # 600,000 rows each encoding takes ~5 s, and they ran one after the other before any fit).
        futures: dict[Future, tuple] = {}
        for n in reversed(names):
            if _scaled(n) not in encodings:
                encodings[_scaled(n)] = pool.submit(encode, _scaled(n))
            for kind, k in [("fit", 0), *(("fold", k) for k in range(len(folds)))]:
                futures[pool.submit(task, kind, n, k)] = (kind, n, k)
        jobs = list(futures.values())
        results: dict[tuple, Any] = {}
        try:
            for done, fut in enumerate(as_completed(futures), 1):
                results[futures[fut]] = fut.result()
                if progress:  # a cancelled job's callback raises: that ends the stage too
                    kind, n, k = futures[fut]
                    progress(0.95 * done / len(jobs), f"{MODEL_LABELS[n]}: {'fitted' if kind == 'fit' else f'fold {k + 1} of {len(folds)}'}")
        except BaseException:
            for other in [*encodings.values(), *futures]:  # a failed fit or a cancelled job ends the stage
                other.cancel()
            raise
    rows = []
    for n in names:
        scores = [results[("fold", n, k)] for k in range(len(folds))]
        cv_mean, cv_std = (float(np.mean(scores)), float(np.std(scores))) if scores else (float("nan"), float("nan"))
        rows.append(dict(results[("fit", n, 0)], cv_mean=cv_mean, cv_std=cv_std))
    cv_rows = len(np.union1d(*folds[0])) if folds else 0
    return {n: Pipeline([("pre", encodings[_scaled(n)].result()[0]), ("model", estimators[n])]) for n in names}, rows, cv_rows


__all__ = ["final_fit", "fit_all"]
