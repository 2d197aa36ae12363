"""Baseline models: splits, preprocessing, selection, leaderboard."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from audit.config import ModelOptions
from audit.data import prepare_dataset
from audit.errors import ConfigError, DataError
from audit.models.baselines import encoded_to_original, train_models


def test_splits_are_disjoint_stratified_and_seeded(synthetic_dataset):
    a = train_models(synthetic_dataset, options=ModelOptions(cv_folds=0), seed=3)
    b = train_models(synthetic_dataset, options=ModelOptions(cv_folds=0), seed=3)
    c = train_models(synthetic_dataset, options=ModelOptions(cv_folds=0), seed=4)
    n = synthetic_dataset.n_rows
    all_idx = np.concatenate([a.idx_train, a.idx_val, a.idx_test])
    assert sorted(all_idx) == list(range(n))
    assert len(a.idx_test) == round(0.2 * n)
    assert np.array_equal(a.idx_test, b.idx_test) and not np.array_equal(a.idx_test, c.idx_test)
    base = synthetic_dataset.y.mean()
    for y in (a.y_train, a.y_val, a.y_test):
        assert abs(y.mean() - base) < 0.01
    assert a.report.leaderboard == b.report.leaderboard or all(
        (r1.val_score == r2.val_score) for r1, r2 in zip(a.report.leaderboard, b.report.leaderboard)
    )


def test_selection_beats_dummy_and_leaderboard_is_complete(synthetic_trained):
    lb = {r.name: r for r in synthetic_trained.report.leaderboard}
    assert set(lb) == {"dummy", "logistic", "hist_gb"}
    assert lb["dummy"].val_score == pytest.approx(0.5)
    sel = synthetic_trained.selected
    assert lb[sel].selected and sum(r.selected for r in lb.values()) == 1
    assert lb[sel].val_score == max(r.val_score for r in lb.values())
    # The data is logistic in x1, x2 and sex, so the logistic baseline is near the Bayes AUC.
    assert lb["logistic"].test_score > 0.8
    assert np.isfinite(lb["logistic"].cv_mean) and lb["logistic"].cv_std < 0.05


def test_predictions_are_probabilities_and_threshold_is_half(synthetic_trained):
    s = synthetic_trained.score(synthetic_trained.X_test)
    assert ((s >= 0) & (s <= 1)).all()
    assert np.array_equal(synthetic_trained.predict(synthetic_trained.X_test), (s >= 0.5).astype(int))


def test_encoded_columns_map_back_to_original_features(synthetic_trained):
    names = synthetic_trained.encoded_feature_names()
    orig = synthetic_trained.encoded_to_original()
    assert len(names) == len(orig)
    for enc, o in zip(names, orig):
        assert enc.split("__", 1)[1].startswith(o)
    assert orig.count("colour") == 3 and orig.count("sex") == 2 and orig.count("x1") == 1


def test_unseen_category_at_prediction_time_is_handled(synthetic_trained):
    X = synthetic_trained.X_test.head(5).copy()
    X["colour"] = "ultraviolet"
    assert len(synthetic_trained.score(X)) == 5


def test_regression_baselines():
    rng = np.random.default_rng(0)
    n = 600
    df = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n), "g": rng.choice(["u", "v"], n)})
    df["y"] = 3 * df["a"] - df["b"] + rng.normal(scale=0.1, size=n)
    ds = prepare_dataset(df, target="y", sensitive=["g"])
    tm = train_models(ds, options=ModelOptions(cv_folds=3), seed=0)
    lb = {r.name: r for r in tm.report.leaderboard}
    assert tm.report.selection_metric == "r2"
    assert lb["logistic"].test_score > 0.99  # ridge recovers a linear signal
    assert lb["dummy"].test_score < 0.05


def test_bad_model_options():
    with pytest.raises(ConfigError, match="unknown model 'xgboost'"):
        train_models(None, options=ModelOptions(models=("xgboost",)))  # type: ignore[arg-type]


def test_bad_model_options_on_data(synthetic_dataset):
    with pytest.raises(ConfigError, match="selection_metric for a binary task must be one of"):
        train_models(synthetic_dataset, options=ModelOptions(selection_metric="r2"))
    with pytest.raises(ConfigError, match="test_size and val_size"):
        train_models(synthetic_dataset, options=ModelOptions(test_size=0.6, val_size=0.4))


def test_too_few_minority_rows():
    df = pd.DataFrame({"a": [i % 7 for i in range(100)], "s": ["x", "y"] * 50, "y": [1] * 5 + [0] * 95})
    ds = prepare_dataset(df, target="y", sensitive=["s"])
    with pytest.raises(DataError, match="rarer class has only 5 rows"):
        train_models(ds)


def test_split_scores_are_cached_by_identity_and_equal_fresh_ones(synthetic_trained):
    # Every section scores the test split again (issue 15): the same split object costs one call.
    t = synthetic_trained
    pipe = t.pipelines[t.selected]
    first = t.score(t.X_test)
    calls = []
    original = pipe.predict_proba
    object.__setattr__(pipe, "predict_proba", lambda X: calls.append(len(X)) or original(X))
    try:
        again = t.score(t.X_test)
        assert calls == []  # answered from the cache
        np.testing.assert_array_equal(again, first)
        fresh = t.score(t.X_test.copy())  # an equal frame but another object: computed, not cached
        assert calls == [len(t.X_test)]
        np.testing.assert_array_equal(fresh, first)
        t.score(t.X_test.iloc[:10])  # a slice is another object too
        assert calls == [len(t.X_test), 10]
    finally:
        del pipe.predict_proba
    again[:] = -1.0  # a caller editing its array cannot change another caller's scores
    np.testing.assert_array_equal(t.score(t.X_test), first)
    assert not np.array_equal(t.score(t.X_test, "dummy"), first)  # keyed by model too
    np.testing.assert_array_equal(t.predict(t.X_test), (first >= t.report.decision_threshold).astype(np.int64))


def test_parallel_folds_equal_sklearns_cross_validate(synthetic_dataset):
    """The folds run as tasks on two threads; each model's CV mean and spread are those of
    scikit-learn's own ``cross_validate`` on the same encoded training split and folds."""
    from sklearn.base import clone
    from sklearn.model_selection import StratifiedKFold, cross_validate

    seen: list[tuple[float, str]] = []
    par = train_models(synthetic_dataset, options=ModelOptions(cv_folds=4), seed=2, workers=2,
                       progress=lambda f, m: seen.append((f, m)))
    seq = train_models(synthetic_dataset, options=ModelOptions(cv_folds=4), seed=2, workers=1)
    assert [r.cv_mean for r in par.report.leaderboard] == [r.cv_mean for r in seq.report.leaderboard]
    folds = StratifiedKFold(4, shuffle=True, random_state=2)
    for row in par.report.leaderboard:
        pipe = par.pipelines[row.name]
        Z = pipe.named_steps["pre"].transform(par.X_train)
        ref = cross_validate(clone(pipe.named_steps["model"]), Z, par.y_train, cv=folds, scoring="roc_auc")["test_score"]
        assert row.cv_mean == pytest.approx(float(np.mean(ref)), abs=1e-12)
        assert row.cv_std == pytest.approx(float(np.std(ref)), abs=1e-12)
        assert row.val_score == next(r.val_score for r in seq.report.leaderboard if r.name == row.name)
    # A start message, one call per task (3 final fits + 3 x 4 folds), rising, then the selection at 1
    # (the CLI prints it as "done").
    fractions = [f for f, _ in seen]
    assert len(fractions) == 17 and fractions == sorted(fractions) and fractions[0] == 0.0
    assert fractions[-1] == 1.0 > fractions[-2] and seen[0][1] == "fitting 3 baselines and 4 CV folds each"
    assert seen[-1][1].startswith("selected")


def test_cv_runs_on_a_seeded_stratified_sample_above_the_cap(synthetic_dataset):
    """Above cv_max_rows the folds cut a seeded, stratified sample; the final fits use every training row."""
    from sklearn.base import clone
    from sklearn.model_selection import StratifiedKFold, cross_validate

    import audit.models.cv as CV

    capped = train_models(synthetic_dataset, options=ModelOptions(cv_folds=3, cv_max_rows=400), seed=1)
    whole = train_models(synthetic_dataset, options=ModelOptions(cv_folds=3, cv_max_rows=0), seed=1)
    n, y = len(capped.y_train), capped.y_train
    rows = CV.cv_rows("binary", ModelOptions(cv_folds=3, cv_max_rows=400), y, 1)
    assert n > 400 and abs(len(rows) - 400) <= 1 and (capped.report.cv_rows, whole.report.cv_rows) == (len(rows), n)
    assert len(np.unique(rows)) == len(rows) and abs(y[rows].mean() - y.mean()) < 0.01  # stratified, no repeats
    assert np.array_equal(rows, CV.cv_rows("binary", ModelOptions(cv_folds=3, cv_max_rows=400), y, 1))  # seeded
    for row in capped.report.leaderboard:
        pipe = capped.pipelines[row.name]
        Z = pipe.named_steps["pre"].transform(capped.X_train)[rows]
        ref = cross_validate(clone(pipe.named_steps["model"]), Z, y[rows],
                             cv=StratifiedKFold(3, shuffle=True, random_state=1), scoring="roc_auc")["test_score"]
        assert row.cv_mean == pytest.approx(float(np.mean(ref)), abs=1e-12)
        # The audited fits do not depend on the CV sample.
        assert row.val_score == next(r.val_score for r in whole.report.leaderboard if r.name == row.name)
    assert train_models(synthetic_dataset, options=ModelOptions(cv_folds=0), seed=1).report.cv_rows == 0
    # A cap below 10 rows per fold is refused, but only when there is a CV.
    with pytest.raises(ConfigError, match="cv_max_rows"):
        train_models(synthetic_dataset, options=ModelOptions(cv_max_rows=7), seed=1)
    assert train_models(synthetic_dataset, options=ModelOptions(cv_folds=0, cv_max_rows=7), seed=1).report.cv_rows == 0


def test_a_rare_class_keeps_its_rows_in_the_cv_sample():
    """4,000 rows with 40 positives, capped at 200 CV rows: proportionally 2 positives would be left,
    too few for the folds' fits; the sample keeps all of them and the CV scores are finite."""
    rng = np.random.default_rng(0)
    n = 4000
    y = np.zeros(n, dtype=int)
    y[rng.choice(n, 40, replace=False)] = 1
    frame = pd.DataFrame({"x1": rng.normal(size=n) + 2 * y, "x2": rng.normal(size=n), "g": rng.choice(["a", "b"], n), "y": y})
    ds = prepare_dataset(frame, target="y", sensitive=["g"], name="rare")
    tm = train_models(ds, options=ModelOptions(cv_folds=3, cv_max_rows=200), seed=0)
    import audit.models.cv as CV

    rows = CV.cv_rows("binary", ModelOptions(cv_folds=3, cv_max_rows=200), tm.y_train, 0)
    assert tm.y_train[rows].sum() == tm.y_train.sum() and tm.report.cv_rows == len(rows)
    assert all(np.isfinite(r.cv_mean) for r in tm.report.leaderboard if r.name != "dummy")


def test_a_progress_callback_that_raises_stops_the_queued_fits(synthetic_dataset, monkeypatch):
    """A cancelled job raises from its progress callback: the stage ends without running every queued fold."""
    import audit.models.fitting as F

    calls, folds_run, real = [], [], F.cv_fold
    monkeypatch.setattr(F, "cv_fold", lambda *a, **k: folds_run.append(1) or real(*a, **k))  # counts, then the real fold

    def cancel(fraction, message):
        calls.append(message)
        if len(calls) > 1:  # after the start message: at the first finished task
            raise KeyboardInterrupt("cancelled")

    with pytest.raises(KeyboardInterrupt):
        train_models(synthetic_dataset, options=ModelOptions(cv_folds=5), seed=0, workers=1, progress=cancel)
    # 18 tasks were queued (3 fits + 3 x 5 folds); at most the one already running finished after the first.
    assert len(calls) == 2 and len(folds_run) <= 2


def _fresh(t, X, name):
    """What TrainedModels computes for ``X`` when nothing is cached (a copy is never a split)."""
    X = X.copy()
    return t.proba(X, name) if t.task == "multiclass" else t.score(X, name)


def _check_remembered(t):
    cache = t.__dict__["_score_cache"]
    kind = "proba" if t.task == "multiclass" else "score"
    assert {(k, n, s) for k, n, s, _ in cache} == {(kind, n, s) for n in t.pipelines for s in ("train", "val", "test")}
    for name in t.pipelines:
        for split in ("train", "val", "test"):
            X = getattr(t, f"X_{split}")
            cached = t.proba(X, name) if t.task == "multiclass" else t.score(X, name)
            assert np.array_equal(cached, _fresh(t, X, name)), (name, split)


def test_leaderboard_scores_of_a_large_table_are_the_pipelines_own():
    """Above 20,000 rows a split is scored through fast_scoring (binned trees, encoded distinct
    values); its scores are those of each pipeline's own predict_proba, and the sections read
    them from the cache without scoring again."""
    from sklearn.metrics import roc_auc_score

    from tests.conftest import make_synthetic

    frame = make_synthetic(n=80_000, seed=4)
    ds = prepare_dataset(frame, target="label", sensitive=["sex"], name="large")
    t = train_models(ds, options=ModelOptions(cv_folds=0), seed=0)
    assert len(t.X_train) > 20_000 and len(t.X_test) > 10_000
    for row in t.report.leaderboard:
        pipe = t.pipelines[row.name]
        for split, score in (("val", row.val_score), ("test", row.test_score), ("train", row.train_score)):
            X, y = getattr(t, f"X_{split}"), getattr(t, f"y_{split}")
            assert score == roc_auc_score(y, pipe.predict_proba(X)[:, 1]), (row.name, split)
    _check_remembered(t)


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_the_leaderboards_scores_are_remembered_as_the_sections_compute_them(task, synthetic_trained):
    from tests.conftest import make_multiclass

    if task == "binary":
        t = synthetic_trained
    elif task == "multiclass":
        ds = prepare_dataset(make_multiclass(n=1500, seed=2), target="decision", sensitive=["group"], name="mc")
        t = train_models(ds, options=ModelOptions(cv_folds=0), seed=0)
    else:
        rng = np.random.default_rng(0)
        df = pd.DataFrame({"a": rng.normal(size=600), "g": rng.choice(["u", "v"], 600)})
        df["y"] = 2 * df["a"] + rng.normal(size=600)
        t = train_models(prepare_dataset(df, target="y", sensitive=["g"]), options=ModelOptions(cv_folds=0), seed=0)
    assert t.task == task
    _check_remembered(t)
