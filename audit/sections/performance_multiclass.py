"""Multiclass performance: point metrics from scikit-learn, bootstrap forms vectorised.

As for binary (``performance.py``), the bootstrap draws resampling *weights* and
computes weighted forms of each metric for a block of resamples at once; a test checks
they equal scikit-learn's with unit weights. Everything is derived from a per-resample
confusion matrix (one matrix product) plus one-vs-rest AUCs per class.

Per-class metrics are keyed ``(metric, class label)`` so the generic bootstrap loop in
``performance.py`` carries them beside the overall ones; :func:`split_per_class` separates
them for the report.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from sklearn.metrics import (
    accuracy_score,
    balanced_accuracy_score,
    brier_score_loss,
    confusion_matrix,
    log_loss,
    precision_recall_fscore_support,
    roc_auc_score,
)

PER_CLASS_METRICS = ("precision", "recall", "f1", "roc_auc")
_EPS = 1e-15


def multiclass_point(y: np.ndarray, proba: np.ndarray, classes: tuple[str, ...], bins: int) -> dict:
    """Overall and per-class metrics of class codes ``y`` against probabilities ``proba``."""
    from audit.sections.performance import expected_calibration_error

    k = len(classes)
    labels = np.arange(k)
    pred = proba.argmax(axis=1)
    out: dict = {
        "accuracy": accuracy_score(y, pred),
        "balanced_accuracy": balanced_accuracy_score(y, pred),
    }
    for avg in ("macro", "weighted"):
        p, r, f, _ = precision_recall_fscore_support(y, pred, labels=labels, average=avg, zero_division=0)
        out.update({f"precision_{avg}": p, f"recall_{avg}": r, f"f1_{avg}": f})
    p, r, f, _ = precision_recall_fscore_support(y, pred, labels=labels, average=None, zero_division=0)
    aucs = [roc_auc_score(y == c, proba[:, c]) if 0 < (y == c).sum() < len(y) else float("nan") for c in labels]
    out["roc_auc"] = float(np.nanmean(aucs)) if np.isfinite(aucs).any() else float("nan")
    out["log_loss"] = log_loss(y, np.clip(proba, _EPS, 1), labels=labels)
    out["brier"] = brier_score_loss(y, proba, labels=labels)
    # Top-label calibration: is the predicted class right as often as its probability says?
    out["ece"] = expected_calibration_error((pred == y).astype(float), proba.max(axis=1), bins=bins)
    for c, lab in enumerate(classes):
        out[("precision", lab)], out[("recall", lab)], out[("f1", lab)] = p[c], r[c], f[c]
        out[("roc_auc", lab)] = aucs[c]
    return out


def multiclass_weighted(y: np.ndarray, proba: np.ndarray, classes: tuple[str, ...], W: np.ndarray, bins: int) -> dict:
    """The metrics of :func:`multiclass_point` for each weight row of ``W`` (shape (b, n))."""
    return multiclass_weighted_form(y, proba, classes, bins)(W)


def multiclass_weighted_form(y: np.ndarray, proba: np.ndarray, classes: tuple[str, ...], bins: int):
    """:func:`multiclass_weighted` as a function of the weight block, with the confusion cells,
    each class's tie groups and the calibration bins built once for every block."""
    from audit.sections.performance import _bin_index
    from audit.stats import Ties

    k = len(classes)
    pred = proba.argmax(axis=1)
    cells = np.zeros((len(y), k * k))
    cells[np.arange(len(y)), y * k + pred] = 1.0
    ties = [Ties((y == c).astype(np.float64), proba[:, c]) for c in range(k)]
    p_true = np.clip(proba[np.arange(len(y)), y], _EPS, 1)
    top, right = proba.max(axis=1), (pred == y).astype(float)
    onehot = np.eye(bins)[_bin_index(top, bins)]
    per_row = np.column_stack([-np.log(p_true), np.sum((proba - np.eye(k)[y]) ** 2, axis=1),
                               onehot, onehot * top[:, None], onehot * right[:, None]])
    return lambda W: _weighted_metrics(W, cells, ties, per_row, classes, bins)


def _weighted_metrics(W: np.ndarray, cells: np.ndarray, ties: list, per_row: np.ndarray, classes: tuple[str, ...], bins: int) -> dict:
    from audit.sections.performance import _ece_from_sums  # not at the top: performance imports this module

    k = len(classes)
    C = (W @ cells).reshape(-1, k, k)  # (b, true, predicted)
    n = W.sum(axis=1)
    tp = np.diagonal(C, axis1=1, axis2=2)
    support = C.sum(axis=2)
    predicted = C.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        prec = np.where(predicted > 0, tp / predicted, 0.0)
        rec = np.where(support > 0, tp / support, 0.0)
        f1 = np.where(support + predicted > 0, 2 * tp / (support + predicted), 0.0)
        present = support > 0
        share = support / n[:, None]
        out: dict = {
            "accuracy": tp.sum(axis=1) / n,
            # scikit-learn's balanced accuracy averages recall over the classes present in y.
            "balanced_accuracy": np.where(present, rec, 0).sum(axis=1) / present.sum(axis=1),
            "precision_macro": prec.mean(axis=1), "recall_macro": rec.mean(axis=1), "f1_macro": f1.mean(axis=1),
            "precision_weighted": (prec * share).sum(axis=1), "recall_weighted": (rec * share).sum(axis=1),
            "f1_weighted": (f1 * share).sum(axis=1),
        }
        aucs = np.stack([t.auc(W) for t in ties], axis=1)
        out["roc_auc"] = np.nanmean(np.where(np.isfinite(aucs), aucs, np.nan), axis=1)
        S = W @ per_row
        out["log_loss"] = S[:, 0] / n
        out["brier"] = S[:, 1] / n
        out["ece"] = _ece_from_sums(S[:, 2 : 2 + bins], S[:, 2 + bins : 2 + 2 * bins], S[:, 2 + 2 * bins :])
    for c, lab in enumerate(classes):
        out[("precision", lab)], out[("recall", lab)], out[("f1", lab)] = prec[:, c], rec[:, c], f1[:, c]
        out[("roc_auc", lab)] = aucs[:, c]
    return out


def multiclass_confusion(y: np.ndarray, proba: np.ndarray, k: int) -> tuple[tuple[int, ...], ...]:
    """k x k counts, rows = true class, columns = predicted class (code order)."""
    cm = confusion_matrix(y, proba.argmax(axis=1), labels=np.arange(k))
    return tuple(tuple(int(x) for x in row) for row in cm)


def top_label_reliability(y: np.ndarray, proba: np.ndarray, bins: int) -> list[tuple[float, float, int, float, float]]:
    """Reliability curve of the top label: per confidence bin, (lower, upper, count,
    mean confidence, share of predictions that were right)."""
    from audit.sections.performance import _bin_index

    conf = proba.max(axis=1)
    right = (proba.argmax(axis=1) == y).astype(float)
    b = _bin_index(conf, bins)
    out = []
    for i in range(bins):
        m = b == i
        out.append((i / bins, (i + 1) / bins, int(m.sum()),
                    float(conf[m].mean()) if m.any() else float("nan"), float(right[m].mean()) if m.any() else float("nan")))
    return out


def split_per_class(metrics: Mapping) -> tuple[dict, dict[str, dict]]:
    """Separate ``(metric, class)`` keys into ``{class: {metric: value}}``."""
    overall, per_class = {}, {}
    for key, v in metrics.items():
        if isinstance(key, tuple):
            per_class.setdefault(key[1], {})[key[0]] = v
        else:
            overall[key] = v
    return overall, per_class
