"""Per-group point estimates of the fairness section: the fairlearn metric functions on each
group's rows (:func:`group_table`), and fairlearn's ``MetricFrame`` table it must equal
(:func:`metric_frame_table`, the reference its test compares against)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from fairlearn.metrics import (
    MetricFrame,
    count,
    false_negative_rate,
    false_positive_rate,
    mean_prediction,
    selection_rate,
    true_positive_rate,
)
from sklearn.metrics import accuracy_score, mean_absolute_error, precision_score, roc_auc_score


# A rate whose denominator is empty in a group is undefined (NaN) rather than the 0
# that scikit-learn's confusion-matrix normalisation returns: a 0 would invent a gap.


def _base_rate(y_true, y_pred):
    return float(np.mean(y_true))


def _tpr(y_true, y_pred):
    return float(true_positive_rate(y_true, y_pred, pos_label=1)) if np.any(y_true == 1) else np.nan


def _fnr(y_true, y_pred):
    return float(false_negative_rate(y_true, y_pred, pos_label=1)) if np.any(y_true == 1) else np.nan


def _fpr(y_true, y_pred):
    return float(false_positive_rate(y_true, y_pred, pos_label=1)) if np.any(y_true == 0) else np.nan


def _precision(y_true, y_pred):
    return float(precision_score(y_true, y_pred, zero_division=np.nan))


def _auc(y_true, y_pred, y_score):
    return float(roc_auc_score(y_true, y_score)) if len(np.unique(y_true)) == 2 else np.nan


def _mean_target(y_true, y_pred):
    return float(np.mean(y_true))


_BINARY_FNS = {"count": count, "base_rate": _base_rate, "selection_rate": selection_rate, "tpr": _tpr, "fpr": _fpr,
               "fnr": _fnr, "precision": _precision, "accuracy": accuracy_score, "roc_auc": _auc}
_REGRESSION_FNS = {"count": count, "mae": mean_absolute_error, "mean_prediction": mean_prediction, "mean_target": _mean_target}


def group_table(task: str, y: np.ndarray, pred: np.ndarray, score: np.ndarray, labels: np.ndarray) -> pd.DataFrame:
    """The table :func:`metric_frame_table` gives, with the same metric functions called on each group's rows.

    Why not MetricFrame itself here: fairlearn 0.13 passes every column through ``np.stack`` of its
    elements (one 0-d array per row, per metric, per group), which was 10 of the 14 CPU-s of the
    fairness section on Adult's 48,842 rows. The same functions on plain array slices give the same
    floats; ``tests/test_fairness.py`` checks the two tables are identical.
    """
    fns = _BINARY_FNS if task == "binary" else _REGRESSION_FNS
    y, pred, score = np.asarray(y), np.asarray(pred), np.asarray(score)
    names, codes = np.unique(np.asarray(labels).astype(str), return_inverse=True)
    order = np.argsort(codes, kind="stable")
    bounds = np.r_[0, np.cumsum(np.bincount(codes, minlength=len(names)))]

    def row(idx) -> dict[str, float]:
        yy, pp = y[idx], pred[idx]
        return {m: float(f(yy, pp, score[idx]) if m == "roc_auc" else f(yy, pp)) for m, f in fns.items()}

    rows = {str(n): row(order[bounds[i]:bounds[i + 1]]) for i, n in enumerate(names)}
    rows["overall"] = row(slice(None))
    return pd.DataFrame.from_dict(rows, orient="index", columns=list(fns)).astype(float).rename_axis("group")


def metric_frame_table(task: str, y: np.ndarray, pred: np.ndarray, score: np.ndarray, labels: np.ndarray) -> pd.DataFrame:
    """Per-group metrics from ``MetricFrame`` (rows sorted by group name) plus an ``overall`` row.

    The reference for :func:`group_table`, which the section uses (its docstring says why).
    """
    if task == "binary":
        mf = MetricFrame(metrics=_BINARY_FNS, y_true=y, y_pred=pred, sensitive_features=pd.Series(labels, name="group"),
                         sample_params={"roc_auc": {"y_score": score}})
    else:
        mf = MetricFrame(metrics=_REGRESSION_FNS, y_true=y, y_pred=pred, sensitive_features=pd.Series(labels, name="group"))
    table = mf.by_group.astype(float)
    table.index = table.index.astype(str)
    table.loc["overall"] = mf.overall.astype(float)
    return table


__all__ = ["group_table", "metric_frame_table"]
