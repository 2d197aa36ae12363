"""A baseline pipeline's probabilities over many rows, with its categorical columns encoded
through their distinct values.

Profiled on 500,000 Adult-like rows (the every-row statistics' partitions), half of scoring the
audited gradient boosting went to the ColumnTransformer's categorical branch: scikit-learn turns
pandas' Arrow-backed strings into Python objects, then the imputer and the one-hot encoder look
every value up in Python dictionaries. Both steps are fitted, row-wise maps (a value's encoding
does not depend on the other rows), so the branch is applied to each column's distinct values
(``pd.factorize``, in C) and the encoded rows are gathered by code: the same matrix, built from a
few hundred values instead of millions. scikit-learn has no such mode, hence this module.

A histogram gradient boosting is then scored on binned features, as scikit-learn scores its own
training rows while fitting: each feature mapped to its bin once (``_BinMapper.transform``) and
every tree walked on the uint8 bins (``predict_binned``). A node sends x left when
x <= thresholds[b] and the binned walk when bin(x) <= b, which is the same test since the bins
are those thresholds' intervals, so the sums, added in the same order, are the same floats. On
a 500,000-row partition with one thread: 2.6 s against 11.9 s (a row of 107 float64 features is
856 bytes, of bins 107). These are scikit-learn's private names, pinned with its version.

The shortcuts are taken only for the pipelines :func:`audit.models.pipelines.make_preprocessor`
builds (and a gradient boosting without native categorical features), and their output is
checked against the pipeline's own transform and the model's own raw predictions on the first
rows of every call; any difference, or a model of another shape, uses the pipeline as it is.
"""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder

_MIN_ROWS = 20_000  # below this the pipeline's own transform is as fast
_CHECK_ROWS = 2_000  # rows compared with the pipeline's own transform on every call


def _row_wise_branch(trans) -> bool:
    if not isinstance(trans, Pipeline) or len(trans.steps) != 2:
        return False
    (_, imp), (_, enc) = trans.steps
    return (isinstance(imp, SimpleImputer) and imp.strategy == "constant" and not imp.add_indicator
            and isinstance(enc, OneHotEncoder) and not enc.sparse_output and hasattr(enc, "_n_features_outs"))


def _one_kind_of_missing(col: pd.Series) -> bool:
    """Whether a column's missing cells are all of one kind. ``pd.factorize`` counts None, NaN and
    ``pd.NA`` as one value, encoded as its first cell is; scikit-learn's imputer does not always
    treat them alike (an object column mixing None, the Arrow strings' NA and NaN, as the
    robustness section's blanked copies of Adult's rows do, encoded differently), so such a
    column is left to the pipeline."""
    if col.dtype != object:
        return True
    na = col.isna().to_numpy()
    return not na.any() or len({type(v) for v in col.to_numpy()[na]}) == 1


def _encode_by_values(trans: Pipeline, X: pd.DataFrame, cols: list[str]) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    """``trans.transform(X[cols])`` of each column's distinct values: each column's codes, the
    encoded distinct values and each column's edges in them (:func:`_write_encoded` lays them out)."""
    factors = [pd.factorize(X[c], use_na_sentinel=False) for c in cols]
    # Only a column whose distinct values include a missing one can mix kinds of missing cells.
    if not all(_one_kind_of_missing(X[c]) for c, (_, u) in zip(cols, factors) if pd.isna(u).any()):
        raise ValueError("a column holds missing cells of several kinds")  # the pipeline's transform decides
    width = max(len(u) for _, u in factors)
    small = {}
    for c, (codes, uniques) in zip(cols, factors):
        # The first row holding each distinct value, so the values keep the column's own dtype.
        pos = np.flatnonzero(~pd.Series(codes).duplicated().to_numpy())
        first = np.empty(len(uniques), dtype=np.int64)
        first[codes[pos]] = pos
        small[c] = X[c].take(np.resize(first, width)).reset_index(drop=True)
    encoded = np.asarray(trans.transform(pd.DataFrame(small)), dtype=np.float64)
    edges = np.concatenate([[0], np.cumsum(trans.steps[-1][1]._n_features_outs)])
    return [codes for codes, _ in factors], encoded, edges


def _write_encoded(out: np.ndarray, start: int, codes: list[np.ndarray], encoded: np.ndarray, edges: np.ndarray) -> None:
    """Each row's encoding of its values, written into ``out[:, start:]``.

    A one-hot column group (at most one 1 a row, the rest 0) is written as its ones alone into
    zeros: gathering whole rows of the encoded values and stacking the blocks wrote the matrix
    three times (1.1 s a call on 200,000 rows in the 1M audit, half of it first touches of
    fresh memory); any other block is gathered."""
    flat, stride = out.reshape(-1), out.shape[1]
    for j, c in enumerate(codes):
        a, b = start + edges[j], start + edges[j + 1]
        block = encoded[:, edges[j]:edges[j + 1]]
        hot = block != 0
        if (hot.sum(axis=1) > 1).any() or (block[hot] != 1).any():
            out[:, a:b] = block[c]
            continue
        out[:, a:b] = 0
        col = np.where(hot.any(axis=1), hot.argmax(axis=1), -1)[c]  # -1: no column (an unknown value)
        rows = np.flatnonzero(col >= 0)
        flat[rows * stride + a + col[rows]] = 1.0


def _transform(pre: ColumnTransformer, X: pd.DataFrame) -> np.ndarray | None:
    parts: list = []
    for name, trans, cols in pre.transformers_:
        if trans == "drop":
            continue
        if name == "remainder" or trans == "passthrough":
            return None
        cols = list(cols)
        if name == "cat" and _row_wise_branch(trans):
            parts.append(_encode_by_values(trans, X, cols))
        else:
            parts.append(np.asarray(trans.transform(X[cols]), dtype=np.float64))
    if not parts:
        return None
    widths = [p.shape[1] if isinstance(p, np.ndarray) else int(p[2][-1]) for p in parts]
    out = np.empty((len(X), sum(widths)), dtype=np.float64)  # one matrix, each branch written in place
    start = 0
    for p, w in zip(parts, widths):
        if isinstance(p, np.ndarray):
            out[:, start:start + w] = p
        else:
            _write_encoded(out, start, *p)
        start += w
    return out


def _fast_shape(pipe) -> bool:
    return (isinstance(pipe, Pipeline) and len(pipe.steps) == 2 and pipe.steps[0][0] == "pre"
            and isinstance(pipe.steps[0][1], ColumnTransformer) and not pipe.steps[0][1].sparse_output_)


def transform(pre, X: pd.DataFrame):
    """``pre.transform(X)`` of a fitted ColumnTransformer, its categorical branch encoded through
    distinct values for a large ``X``: checked against ``pre``'s own transform of the first rows
    of every call, which decides on any difference (as it does below 20,000 rows)."""
    if len(X) < _MIN_ROWS or not isinstance(pre, ColumnTransformer) or pre.sparse_output_:
        return pre.transform(X)
    try:
        Xt = _transform(pre, X)
    except (TypeError, ValueError):  # a value the shortcut cannot group: the transformer decides
        Xt = None
    if Xt is None:
        return pre.transform(X)
    head = pre.transform(X.iloc[:_CHECK_ROWS])
    if not (isinstance(head, np.ndarray) and head.dtype == Xt.dtype and head.shape == Xt[:_CHECK_ROWS].shape
            and np.array_equal(head, Xt[:_CHECK_ROWS], equal_nan=True)):
        return pre.transform(X)
    return Xt


def predict_proba(pipe, X: pd.DataFrame) -> np.ndarray:
    """``pipe.predict_proba(X)``, with the encoding of distinct values above for large ``X``."""
    if len(X) < _MIN_ROWS or not _fast_shape(pipe):
        return pipe.predict_proba(X)
    return _model_proba(pipe.steps[1][1], transform(pipe.steps[0][1], X))


def _binned_ok(model) -> bool:
    from sklearn.ensemble import HistGradientBoostingClassifier

    return (isinstance(model, HistGradientBoostingClassifier) and getattr(model, "is_categorical_", None) is None
            and getattr(model, "_preprocessor", None) is None and hasattr(model, "_bin_mapper")
            and hasattr(model, "_predictors") and not getattr(model, "_in_fit", False))


def _binned_raw(model, Xt: np.ndarray) -> np.ndarray:
    """``model._raw_predict(Xt)``, walking the trees on the binned features."""
    from sklearn.utils._openmp_helpers import _openmp_effective_n_threads

    # The mapper keeps the thread count of the machine that fitted it; None takes this
    # process's (OMP_NUM_THREADS, threadpoolctl's limits), as the trees' walk below does.
    mapper = copy.copy(model._bin_mapper)
    mapper.n_threads = None
    binned = mapper.transform(Xt)
    raw = np.zeros((len(Xt), model.n_trees_per_iteration_), dtype=model._baseline_prediction.dtype, order="F")
    raw += model._baseline_prediction
    threads, missing = _openmp_effective_n_threads(), model._bin_mapper.missing_values_bin_idx_
    for trees in model._predictors:  # in fitting order, as _raw_predict adds them
        for k, tree in enumerate(trees):
            raw[:, k] += tree.predict_binned(binned, missing_values_bin_idx=missing, n_threads=threads)
    return raw


def encoded_proba(model, Xt: np.ndarray) -> np.ndarray:
    """``model.predict_proba(Xt)`` of already encoded rows (a pipeline's final step), binned for a
    gradient boosting (checked): the same probabilities, for callers that hold the encoded matrix."""
    if not isinstance(Xt, np.ndarray):  # a sparse or other matrix: the model scores it as it is
        return model.predict_proba(Xt)
    return _model_proba(model, Xt)


def _model_proba(model, Xt: np.ndarray) -> np.ndarray:
    """``model.predict_proba(Xt)`` of the encoded rows, binned for a gradient boosting (checked)."""
    if len(Xt) < _MIN_ROWS or not _binned_ok(model):
        return model.predict_proba(Xt)
    try:
        raw = _binned_raw(model, Xt)
        head = model._raw_predict(Xt[:_CHECK_ROWS])
    except (AttributeError, TypeError, ValueError):  # another scikit-learn's internals: its own path
        return model.predict_proba(Xt)
    if head.shape != raw[:_CHECK_ROWS].shape or not np.array_equal(head, raw[:_CHECK_ROWS]):
        return model.predict_proba(Xt)
    return model._loss.predict_proba(raw)


__all__ = ["encoded_proba", "predict_proba", "transform"]
