"""The user's callable model dressed as a two-step scikit-learn pipeline, for model-agnostic sections.

Explanations (permutation SHAP, permutation importance) and the attacks work on a
``Pipeline([("pre", ...), ("model", ...)])``. For a user's model the ``pre`` step
is a codec with one column per original feature (numbers as they are, categories
as integer codes), and ``model`` decodes those rows back into a raw frame and asks
the user's model. So every encoded column is exactly one original feature, the
model is only ever queried as a black box, and nothing is refitted.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, TransformerMixin
from sklearn.pipeline import Pipeline


class RawCodec(TransformerMixin, BaseEstimator):
    """Raw features <-> one float column each (categories as codes into a fixed sorted list; NaN = missing)."""

    def __init__(self, features: tuple[str, ...] = (), categories: dict | None = None) -> None:
        self.features = features
        self.categories = categories
        self.n_features_in_ = len(features)

    def fit(self, X, y=None):  # already complete: the category lists come from the data set
        return self

    def transform(self, X: pd.DataFrame) -> np.ndarray:
        out = np.empty((len(X), len(self.features)), dtype=np.float64)
        for j, f in enumerate(self.features):
            cats = self.categories.get(f)
            if cats is None:
                out[:, j] = pd.to_numeric(X[f], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
            else:
                codes = pd.Categorical(X[f].astype(object).where(X[f].notna(), None), categories=cats).codes
                out[:, j] = np.where(codes < 0, np.nan, codes)
        return out

    def decode(self, Z: np.ndarray) -> pd.DataFrame:
        Z = np.asarray(Z, dtype=np.float64)
        cols: dict[str, Any] = {}
        for j, f in enumerate(self.features):
            cats = self.categories.get(f)
            if cats is None:
                cols[f] = Z[:, j]
            else:
                # A masked or perturbed code is rounded to the nearest category, as a row of the data would be.
                idx = np.clip(np.nan_to_num(np.rint(Z[:, j]), nan=-1), -1, len(cats) - 1).astype(int)
                vals = np.asarray(cats, dtype=object)[np.maximum(idx, 0)]
                cols[f] = np.where(idx < 0, None, vals)
        return pd.DataFrame(cols)

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        return np.asarray(self.features, dtype=object)


class _UserEstimator(BaseEstimator):
    def __init__(self, user: Any = None, codec: RawCodec | None = None) -> None:
        self.user, self.codec = user, codec
        self.n_features_in_ = len(codec.features) if codec is not None else 0

    def fit(self, Z, y=None):  # never refitted: the user's model is audited as given
        return self


class UserClassifier(ClassifierMixin, _UserEstimator):
    classes_ = np.array([0, 1])

    def predict_proba(self, Z) -> np.ndarray:
        s = self.user.score(self.codec.decode(Z))
        return np.column_stack([1 - s, s])

    def decision_function(self, Z) -> np.ndarray:
        # The log-odds of the model's probability: what SHAP explains and AUC ranks by (same order).
        p = np.clip(self.predict_proba(Z)[:, 1], 1e-12, 1 - 1e-12)
        return np.log(p / (1 - p))

    def predict(self, Z) -> np.ndarray:
        return (self.predict_proba(Z)[:, 1] >= 0.5).astype(np.int64)


class UserRegressor(RegressorMixin, _UserEstimator):
    def predict(self, Z) -> np.ndarray:
        return self.user.score(self.codec.decode(Z))


def as_pipeline(user: Any, dataset) -> Pipeline:
    """A fitted-looking Pipeline whose every call reaches the user's model through raw rows."""
    cats = {}
    for f in dataset.categorical:
        vals = pd.unique(dataset.frame[f].dropna().astype(str))
        cats[f] = sorted(vals)
    codec = RawCodec(tuple(dataset.features), cats)
    est = UserClassifier(user, codec) if dataset.task == "binary" else UserRegressor(user, codec)
    return Pipeline([("pre", codec), ("model", est)])
