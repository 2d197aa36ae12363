"""The baselines' scikit-learn pipelines: preprocessing, estimators, metrics, and the map from
encoded columns back to original features. Split from :mod:`audit.models.baselines` (which
re-exports these names) so that module holds one idea: training and selecting.
"""



import numpy as np
from sklearn.compose import ColumnTransformer
from sklearn.dummy import DummyClassifier, DummyRegressor
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score, mean_absolute_error, r2_score, roc_auc_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from audit.models.encoder import CountedOneHotEncoder

from audit.errors import ConfigError
from audit.models.multiclass import multiclass_metric


MODEL_NAMES = ("dummy", "logistic", "hist_gb")
MODEL_LABELS = {
    "dummy": "Dummy (majority class / mean)",
    "logistic": "Logistic regression",
    "hist_gb": "Histogram gradient boosting",
    "user": "Your model",  # the user's own model or predictions (audit.models.attach)
}


def encoded_to_original(pipe: Pipeline, features: tuple[str, ...]) -> tuple[str, ...]:
    """Map each preprocessed column of ``pipe`` back to its original feature name."""
    pre: ColumnTransformer = pipe.named_steps["pre"]
    out: list[str] = []
    for trans_name, trans, cols in pre.transformers_:
        if trans_name == "remainder" or trans == "drop":
            continue
        cols = list(cols)
        if trans_name == "cat":
            enc: OneHotEncoder = trans.named_steps["onehot"]
            for col, cats in zip(cols, enc.categories_):
                n_out = len(cats)
                if enc.drop_idx_ is not None and enc.drop_idx_[cols.index(col)] is not None:
                    n_out -= 1
                infreq = getattr(enc, "infrequent_categories_", None)
                if infreq is not None and infreq[cols.index(col)] is not None:
                    n_out = n_out - len(infreq[cols.index(col)]) + 1
                out.extend([col] * n_out)
        else:
            out.extend(cols)
    return tuple(out)


def make_preprocessor(numeric: tuple[str, ...], categorical: tuple[str, ...], *, scale: bool) -> ColumnTransformer:
    """Imputation, one-hot for categoricals, and scaling when the model needs it."""
    num_steps = [("impute", SimpleImputer(strategy="median"))]
    if scale:
        num_steps.append(("scale", StandardScaler()))
    cat_steps = [
        ("impute", SimpleImputer(strategy="constant", fill_value="missing")),
        (
            "onehot",
            # scikit-learn's encoder, fitted from C-level value counts (audit.models.encoder).
            CountedOneHotEncoder(handle_unknown="infrequent_if_exist", min_frequency=5, sparse_output=False),
        ),
    ]
    transformers = []
    if numeric:
        transformers.append(("num", Pipeline(num_steps), list(numeric)))
    if categorical:
        transformers.append(("cat", Pipeline(cat_steps), list(categorical)))
    return ColumnTransformer(transformers, remainder="drop", verbose_feature_names_out=True)


def make_pipeline(name: str, task: str, numeric: tuple[str, ...], categorical: tuple[str, ...], *, seed: int) -> Pipeline:
    """A fresh, unfitted baseline pipeline (multiclass: multinomial logistic, multiclass boosting)."""
    clf = task in ("binary", "multiclass")
    if name == "dummy":
        est = DummyClassifier(strategy="prior") if clf else DummyRegressor(strategy="mean")
        scale = False
    elif name == "logistic":
        # newton-cholesky: ~4x faster than lbfgs here (few hundred one-hot columns), same optimum.
        est = LogisticRegression(max_iter=1000, C=1.0, solver="newton-cholesky") if clf else Ridge(alpha=1.0)
        scale = True
    elif name == "hist_gb":
        # learning_rate 0.2 halves the iterations of 0.1 at the same validation AUC on Adult.
        kw = dict(max_iter=200, learning_rate=0.2, early_stopping=True, validation_fraction=0.1, n_iter_no_change=10, random_state=seed)
        est = HistGradientBoostingClassifier(**kw) if clf else HistGradientBoostingRegressor(**kw)
        scale = False
    else:
        raise ConfigError(f"unknown model {name!r}: expected some of {', '.join(MODEL_NAMES)}")
    return Pipeline([("pre", make_preprocessor(numeric, categorical, scale=scale)), ("model", est)])


def metric_value(metric: str, y_true: np.ndarray, score: np.ndarray, threshold: float = 0.5) -> float:
    """Score ``metric`` from positive-class scores (binary), an (n, k) probability matrix
    (multiclass: one-vs-rest macro ROC AUC, macro F1) or predictions (regression)."""
    if np.ndim(score) == 2:
        return multiclass_metric(metric, np.asarray(y_true), np.asarray(score))
    if metric == "roc_auc":
        if len(np.unique(y_true)) < 2:
            return float("nan")
        return float(roc_auc_score(y_true, score))
    pred = (score >= threshold).astype(int)
    if metric == "accuracy":
        return float(accuracy_score(y_true, pred))
    if metric == "balanced_accuracy":
        return float(balanced_accuracy_score(y_true, pred))
    if metric == "f1":
        return float(f1_score(y_true, pred, zero_division=0))
    if metric == "r2":
        return float(r2_score(y_true, score))
    if metric == "neg_mae":
        return -float(mean_absolute_error(y_true, score))
    raise ConfigError(f"unknown selection metric {metric!r}")
