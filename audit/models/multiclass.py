"""Multiclass helpers of the model layer: class-count checks, widened probabilities, metrics.

Kept beside ``baselines.py`` so the binary and regression paths there stay as they were.
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score, roc_auc_score

from audit.errors import ConfigError, DataError


def class_proba(model, X, k: int) -> np.ndarray:
    """``model.predict_proba`` widened to all ``k`` class codes: a refit on a subset may not
    have seen every class, and its missing columns are probability 0."""
    from audit.models.fast_scoring import predict_proba  # lazily: scikit-learn's pipeline imports

    return widen_proba(model, predict_proba(model, X), k)


def widen_proba(model, p, k: int) -> np.ndarray:
    """``model``'s probabilities ``p`` with a column for each of the ``k`` class codes."""
    p = np.asarray(p, dtype=np.float64)
    seen = np.asarray(model.classes_).astype(np.int64)
    if p.shape[1] == k and np.array_equal(seen, np.arange(k)):
        return p
    out = np.zeros((p.shape[0], k))
    out[:, seen] = p
    return out


_MIN_CLASS_ROWS = 10


def check_class_counts(y: np.ndarray, classes: tuple[str, ...], target: str) -> None:
    """Every class needs rows in train, validation and test for a stratified split."""
    counts = np.bincount(y, minlength=len(classes))
    few = [(classes[c], int(counts[c])) for c in np.argsort(counts, kind="stable") if counts[c] < _MIN_CLASS_ROWS]
    if few:
        named = ", ".join(f"{lab!r} ({k} row{'' if k == 1 else 's'})" for lab, k in few[:5])
        raise DataError(
            f"{'class' if len(few) == 1 else 'classes'} {named} of target {target!r} {'has' if len(few) == 1 else 'have'} too few rows: at least "
            f"{_MIN_CLASS_ROWS} per class are needed for a stratified train / validation / test split; "
            "merge rare classes or collect more rows"
        )


def multiclass_metric(metric: str, y: np.ndarray, proba: np.ndarray) -> float:
    """A selection metric from class codes and an (n, k) probability matrix."""
    k = proba.shape[1]
    if metric == "roc_auc":
        present = np.unique(y)
        if len(present) < 2:
            return float("nan")
        # One-vs-rest per class present in y, macro mean: sklearn's multi_class="ovr" needs
        # every column's class present, which a small validation split may lack.
        aucs = [roc_auc_score(y == c, proba[:, c]) for c in present]
        return float(np.mean(aucs))
    pred = proba.argmax(axis=1)
    if metric == "accuracy":
        return float(accuracy_score(y, pred))
    if metric == "balanced_accuracy":
        return float(balanced_accuracy_score(y, pred))
    if metric == "f1":
        return float(f1_score(y, pred, average="macro", labels=np.arange(k), zero_division=0))
    raise ConfigError(f"selection metric {metric!r} does not apply to a multiclass task")
