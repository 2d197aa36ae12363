"""The distinct-value encoding of a baseline pipeline's categorical columns gives the very
probabilities the pipeline gives, and steps aside for any pipeline it was not built for."""

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder

from audit.models import fast_scoring
from audit.models.multiclass import class_proba
from audit.models.pipelines import make_pipeline

NUM, CAT = ("age", "hours"), ("job", "city", "code")


def _frame(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    jobs = np.array(["clerk", "nurse", "pilot", "chef", "rare_job"])
    job = rng.choice(jobs, n, p=[0.4, 0.3, 0.2, 0.0998, 0.0002]).astype(object)
    job[rng.random(n) < 0.05] = None  # missing values go to the imputer's "missing"
    city = pd.array(rng.choice(["north", "south", "east"], n), dtype="string")
    return pd.DataFrame({
        "age": np.where(rng.random(n) < 0.03, np.nan, rng.normal(40, 10, n)),
        "hours": rng.integers(10, 60, n).astype(float),
        "job": job,
        "city": city,
        "code": pd.Categorical(rng.choice(["a", "b", "c", "d"], n)),
    })


def _fitted(name: str, task: str, y_of, seed: int = 0) -> tuple[Pipeline, pd.DataFrame]:
    train = _frame(3_000, seed)
    pipe = make_pipeline(name, task, NUM, CAT, seed=seed)
    pipe.fit(train, y_of(train))
    return pipe, train


def _binary_y(df: pd.DataFrame) -> np.ndarray:
    return ((df["job"].fillna("x") == "pilot") | (df["hours"] > 45)).astype(int).to_numpy()


def _three_class_y(df: pd.DataFrame) -> np.ndarray:
    return np.select([df["city"] == "north", df["hours"] > 40], [0, 1], 2)


def _scoring_frame(n: int = 25_000) -> pd.DataFrame:
    X = _frame(n, 7)
    # Values never seen in training: one after the checked head rows, one inside them.
    X.loc[n - 3, "job"] = "astronaut"
    X.loc[5, "job"] = "diver"
    return X


@pytest.mark.parametrize("name", ["logistic", "hist_gb"])
def test_binary_probabilities_are_the_pipelines_own(name):
    pipe, _ = _fitted(name, "binary", _binary_y)
    X = _scoring_frame()
    fast = fast_scoring.predict_proba(pipe, X)
    assert np.array_equal(fast, pipe.predict_proba(X))


def test_categorical_branch_sees_distinct_values_only(monkeypatch):
    pipe, _ = _fitted("logistic", "binary", _binary_y)
    seen = []
    cat = dict((n, t) for n, t, _ in pipe.named_steps["pre"].transformers_)["cat"]
    original = type(cat).transform

    def spy(self, X, **kw):
        if self is cat:
            seen.append(len(X))
        return original(self, X, **kw)

    monkeypatch.setattr(type(cat), "transform", spy)
    X = _scoring_frame()
    fast_scoring.predict_proba(pipe, X)
    # One row per distinct value of the widest column (job: its values, None, two unseen),
    # and the head of rows the result is checked against.
    widest = max(X[c].nunique(dropna=False) for c in CAT)
    assert widest == 8 and sorted(seen) == [widest, fast_scoring._CHECK_ROWS]


@pytest.mark.parametrize("name", ["logistic", "hist_gb"])
def test_multiclass_probabilities_are_the_pipelines_own(name):
    pipe, _ = _fitted(name, "multiclass", _three_class_y)
    X = _scoring_frame()
    assert np.array_equal(class_proba(pipe, X, 3), pipe.predict_proba(X))


def test_small_frames_and_other_shapes_use_the_pipeline():
    pipe, train = _fitted("logistic", "binary", _binary_y)
    assert np.array_equal(fast_scoring.predict_proba(pipe, train), pipe.predict_proba(train))
    # A sparse one-hot encoder outside the "cat" branch's expected shape: the pipeline decides.
    pre = ColumnTransformer([("cat", OneHotEncoder(handle_unknown="ignore"), list(CAT[:1]))], sparse_threshold=0)
    other = Pipeline([("pre", pre), ("model", LogisticRegression())])
    X = _scoring_frame()
    X["job"] = X["job"].fillna("none")
    other.fit(X.iloc[:3000], _binary_y(X.iloc[:3000]))
    assert not fast_scoring._row_wise_branch(other.named_steps["pre"].transformers_[0][1])
    assert np.array_equal(fast_scoring.predict_proba(other, X), other.predict_proba(X))


def test_a_mismatch_with_the_checked_head_falls_back(monkeypatch):
    pipe, _ = _fitted("logistic", "binary", _binary_y)
    X = _scoring_frame()

    def wrong(pre, frame):
        return np.zeros_like(pre.transform(frame), dtype=np.float64)

    monkeypatch.setattr(fast_scoring, "_transform", wrong)
    assert np.array_equal(fast_scoring.predict_proba(pipe, X), pipe.predict_proba(X))


@pytest.mark.parametrize("task, y_of", [("binary", _binary_y), ("multiclass", _three_class_y)])
def test_gradient_boosting_is_scored_on_bins(monkeypatch, task, y_of):
    pipe, _ = _fitted("hist_gb", task, y_of)
    calls, original = [], fast_scoring._binned_raw

    def spy(model, Xt):
        calls.append(len(Xt))
        return original(model, Xt)

    monkeypatch.setattr(fast_scoring, "_binned_raw", spy)
    X = _scoring_frame()  # NaN ages and unseen job values included
    assert np.array_equal(fast_scoring.predict_proba(pipe, X), pipe.predict_proba(X))
    assert calls == [len(X)]


def test_a_binned_mismatch_falls_back(monkeypatch):
    pipe, _ = _fitted("hist_gb", "binary", _binary_y)
    monkeypatch.setattr(fast_scoring, "_binned_raw", lambda model, Xt: np.zeros((len(Xt), 1)))
    X = _scoring_frame()
    assert np.array_equal(fast_scoring.predict_proba(pipe, X), pipe.predict_proba(X))


def test_native_categorical_boosting_is_not_binned():
    from sklearn.ensemble import HistGradientBoostingClassifier

    rng = np.random.default_rng(3)
    X = np.column_stack([rng.integers(0, 5, 3000), rng.normal(size=3000)]).astype(float)
    model = HistGradientBoostingClassifier(max_iter=20, categorical_features=[0], random_state=0)
    model.fit(X, (X[:, 0] == 2) ^ (X[:, 1] > 0))
    assert not fast_scoring._binned_ok(model)
    big = np.tile(X, (10, 1))
    assert np.array_equal(fast_scoring._model_proba(model, big), model.predict_proba(big))


def test_a_column_mixing_kinds_of_missing_cells_gets_the_pipelines_own_numbers():
    """factorize counts None and NaN as one value, encoded as its first cell is; in an object
    column scikit-learn imputes NaN but not None. A column holding both (the robustness section's
    blanked copies of a string column, scored together) is encoded by the pipeline itself."""
    pipe, _ = _fitted("logistic", "binary", _binary_y)
    X = _scoring_frame()
    job = X["job"].to_numpy(dtype=object, na_value=np.nan)  # NaN first (the head rows), None later
    na = np.flatnonzero(pd.isna(job))
    job[na[len(na) // 2:]] = None
    X["job"] = pd.Series(job, dtype=object, index=X.index)
    assert not fast_scoring._one_kind_of_missing(X["job"])
    assert fast_scoring._one_kind_of_missing(pd.Series(X["job"].to_numpy()[: na[len(na) // 2]], dtype=object))
    assert np.array_equal(fast_scoring.predict_proba(pipe, X), pipe.predict_proba(X))


def test_encoded_values_are_written_as_gathered_rows():
    """The one-hot blocks written as their ones, and any other block gathered, equal the
    encoded distinct values taken row by row."""
    rng = np.random.default_rng(7)
    onehot = np.vstack([np.eye(3), np.zeros((1, 3))])  # the fourth value is unknown: no column
    other = rng.normal(size=(4, 2))  # not one-hot: gathered as it is
    encoded, edges = np.hstack([onehot, other]), np.array([0, 3, 5])
    codes = [rng.integers(0, 4, 1_000), rng.integers(0, 4, 1_000)]
    out = np.full((1_000, 6), np.nan)
    fast_scoring._write_encoded(out, 1, codes, encoded, edges)
    assert np.isnan(out[:, 0]).all()  # the columns before ``start`` are left alone
    assert np.array_equal(out[:, 1:4], onehot[codes[0]]) and np.array_equal(out[:, 4:], other[codes[1]])


def test_transform_is_the_transformers_own_and_readable_encoders_use_it(monkeypatch):
    from audit.sections.explanations.surrogate import ReadableEncoder

    pipe, train = _fitted("logistic", "binary", _binary_y)
    X = _scoring_frame()
    pre = pipe.named_steps["pre"]
    fast = fast_scoring.transform(pre, X)
    assert fast.dtype == np.float64 and np.array_equal(fast, pre.transform(X))
    readable = ReadableEncoder(NUM, CAT).fit(train)
    expected = np.asarray(readable._ct.transform(X), dtype=np.float64)
    calls = []
    real = fast_scoring._transform
    monkeypatch.setattr(fast_scoring, "_transform", lambda *a: calls.append(1) or real(*a))
    assert np.array_equal(readable.transform(X), expected) and calls == [1]  # through the distinct values
    # a head that differs from the transformer's own: the transformer decides
    monkeypatch.setattr(fast_scoring, "_transform", lambda pre_, X_: np.zeros((len(X_), fast.shape[1])))
    assert np.array_equal(fast_scoring.transform(pre, X), pre.transform(X))
