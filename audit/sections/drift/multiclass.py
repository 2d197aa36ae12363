"""Drift of a multiclass model: predicted-class and label distributions as categories.

With three or more classes the model's output that users act on is the predicted class,
so prediction drift compares the predicted class distributions (chi-square, PSI,
Jensen-Shannon, as for a categorical feature), and label drift the class distributions.
Performance on current data is the accuracy with a Wilson interval.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from audit.errors import DataError
from audit.sections.drift.stats import categorical_drift
from audit.stats import Estimate


def class_counts(codes: np.ndarray, classes: tuple[str, ...]) -> pd.Series:
    """Counts per class label of finite class codes (every class listed, zeros included)."""
    c = codes[np.isfinite(codes)].astype(np.int64)
    return pd.Series(np.bincount(c, minlength=len(classes)), index=list(classes))


def class_drift(name: str, ref: np.ndarray, cur: np.ndarray, classes: tuple[str, ...], threshold: float):
    """Categorical drift of two arrays of class codes."""
    return categorical_drift(name, class_counts(ref, classes), class_counts(cur, classes), threshold=threshold)


def code_classes(raw: pd.Series, classes: tuple[str, ...], target: str) -> np.ndarray:
    """Labels of compared data as class codes (NaN = missing); an unknown label is an error."""
    code = {c: float(k) for k, c in enumerate(classes)}
    text = raw.astype(object).map(lambda v: None if pd.isna(v) else str(v))
    # Numeric labels read back as floats ("2.0") must meet the training labels ("2").
    if all(c.lstrip("-").isdigit() for c in classes):
        text = text.map(lambda v: str(int(float(v))) if v is not None and _is_whole(v) else v)
    unknown = sorted({v for v in text.dropna() if v not in code})
    if unknown:
        raise DataError(f"the target column {target!r} of the compared data holds {unknown[:5]}; expected the training classes {list(classes)}")
    return text.map(lambda v: np.nan if v is None else code[v]).to_numpy(dtype=np.float64)


def _is_whole(v: str) -> bool:
    try:
        return float(v).is_integer()
    except ValueError:
        return False


def accuracy_ci(y: np.ndarray, pred: np.ndarray, confidence: float) -> Estimate:
    """Share of rows whose predicted class is right, with its Wilson interval."""
    k = int(np.sum(pred == y))
    ci = stats.binomtest(k, len(y)).proportion_ci(confidence, method="wilson")
    return Estimate(k / len(y), float(ci.low), float(ci.high), float(confidence), len(y), "Wilson")
