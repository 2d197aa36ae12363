"""Shallow decision trees a person can read: the global surrogate, and the rule text they share.

Trees are fitted on a *readable* encoding (raw numbers, one column ``feature = category``
per category) rather than on the audited pipeline's encoding, whose numbers may be
standardised: a rule reads "age > 30.5", not "num__age > -0.62". Each leaf becomes a
rule whose conditions are merged per feature ("30.5 < age <= 45.5", "race not in {A, B}").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.metrics import r2_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

from audit.models.fast_scoring import transform as fast_transform
from audit.serial import ReportMixin

_RARE = "(rare categories)"


class ReadableEncoder:
    """Median-imputed raw numbers plus one 0/1 column per category, with readable column names."""

    def __init__(self, numeric: tuple[str, ...], categorical: tuple[str, ...]):
        self.numeric, self.categorical = tuple(numeric), tuple(categorical)
        transformers = []
        if numeric:
            # keep_empty_features: an all-missing column stays (as 0) so columns keep their names and order.
            transformers.append(("num", SimpleImputer(strategy="median", keep_empty_features=True), list(numeric)))
        if categorical:
            onehot = OneHotEncoder(handle_unknown="infrequent_if_exist", min_frequency=5, sparse_output=False,
                                   feature_name_combiner=_combine)
            transformers.append(("cat", Pipeline([("impute", SimpleImputer(strategy="constant", fill_value="missing")),
                                                  ("onehot", onehot)]), list(categorical)))
        self._ct = ColumnTransformer(transformers, remainder="drop", verbose_feature_names_out=False)
        self.columns: tuple[str, ...] = ()
        # readable column -> (feature, category) for one-hot columns; numbers are absent
        self.onehot: dict[str, tuple[str, str]] = {}

    def fit(self, X: pd.DataFrame) -> "ReadableEncoder":
        self._ct.fit(X)
        self.columns = tuple(self._ct.get_feature_names_out())
        # Longest feature name first, so "a = b" is not mistaken for feature "a" when a feature is called "a = b".
        prefixes = sorted(self.categorical, key=len, reverse=True)
        numeric = set(self.numeric)
        for col in (c for c in self.columns if c not in numeric):
            feat = next(f for f in prefixes if col.startswith(f"{f} = "))
            self.onehot[col] = (feat, col[len(feat) + 3:])
        return self

    def transform(self, X: pd.DataFrame) -> np.ndarray:
        # Through distinct values on a large frame (the same matrix): 200,000 test rows took 0.8 s.
        return np.asarray(fast_transform(self._ct, X), dtype=np.float64)


def _combine(feature: str, category: object) -> str:
    cat = str(category)
    return f"{feature} = {_RARE if cat == 'infrequent_sklearn' else cat}"


def _fmt(x: float) -> str:
    return f"{x:.4g}"


def leaf_conditions(tree, encoder: ReadableEncoder) -> dict[int, tuple[str, ...]]:
    """For every leaf id of a fitted sklearn tree, its path as merged readable conditions."""
    t = tree.tree_
    out: dict[int, tuple[str, ...]] = {}

    def walk(node: int, path: list[tuple[int, bool, float]]) -> None:
        if t.children_left[node] == -1:
            out[node] = _merge(path, encoder)
            return
        f, thr = int(t.feature[node]), float(t.threshold[node])
        walk(int(t.children_left[node]), path + [(f, True, thr)])
        walk(int(t.children_right[node]), path + [(f, False, thr)])

    walk(0, [])
    return out


def _merge(path: list[tuple[int, bool, float]], encoder: ReadableEncoder) -> tuple[str, ...]:
    """Merge a root-to-leaf path into one condition per feature, in order of first appearance."""
    order: list[str] = []
    bounds: dict[str, list[float]] = {}  # numeric feature -> [lower (exclusive), upper (inclusive)]
    equal: dict[str, str] = {}
    unequal: dict[str, list[str]] = {}
    for f, left, thr in path:
        col = encoder.columns[f]
        if col in encoder.onehot:
            feat, cat = encoder.onehot[col]
            if feat not in order:
                order.append(feat)
            # A 0/1 column splits at 0.5: left is "not this category", right is "this category".
            if left:
                unequal.setdefault(feat, []).append(cat)
            else:
                equal[feat] = cat
        else:
            if col not in order:
                order.append(col)
            lo, hi = bounds.setdefault(col, [-np.inf, np.inf])
            bounds[col] = [lo, min(hi, thr)] if left else [max(lo, thr), hi]
    out = []
    for feat in order:
        if feat in equal:
            out.append(f"{feat} = {equal[feat]}")
        elif feat in unequal:
            cats = unequal[feat]
            out.append(f"{feat} != {cats[0]}" if len(cats) == 1 else f"{feat} not in {{{', '.join(cats)}}}")
        else:
            lo, hi = bounds[feat]
            if np.isfinite(lo) and np.isfinite(hi):
                out.append(f"{_fmt(lo)} < {feat} <= {_fmt(hi)}")
            elif np.isfinite(hi):
                out.append(f"{feat} <= {_fmt(hi)}")
            else:
                out.append(f"{feat} > {_fmt(lo)}")
    return tuple(out)


@dataclass(frozen=True)
class SurrogateRule(ReportMixin):
    """One leaf of the surrogate: its conditions, what it predicts and on how many training rows.

    ``prediction`` is the class the leaf predicts (1 = positive) for a binary task and the
    mean model prediction for regression; ``positive_share`` is the share of the leaf's
    training rows the audited model predicts positive (NaN for regression).
    """

    conditions: tuple[str, ...]
    prediction: float
    positive_share: float
    n_rows: int


@dataclass(frozen=True)
class SurrogateTree(ReportMixin):
    """A depth-limited decision tree fitted to the audited model's predictions on the training split.

    ``fidelity`` is measured on the test split: agreement with the model's 0/1 predictions
    (binary) or R² against its predictions (regression). ``baseline_fidelity`` is the
    agreement of always predicting the model's most frequent prediction, for scale.
    """

    max_depth: int
    n_train: int
    n_test: int
    fidelity_metric: str
    fidelity: float
    baseline_fidelity: float
    n_leaves: int
    rules: tuple[SurrogateRule, ...]
    text: str


def fit_surrogate(
    encoder: ReadableEncoder,
    X_train: pd.DataFrame,
    pred_train: np.ndarray,
    X_test: pd.DataFrame,
    pred_test: np.ndarray,
    *,
    task: str,
    max_depth: int,
    positive_name: str,
    seed: int,
    class_names: tuple[str, ...] = (),
) -> SurrogateTree:
    """Fit the surrogate to the model's predictions and describe it as rules.

    Multiclass: the tree predicts the model's predicted class (codes into ``class_names``);
    a rule's ``positive_share`` is the share of its rows the model gives the rule's class.
    """
    Ztr, Zte = encoder.transform(X_train), encoder.transform(X_test)
    multi = task == "multiclass"
    binary = task == "binary" or multi
    tree = (DecisionTreeClassifier if binary else DecisionTreeRegressor)(max_depth=max_depth, random_state=seed)
    tree.fit(Ztr, pred_train)
    sur_test = tree.predict(Zte)
    if binary:
        fidelity = float(np.mean(sur_test == pred_test))
        majority = np.bincount(pred_train.astype(np.int64)).argmax() if multi else (1 if pred_train.mean() >= 0.5 else 0)
        baseline = float(np.mean(pred_test == majority))
        metric = "agreement"
    else:
        fidelity = float(r2_score(pred_test, sur_test)) if len(pred_test) > 1 else float("nan")
        baseline, metric = 0.0, "r2"
    conds = leaf_conditions(tree, encoder)
    leaf_of = tree.apply(Ztr)
    rules = []
    for leaf, c in conds.items():
        m = leaf_of == leaf
        n = int(m.sum())
        if binary:
            pred = float(tree.classes_[int(np.argmax(tree.tree_.value[leaf][0]))])
            share = float(np.mean(pred_train[m] == pred) if multi else pred_train[m].mean()) if n else float("nan")
        else:
            share, pred = float("nan"), float(tree.tree_.value[leaf][0][0])
        rules.append(SurrogateRule(conditions=c, prediction=pred, positive_share=share, n_rows=n))
    rules.sort(key=lambda r: -r.n_rows)
    lines = []
    for r in rules:
        cond = " AND ".join(r.conditions) or "always"
        if multi:
            what = class_names[int(r.prediction)]
            lines.append(f"IF {cond} THEN {what}  (model predicts {what} for {r.positive_share:.0%} of {r.n_rows:,} training rows)")
        elif binary:
            what = positive_name if r.prediction == 1 else f"not {positive_name}"
            lines.append(f"IF {cond} THEN {what}  (model predicts {positive_name} for {r.positive_share:.0%} of {r.n_rows:,} training rows)")
        else:
            lines.append(f"IF {cond} THEN {r.prediction:.4g}  ({r.n_rows:,} training rows)")
    return SurrogateTree(max_depth=max_depth, n_train=len(Ztr), n_test=len(Zte), fidelity_metric=metric, fidelity=fidelity,
                         baseline_fidelity=baseline, n_leaves=int(tree.get_n_leaves()), rules=tuple(rules), text="\n".join(lines))
