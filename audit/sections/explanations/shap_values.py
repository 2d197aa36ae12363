"""SHAP values of the audited pipeline, summed back to the original features.

The explainer is the fastest exact one that fits the fitted estimator:
``TreeExplainer`` (path-dependent, no background needed) for tree ensembles,
``LinearExplainer`` for linear models, and otherwise a model-agnostic
``PermutationExplainer``. Tree and linear explainers work on the encoded matrix
(after the pipeline's ``pre`` step) and one-hot columns are summed back to their
feature; the agnostic explainer plays the *original* features directly (the
pipeline is part of the model it explains), which gives exact Shapley values of
the grouped features rather than sums of per-column values.

Nothing here reaches a report: :class:`ShapResult` holds numpy arrays that
``audit.sections.explanations.section`` turns into plain values. ``shap`` is imported lazily because
its import takes seconds.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.ensemble import (
    ExtraTreesClassifier,
    ExtraTreesRegressor,
    GradientBoostingClassifier,
    GradientBoostingRegressor,
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

from audit.errors import ConfigError

EXPLAINERS = ("auto", "tree", "linear", "permutation")
_TREE_MODELS = (
    HistGradientBoostingClassifier, HistGradientBoostingRegressor,
    GradientBoostingClassifier, GradientBoostingRegressor,
    RandomForestClassifier, RandomForestRegressor,
    ExtraTreesClassifier, ExtraTreesRegressor,
    DecisionTreeClassifier, DecisionTreeRegressor,
)
_BACKGROUND = {
    "tree": "the training rows as counted in the trees' nodes (path-dependent TreeSHAP)",
    "linear": "the mean of the {n} training rows (interventional)",
    "permutation": "{n} random training rows (interventional)",
    "onnx_tree": "{n} random training rows (interventional TreeSHAP on the trees read from the ONNX graph, {note})",
}
# Classifiers whose decision_function is the log-odds of the positive class.
_LOG_ODDS_MODELS = (LogisticRegression, HistGradientBoostingClassifier, GradientBoostingClassifier)


@dataclass(frozen=True, eq=False)
class ShapResult:
    """SHAP values of ``n`` rows, one column per original feature (internal; never in a report)."""

    explainer: str
    output_space: str
    values: np.ndarray  # (n, n_features); multiclass: (n, n_features, n_classes)
    base_value: float  # multiclass: an array, one base value per class
    outputs: np.ndarray  # the model's own raw output on the rows, for the additivity check; multiclass (n, n_classes)
    n_background: int
    background: str  # what the base value averages over, in words
    n_permutations: int
    seconds: float

    @property
    def additivity_error(self) -> np.ndarray:
        return np.abs(self.base_value + self.values.sum(axis=1) - self.outputs)


class FeatureCodec:
    """Original features as one float matrix: numbers as they are, categories as integer codes.

    The category list of each categorical feature is sorted and built from the frames
    given, so codes are stable for a given data set; a missing category is NaN.
    """

    def __init__(self, features: tuple[str, ...], categorical: tuple[str, ...], frames: list[pd.DataFrame]):
        self.features = tuple(features)
        cat = set(categorical)
        self.categories: dict[str, tuple[str, ...]] = {}
        # Original category values are kept (not their strings) so decoded rows meet the
        # pipeline's one-hot encoder exactly as the training rows did.
        self._values: dict[str, list[object]] = {}
        for f in self.features:
            if f in cat:
                seen: dict[str, object] = {}
                for fr in frames:
                    for v in pd.unique(fr[f].dropna()):
                        seen.setdefault(str(v), v)
                keys = sorted(seen)
                self.categories[f] = tuple(keys)
                self._values[f] = [seen[k] for k in keys]

    def encode(self, X: pd.DataFrame) -> np.ndarray:
        out = np.empty((len(X), len(self.features)), dtype=np.float64)
        for j, f in enumerate(self.features):
            if f in self.categories:
                lookup = {v: float(i) for i, v in enumerate(self._values[f])}
                out[:, j] = [lookup.get(v, np.nan) if not pd.isna(v) else np.nan for v in X[f].to_numpy(dtype=object)]
            else:
                out[:, j] = pd.to_numeric(X[f], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
        return out


class GroupMasker:
    """A shap masker whose players are the original features, acting on the encoded matrix.

    Hiding a feature replaces *all* its encoded columns (e.g. its one-hot block) with a
    background row's. This is exact for the project's preprocessing, where every encoded
    column depends on one original feature only, and lets the permutation explainer call
    the estimator on numpy arrays instead of re-running the pandas preprocessing per
    coalition (~100x faster on Adult).
    """

    def __init__(self, background: np.ndarray, groups: np.ndarray):
        self.data = background
        self._group_of_column = groups.argmax(axis=1)  # groups: (n_encoded, n_features) 0/1
        self.shape = (len(background), groups.shape[1])

    def __call__(self, mask: np.ndarray, x: np.ndarray) -> tuple[np.ndarray]:
        keep = np.asarray(mask, dtype=bool)[self._group_of_column]
        out = self.data.copy()
        out[:, keep] = x[keep]
        return (out,)

    def mask_shapes(self, x: np.ndarray) -> list[tuple[int]]:
        return [(self.shape[1],)]

    def invariants(self, x: np.ndarray) -> np.ndarray:
        """(background rows, features): True where a background row already equals ``x`` on the feature.

        shap skips evaluating those rows, and a feature invariant on every row gets exactly 0.
        """
        same = np.isclose(self.data, x, equal_nan=True)
        out = np.ones(self.shape, dtype=bool)
        for j in range(self.shape[1]):
            out[:, j] = same[:, self._group_of_column == j].all(axis=1)
        return out


def choose_explainer(estimator: object) -> str:
    """``tree``, ``linear`` or ``permutation`` for a fitted estimator."""
    if isinstance(estimator, _TREE_MODELS):
        return "tree"
    # Duck-typed on scikit-learn's linear_model package rather than a class list:
    # LogisticRegression, Ridge, Lasso, SGD*, ... all expose coef_ / intercept_.
    if type(estimator).__module__.startswith("sklearn.linear_model") and hasattr(estimator, "coef_"):
        return "linear"
    return "permutation"


def raw_output(estimator: object, Z: np.ndarray, task: str) -> tuple[np.ndarray, str]:
    """The model output SHAP explains (decision function for classifiers) and its space.
    Multiclass: one column per class (the logits of a multinomial model)."""
    if task == "multiclass":
        if hasattr(estimator, "decision_function"):
            return np.asarray(estimator.decision_function(Z), dtype=np.float64), "logits"
        return np.asarray(estimator.predict_proba(Z), dtype=np.float64), "probability"
    if task != "binary":
        return np.asarray(estimator.predict(Z), dtype=np.float64), "raw"
    if hasattr(estimator, "decision_function"):
        space = "log_odds" if isinstance(estimator, _LOG_ODDS_MODELS) else "decision_function"
        return np.asarray(estimator.decision_function(Z), dtype=np.float64).reshape(len(Z)), space
    return np.asarray(estimator.predict_proba(Z)[:, 1], dtype=np.float64), "probability"


def aggregation_matrix(encoded_to_original: tuple[str, ...], features: tuple[str, ...]) -> np.ndarray:
    """(n_encoded, n_features) 0/1 matrix: right-multiplying sums one-hot columns into their feature."""
    pos = {f: j for j, f in enumerate(features)}
    A = np.zeros((len(encoded_to_original), len(features)))
    for i, f in enumerate(encoded_to_original):
        A[i, pos[f]] = 1.0
    return A


def compute_shap(
    pipe: Pipeline,
    *,
    task: str,
    X: pd.DataFrame,
    X_background: pd.DataFrame,
    encoded_to_original: tuple[str, ...],
    features: tuple[str, ...],
    explainer: str,
    n_background: int,
    n_permutations: int,
    seed: int,
    onnx_trees: object = None,
    trees_not_used: str = "",
) -> ShapResult:
    """SHAP values of ``pipe`` on the raw rows ``X``, per original feature.

    ``X_background`` (raw training rows) gives the linear explainer its mean and the
    permutation explainer its (sub-sampled) background; the tree explainer needs none.
    ``onnx_trees`` (from :func:`user_trees`) explains a user's ONNX tree model with TreeSHAP;
    ``trees_not_used`` says why a user's ONNX graph is explained model-agnostically instead.
    """
    import shap  # slow import, paid only when explanations run

    if onnx_trees is not None:
        return _onnx_tree_shap(*onnx_trees, pipe.named_steps["model"].user, X=X, X_background=X_background,
                               features=features, n_background=n_background, seed=seed)
    pre, est = pipe.named_steps["pre"], pipe.named_steps["model"]
    kind = choose_explainer(est) if explainer == "auto" else explainer
    if kind == "tree" and not isinstance(est, _TREE_MODELS):
        raise ConfigError(f"explanations.explainer 'tree' needs a tree ensemble; the audited model is a {type(est).__name__}")
    if kind == "linear" and choose_explainer(est) != "linear":
        raise ConfigError(f"explanations.explainer 'linear' needs a linear model; the audited model is a {type(est).__name__}")
    t0 = time.perf_counter()
    Z = np.asarray(pre.transform(X), dtype=np.float64)
    outputs, space = raw_output(est, Z, task)
    n_bg = 0
    if kind in ("tree", "linear"):
        if kind == "tree":
            # Path-dependent TreeSHAP: exact, uses the training counts stored in the trees, no background.
            ex = shap.TreeExplainer(est)
            sv = np.asarray(ex.shap_values(Z, check_additivity=False))
            ev = np.asarray(ex.expected_value, dtype=np.float64)
            if sv.ndim == 3 and task != "multiclass":  # forests explain both classes' probabilities: keep the positive
                sv, ev = sv[..., -1], ev.reshape(-1)[-1]
        else:
            Zb = np.asarray(pre.transform(X_background), dtype=np.float64)
            n_bg = len(Zb)
            # Mean and covariance given directly: a raw matrix would be cut to 100 random rows by the masker.
            ex = shap.LinearExplainer(est, (Zb.mean(axis=0), np.cov(Zb, rowvar=False)))
            sv = np.asarray(ex.shap_values(Z))
            ev = np.asarray(ex.expected_value, dtype=np.float64)
        A = aggregation_matrix(encoded_to_original, features)
        if task == "multiclass":  # (rows, encoded, classes) -> (rows, features, classes)
            values, base = np.einsum("nek,ef->nfk", sv.reshape(len(Z), A.shape[0], -1), A), ev.reshape(-1)
        else:
            values = sv.reshape(len(Z), -1) @ A
            base = float(ev.reshape(-1)[0])
    else:
        rng = np.random.default_rng(seed)
        take = np.sort(rng.choice(len(X_background), size=min(n_background, len(X_background)), replace=False))
        masker = GroupMasker(np.asarray(pre.transform(X_background.iloc[take]), dtype=np.float64),
                             aggregation_matrix(encoded_to_original, features))
        n_bg = len(take)
        # PermutationExplainer seeds numpy's global generator (np.random.seed) and draws from it;
        # that is the only way to make its permutations reproducible.
        ex = shap.PermutationExplainer(lambda Zm: raw_output(est, Zm, task)[0], masker, seed=seed)
        expl = ex(Z, max_evals=n_permutations * (2 * len(features) + 1), silent=True)
        # The explainer's base value is the mean output over the background rows; the additivity
        # check still compares against the model's own output on each row.
        if task == "multiclass":
            values = np.asarray(expl.values, dtype=np.float64).reshape(len(Z), len(features), -1)
            base = np.asarray(expl.base_values, dtype=np.float64).reshape(len(Z), -1)[0] if len(Z) else outputs.mean(axis=0)
        else:
            values = np.asarray(expl.values, dtype=np.float64).reshape(len(Z), len(features))
            base = float(np.ravel(expl.base_values)[0]) if len(Z) else float(outputs.mean() if len(outputs) else 0.0)
    background = _BACKGROUND[kind].format(n=n_bg) + (f"; the graph's trees were not used: {trees_not_used}" if trees_not_used else "")
    return ShapResult(explainer=kind, output_space=space, values=values, base_value=base, outputs=outputs,
                      n_background=n_bg, background=background,
                      n_permutations=n_permutations if kind == "permutation" else 0, seconds=time.perf_counter() - t0)


def pick_explainer(trained, est: object, explainer: str, seed: int) -> tuple[str, object, str]:
    """(explainer kind, the ONNX graph's trees or None, why a user's ONNX graph's trees are not used or "")."""
    kind = choose_explainer(est) if explainer == "auto" else explainer
    if getattr(getattr(trained, "user", None), "kind", None) != "onnx" or explainer not in ("auto", "tree"):
        return kind, None, ""
    trees, why_not = user_trees(trained, seed)
    if trees is not None:
        return "tree", trees, ""
    if explainer == "tree":
        raise ConfigError(f"explanations.explainer 'tree' needs a tree ensemble; the audited ONNX model's cannot be used: {why_not}")
    return kind, None, why_not


def user_trees(trained, seed: int, rows: int = 2000) -> tuple[object, str]:
    """(the ONNX graph's tree ensemble and its check, why) for a user's ONNX tree model, else (None, why not).

    The trees are checked against onnxruntime, and each column of their input traced to
    one original feature, on up to ``rows`` seeded training rows."""
    user = getattr(trained, "user", None)
    if user is None or getattr(user, "kind", None) != "onnx":
        return None, "not an ONNX model"
    from audit.models.onnx_trees import column_owners, read_tree_ensemble

    X = trained.X_train
    take = np.sort(np.random.default_rng(seed).choice(len(X), size=min(rows, len(X)), replace=False))
    X = X.iloc[take].reset_index(drop=True)
    ens, note = read_tree_ensemble(user, X)
    if ens is None:
        return None, note
    try:
        column_owners(ens, user, X, tuple(trained.dataset.features), seed)
    except ValueError as exc:
        return None, str(exc)
    return (ens, note), note


def _onnx_tree_shap(ens, note: str, user, *, X: pd.DataFrame, X_background: pd.DataFrame, features: tuple[str, ...],
                    n_background: int, seed: int) -> ShapResult:
    """Interventional TreeSHAP of the graph's trees on their input matrix, summed back to the original features."""
    import shap

    from audit.models.onnx_trees import AGREEMENT_TOLERANCE, column_owners, disagreement

    t0 = time.perf_counter()
    rng = np.random.default_rng(seed)
    take = np.sort(rng.choice(len(X_background), size=min(n_background, len(X_background)), replace=False))
    Xb = X_background.iloc[take].reset_index(drop=True)
    Z, Zb = ens.encode(user, X), ens.encode(user, Xb)
    outputs = ens.margin(Z)
    err = disagreement(ens.output(outputs), user.score(X))
    if err > AGREEMENT_TOLERANCE:
        raise ConfigError(f"the trees read from the ONNX graph differ from onnxruntime by {err:.3g} on the explained rows; "
                          "set [explanations] explainer = \"permutation\"")
    try:
        A = column_owners(ens, user, pd.concat([X, Xb], ignore_index=True), features, seed)
    except ValueError as exc:
        raise ConfigError(f"the ONNX graph's trees cannot be explained per feature: {exc}; "
                          "set [explanations] explainer = \"permutation\"") from exc
    ex = shap.TreeExplainer(ens.shap_model(), data=Zb, feature_perturbation="interventional")
    sv = np.asarray(ex.shap_values(Z, check_additivity=False), dtype=np.float64).reshape(len(Z), -1)
    base = float(np.ravel(ex.expected_value)[0])
    return ShapResult(explainer="tree", output_space=ens.output_space, values=sv @ A, base_value=base, outputs=outputs,
                      n_background=len(take), background=_BACKGROUND["onnx_tree"].format(n=len(take), note=note),
                      n_permutations=0, seconds=time.perf_counter() - t0)
