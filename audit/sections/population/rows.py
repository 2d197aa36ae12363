"""Rows of the table as the every-row statistics see them: labelled, aligned to the training
schema, scored by the audited model and labelled with their groups.

One function (:func:`prepare_rows`) does this for a block of the in-memory dataset and for a
partition read on a cluster, so both engines count the same rows the same way. It repeats,
row by row, what :func:`audit.data.prepare_dataset` did to the audited rows: rows without a
target are dropped, the label is ``str(target) == positive label`` (a multiclass target: the
class's code in ``dataset.classes``), features are coerced
with :func:`audit.data.align_current`, and sensitive values become the same group labels
(a numeric sensitive column binned into the quartile bins found on the audited rows).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from audit.data import align_current
from audit.data.columns import as_text, count_labelled, is_numeric, labelled

LABEL, SCORE, PRED = "__audit_label__", "__audit_score__", "__audit_pred__"


@dataclass(frozen=True)
class GroupBins:
    """Quartile bins of a numeric sensitive column: inner edges and the label of every bin."""

    inner: tuple[float, ...]
    labels: tuple[str, ...]


@dataclass(frozen=True)
class RowPlan:
    """What a worker needs to prepare a partition (small: no rows, only the schema and the model).

    The attribute names ``features``, ``numeric``, ``target``, ``sensitive`` and ``predictions``
    are those :func:`audit.data.align_current` reads from a dataset.
    """

    target: str
    positive_label: str
    target_dtype: str
    features: tuple[str, ...]
    numeric: tuple[str, ...]
    sensitive: tuple[str, ...]
    sensitive_dtypes: Mapping[str, str]
    bins: Mapping[str, GroupBins]
    scorer: Callable[[pd.DataFrame], np.ndarray]  # P(y=1) (binary) or (n, k) class probabilities
    predictions: str | None = None  # never carried: only the features are scored
    classes: tuple[str, ...] = ()  # a multiclass target's labels in code order; empty when binary


def group_bins(s: pd.Series) -> GroupBins | None:
    """The bins ``audit.data.schema._group_labels`` gives ``s`` (None when it keeps the values)."""
    if not (is_numeric(s) and s.nunique(dropna=True) > 10):
        return None
    binned, edges = pd.qcut(s, q=4, duplicates="drop", retbins=True)
    return GroupBins(tuple(float(e) for e in edges[1:-1]), tuple(str(c) for c in binned.cat.categories))


def make_plan(dataset, scorer: Callable[[pd.DataFrame], np.ndarray]) -> RowPlan:
    """The plan of ``dataset`` (a binary or multiclass :class:`audit.data.Dataset`) scored by ``scorer``."""
    frame = dataset.frame
    bins = {s: b for s in dataset.sensitive if (b := group_bins(frame[s])) is not None}
    return RowPlan(target=dataset.target, positive_label=str(dataset.positive_label),
                   target_dtype=str(frame[dataset.target].dtype), features=tuple(dataset.features),
                   numeric=tuple(dataset.numeric), sensitive=tuple(dataset.sensitive),
                   sensitive_dtypes={s: str(frame[s].dtype) for s in dataset.sensitive}, bins=bins, scorer=scorer,
                   classes=tuple(dataset.classes) if dataset.task == "multiclass" else ())


def as_dtype(s: pd.Series, dtype: str) -> pd.Series:
    # A partition with a missing value reads an integer column as float, one without as int:
    # the values are brought to the audited rows' dtype so that str(value) gives the same label.
    if is_numeric(s) and str(s.dtype) != dtype and dtype.startswith(("int", "float")):
        try:
            return s.astype(dtype)
        except (TypeError, ValueError):
            return s
    return s


def _groups(part: pd.DataFrame, plan: RowPlan) -> dict[str, np.ndarray]:
    out = {}
    for col in plan.sensitive:
        s = as_dtype(part[col], plan.sensitive_dtypes[col])
        b = plan.bins.get(col)
        if b is None:
            out[col] = as_text(s, "missing")
            continue
        v = pd.to_numeric(s, errors="coerce").to_numpy(dtype=float)
        # Bin i is (e_i, e_i+1]: the number of inner edges strictly below v.
        idx = np.searchsorted(np.asarray(b.inner), v, side="left")
        labels = np.asarray(b.labels, dtype=object)[np.minimum(idx, len(b.labels) - 1)]
        out[col] = np.where(np.isnan(v), "missing", labels).astype(object)
    return out


def _class_codes(y: pd.Series, classes: tuple[str, ...]) -> np.ndarray:
    codes = y.astype(str).map({c: k for k, c in enumerate(classes)})
    if codes.isna().any():
        # Every class of the table is among the audited rows (the cluster's sample keeps rows of
        # every class), so this is a partition whose target holds a value no audited row had.
        unknown = sorted(set(y.astype(str)[codes.isna()]))[:5]
        raise ValueError(f"target values {unknown} are not among the audited classes {list(classes)[:20]}")
    return codes.to_numpy(dtype=np.int64)


def prepare_rows(part: pd.DataFrame, plan: RowPlan) -> pd.DataFrame:
    """Label, score and group columns of the labelled rows of ``part`` (one column per sensitive
    attribute); a multiclass model's predicted class and one score column per class instead of one."""
    part = part.iloc[np.flatnonzero(labelled(part[plan.target]))].reset_index(drop=True)
    y = as_dtype(part[plan.target], plan.target_dtype)
    X = align_current(part, plan)[list(plan.features)] if len(part) else part[list(plan.features)]
    groups = _groups(part, plan)
    if not plan.classes:
        label = (y.astype(str) == plan.positive_label).to_numpy(dtype=np.int64)
        score = np.asarray(plan.scorer(X), dtype=float) if len(part) else np.zeros(0)
        return pd.DataFrame({LABEL: label, SCORE: score, **groups})
    k = len(plan.classes)
    proba = np.asarray(plan.scorer(X), dtype=float).reshape(-1, k) if len(part) else np.zeros((0, k))
    return pd.DataFrame({LABEL: _class_codes(y, plan.classes), PRED: proba.argmax(axis=1).astype(np.int64),
                         **{f"{SCORE}_{c}": proba[:, c] for c in range(k)}, **groups})


def meta(plan: RowPlan) -> pd.DataFrame:
    """The empty frame :func:`prepare_rows` returns, for ``map_partitions``."""
    scores = ({SCORE: pd.Series(dtype="float64")} if not plan.classes else
              {PRED: pd.Series(dtype="int64"), **{f"{SCORE}_{c}": pd.Series(dtype="float64") for c in range(len(plan.classes))}})
    return pd.DataFrame({LABEL: pd.Series(dtype="int64"), **scores, **{s: pd.Series(dtype=object) for s in plan.sensitive}})


class PipelineScorer:
    """P(y=1) from a fitted scikit-learn pipeline: what ``TrainedModels.score`` gives a binary task,
    holding only the pipeline so that a worker is sent the model, not the audit's data."""

    def __init__(self, pipeline) -> None:
        self.pipeline = pipeline

    def __call__(self, X: pd.DataFrame) -> np.ndarray:
        from audit.models.fast_scoring import predict_proba

        return predict_proba(self.pipeline, X)[:, 1]


class ProbaScorer:
    """A multiclass pipeline's (n, k) class probabilities, widened to every class code like
    ``TrainedModels.proba``, so that the predicted class is the one every other section sees."""

    def __init__(self, pipeline, k: int) -> None:
        self.pipeline, self.k = pipeline, k

    def __call__(self, X: pd.DataFrame) -> np.ndarray:
        from audit.models.multiclass import class_proba

        return class_proba(self.pipeline, X, self.k)


__all__ = ["GroupBins", "LABEL", "PRED", "as_dtype", "PipelineScorer", "ProbaScorer", "RowPlan", "SCORE", "count_labelled", "group_bins", "labelled",
           "make_plan", "meta", "prepare_rows"]
