"""Explanations: ground truth on small seeded data.

A feature copied from the label ranks first; pure noise ranks last; SHAP values add up to
the model's raw output; one-hot columns are summed into their feature; the linear
explainer equals coef x (x - mean); the model-agnostic explainer equals it too on an
additive model; the error tree finds the cohort where labels are coin flips.
"""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest
from sklearn.inspection import permutation_importance
from sklearn.metrics import roc_auc_score
from sklearn.tree import DecisionTreeClassifier

from audit.config import ModelOptions, build_options
from audit.data import prepare_dataset
from audit.errors import ConfigError
from audit.sections.explanations.section import ExplanationOptions, ExplanationReport, explain_model, local_explanation
from audit.models.baselines import train_models
from audit.sections.explanations.permutation import permutation_scores, sample_rows
from audit.sections.explanations.shap_summary import _curve
from audit.sections.explanations.surrogate import ReadableEncoder, leaf_conditions
from audit.sections.explanations.shap_values import FeatureCodec, aggregation_matrix, compute_shap

from conftest import make_synthetic

# Small secondary samples keep each explain_model call around a second.
FAST = dict(permutation_sample=300, permutation_repeats=3, n_clusters=3, min_cohort_size=20, surrogate_sample=800)


def _with(trained, name):
    return dataclasses.replace(trained, selected=name)


@pytest.fixture(scope="module")
def linear_report(synthetic_trained):
    return explain_model(_with(synthetic_trained, "logistic"), options=ExplanationOptions(**FAST), seed=0)


@pytest.fixture(scope="module")
def tree_report(synthetic_trained):
    return explain_model(_with(synthetic_trained, "hist_gb"), options=ExplanationOptions(**FAST), seed=0)


@pytest.fixture(scope="module")
def leak_trained():
    frame = make_synthetic(n=1500, seed=3)
    frame["leak"] = frame["label"].astype(float)
    ds = prepare_dataset(frame, target="label", sensitive=["sex"], name="leak")
    return train_models(ds, options=ModelOptions(models=("hist_gb",), cv_folds=0), seed=0)


def _shap(report: ExplanationReport, feature: str) -> np.ndarray:
    return np.array(next(b for b in report.beeswarm if b.feature == feature).shap)


# --- ground truth on the SHAP values -----------------------------------------------------

def test_feature_copied_from_the_label_ranks_first(leak_trained):
    rep = explain_model(leak_trained, options=ExplanationOptions(surrogate_depth=1, **FAST), seed=0)
    assert rep.explainer == "tree" and rep.output_space == "log_odds" and "path-dependent" in rep.background
    assert rep.importance[0].feature == "leak"
    assert rep.permutation.features[0].feature == "leak"
    # A depth-1 surrogate reproduces a model that copies one column, and says so in its rule.
    assert rep.surrogate.fidelity >= 0.99 and rep.surrogate.n_leaves == 2
    assert all("leak" in r.conditions[0] for r in rep.surrogate.rules)


def test_pure_noise_ranks_last_with_the_linear_model_and_near_last_with_trees(linear_report, tree_report):
    assert [fi.feature for fi in linear_report.importance][-1] == "noise"
    assert "noise" in [fi.feature for fi in tree_report.importance][-2:]
    assert [fi.feature for fi in tree_report.importance][0] == "x1"
    noise = next(p for p in linear_report.permutation.features if p.feature == "noise")
    assert abs(noise.mean) < 0.01  # shuffling noise barely moves the AUC
    assert linear_report.permutation.features[0].feature == "x1"


@pytest.mark.parametrize("which", ["linear_report", "tree_report"])
def test_additivity_holds_against_the_decision_function(which, request):
    rep = request.getfixturevalue(which)
    assert rep.additivity.passed and rep.additivity.max_abs_error < 1e-8
    assert rep.additivity.compared_with == "decision_function" and rep.additivity.n_rows == rep.n_explained
    # The stored (rounded) values still add up, row by row.
    total = rep.base_value + np.sum([b.shap for b in rep.beeswarm], axis=0)
    np.testing.assert_allclose(total, rep.outputs, atol=1e-4)
    p = 1 / (1 + np.exp(-np.array(rep.outputs)))
    np.testing.assert_allclose(p, rep.predictions, rtol=1e-4)


def test_linear_values_are_coef_times_x_minus_mean_summed_over_one_hot_columns(synthetic_trained, linear_report):
    tr = _with(synthetic_trained, "logistic")
    pre, est = tr.model.named_steps["pre"], tr.model.named_steps["model"]
    mean = pre.transform(tr.X_train).mean(axis=0)
    Z = pre.transform(tr.X_test.iloc[list(linear_report.rows)])
    phi = est.coef_[0] * (Z - mean)
    owner = np.array(tr.encoded_to_original())
    assert (owner == "colour").sum() == 3 and (owner == "sex").sum() == 2  # genuinely one-hot
    for f in tr.dataset.features:
        np.testing.assert_allclose(_shap(linear_report, f), phi[:, owner == f].sum(axis=1), rtol=1e-5, atol=1e-9)
    assert linear_report.base_value == pytest.approx(float(est.coef_[0] @ mean + est.intercept_[0]), abs=1e-8)
    assert linear_report.explainer == "linear" and linear_report.n_background == len(tr.X_train)


def test_permutation_importance_equals_scikit_learn_on_the_raw_pipeline(synthetic_trained):
    """Shuffling row numbers per feature (the fast path) gives sklearn's own numbers on the raw frame."""
    tr = _with(synthetic_trained, "hist_gb")
    ours = permutation_scores(tr, sample=10**6, repeats=3, seed=4)
    ref = permutation_importance(tr.model, tr.X_test, tr.y_test, scoring="roc_auc", n_repeats=3, random_state=4)
    for p in ours.features:
        j = tr.dataset.features.index(p.feature)
        np.testing.assert_allclose(p.repeats, ref.importances[j], rtol=1e-5, atol=1e-12)
    assert ours.n_rows == len(tr.X_test) and ours.metric == "roc_auc"
    assert ours.baseline_score == pytest.approx(roc_auc_score(tr.y_test, tr.score(tr.X_test)))


def test_aggregation_matrix_sums_columns_into_their_feature():
    A = aggregation_matrix(("a", "b", "b", "c", "b"), ("a", "b", "c"))
    values = np.array([[1.0, 2.0, 3.0, 4.0, 5.0]])
    np.testing.assert_array_equal(values @ A, [[1.0, 10.0, 4.0]])


def test_agnostic_explainer_is_exact_on_an_additive_model_and_states_its_sample(synthetic_trained):
    """On logistic regression the decision function is additive in the original features, so
    the permutation explainer's grouped values must equal coef x (z - background mean) exactly."""
    tr = _with(synthetic_trained, "logistic")
    pre, est = tr.model.named_steps["pre"], tr.model.named_steps["model"]
    bg, X = tr.X_train.iloc[:25], tr.X_test.iloc[:15]
    res = compute_shap(tr.model, task="binary", X=X, X_background=bg, encoded_to_original=tr.encoded_to_original(),
                       features=tr.dataset.features, explainer="permutation", n_background=25, n_permutations=2, seed=0)
    assert res.explainer == "permutation" and res.n_background == 25
    phi = est.coef_[0] * (pre.transform(X) - pre.transform(bg).mean(axis=0))
    owner = np.array(tr.encoded_to_original())
    expected = np.column_stack([phi[:, owner == f].sum(axis=1) for f in tr.dataset.features])
    np.testing.assert_allclose(res.values, expected, atol=1e-9)
    assert res.additivity_error.max() < 1e-9
    # Forced on a tree model through the section's options: the capped sample is stated.
    # (Same test as above so shap's one-off numba compilation, ~3 s, is paid once.)
    rep = explain_model(_with(synthetic_trained, "hist_gb"),
                        options=ExplanationOptions(explainer="permutation", agnostic_max_rows=40, background_size=30,
                                                   agnostic_permutations=2, **FAST), seed=0)
    assert rep.explainer == "permutation" and rep.n_explained == 40 and rep.n_background == 30
    assert rep.n_permutations == 2 and rep.additivity.passed
    assert rep.importance[0].feature == "x1"


def test_an_explainer_that_does_not_fit_the_model_is_a_config_error(synthetic_trained):
    with pytest.raises(ConfigError, match="explainer 'tree'.*LogisticRegression"):
        explain_model(_with(synthetic_trained, "logistic"), options=ExplanationOptions(explainer="tree", **FAST), seed=0)


# --- summaries, local explanations, groups -----------------------------------------------

def test_sample_is_stratified_stated_and_beeswarm_holds_the_sampled_values(synthetic_trained):
    tr = _with(synthetic_trained, "logistic")
    rep = explain_model(tr, options=ExplanationOptions(sample_size=100, **FAST), seed=0)
    assert rep.n_explained == 100 and rep.n_test == len(tr.X_test) and rep.sample_strategy == "stratified on the label"
    y = tr.y_test
    assert abs(np.mean(rep.labels) - y.mean()) <= 0.01  # stratified: the positive share is kept
    rows = list(rep.rows)
    x1 = next(b for b in rep.beeswarm if b.feature == "x1")
    np.testing.assert_allclose(x1.values, tr.X_test["x1"].to_numpy()[rows], rtol=1e-5)
    colour = next(b for b in rep.beeswarm if b.feature == "colour")
    assert colour.kind == "categorical" and colour.categories == ("blue", "green", "red")
    assert [colour.categories[int(c)] for c in colour.values] == list(tr.X_test["colour"].to_numpy()[rows])
    assert list(rep.data_rows) == [int(tr.idx_test[r]) for r in rows]


def test_local_explanation_adds_up_to_the_model_output(synthetic_trained, tree_report):
    rep, tr = tree_report, _with(synthetic_trained, "hist_gb")
    loc = local_explanation(rep, 7)
    assert loc == rep.local(7)
    assert loc.test_row == rep.rows[7] and loc.output_space == "log_odds"
    assert loc.output == pytest.approx(loc.model_output, abs=1e-4)
    assert loc.prediction == pytest.approx(tr.score(tr.X_test.iloc[[loc.test_row]])[0], rel=1e-5)
    mags = [abs(c.contribution) for c in loc.contributions]
    assert mags == sorted(mags, reverse=True) and {c.feature for c in loc.contributions} == set(rep.features)
    colour = next(c for c in loc.contributions if c.feature == "colour")
    assert colour.value == tr.X_test["colour"].iloc[loc.test_row]


@pytest.mark.parametrize("bad", [-1, 10**6, 1.5, True])
def test_local_explanation_rejects_rows_that_were_not_explained(tree_report, bad):
    with pytest.raises(ConfigError, match="row_index"):
        local_explanation(tree_report, bad)


def test_shap_by_group_explains_the_gap_between_sexes(linear_report):
    gap = linear_report.group_gaps[0]
    assert (gap.attribute, gap.high_group, gap.low_group) == ("sex", "M", "F")
    # The label's log-odds shift by 1 for M, so the sex feature carries the gap.
    assert gap.contributions[0].feature == "sex" and gap.contributions[0].share > 0.8
    assert sum(c.contribution for c in gap.contributions) == pytest.approx(gap.gap, abs=1e-4)
    groups = {g.group: g for g in linear_report.by_group}
    assert groups["M"].n + groups["F"].n == linear_report.n_explained
    assert groups["M"].mean_output - groups["F"].mean_output == pytest.approx(gap.gap, abs=1e-4)
    assert groups["M"].mean_abs_shap["x1"] > groups["M"].mean_abs_shap["noise"]


def test_dependence_curve_gives_a_heavy_value_its_own_bin():
    x = np.r_[np.zeros(90), np.arange(1.0, 11.0), [np.nan]]
    s = np.r_[np.full(90, -1.0), np.arange(1.0, 11.0), [0.5]]
    bins = _curve(x, s, None, 4)
    assert bins[0].label == "0" and bins[0].count == 90 and bins[0].mean_shap == -1.0
    assert sum(b.count for b in bins) == len(x) and bins[-1].label == "missing"
    cats = _curve(np.array([0.0, 2.0, 2.0]), np.array([1.0, 2.0, 4.0]), ("a", "b", "c"), 4)
    assert [(b.label, b.count, b.mean_shap) for b in cats] == [("a", 1, 1.0), ("c", 2, 3.0)]


def test_dependence_covers_the_top_features_with_an_interaction(tree_report):
    assert [d.feature for d in tree_report.dependence] == [fi.feature for fi in tree_report.importance[:5]]
    x1 = tree_report.dependence[0]
    assert x1.feature == "x1" and x1.interaction in tree_report.features and x1.interaction != "x1"
    means = [b.mean_shap for b in x1.bins]
    assert means[0] < 0 < means[-1]  # x1 raises the log-odds
    assert sum(b.count for b in x1.bins) == tree_report.n_explained


def test_feature_codec_keeps_original_category_values_and_missing():
    X = pd.DataFrame({"n": [1.0, np.nan, 3.0], "c": [2, 10, None]}, dtype=object)
    codec = FeatureCodec(("n", "c"), ("c",), [X])
    assert codec.categories["c"] == ("10", "2")  # sorted as text, codes stable
    np.testing.assert_array_equal(codec.encode(X), [[1.0, 1.0], [np.nan, 0.0], [3.0, np.nan]])


# --- surrogate, error analysis, verdict, options -----------------------------------------

def test_tree_paths_read_as_merged_conditions_per_feature():
    a = np.arange(40.0)
    colour = np.array(["red", "blue", "green", "white"] * 10)
    X = pd.DataFrame({"a": a, "colour": colour})
    enc = ReadableEncoder(("a",), ("colour",)).fit(X)
    Z = enc.transform(X)
    tree = DecisionTreeClassifier(max_depth=2, random_state=0).fit(Z[:, :1], (a > 10) & (a <= 20))
    conds = set(leaf_conditions(tree, enc).values())
    assert ("10.5 < a <= 20.5",) in conds and ("a <= 10.5",) in conds
    enc_cat = ReadableEncoder((), ("colour",)).fit(X)
    tree = DecisionTreeClassifier(max_depth=2, random_state=0).fit(enc_cat.transform(X), ~np.isin(colour, ["red", "blue"]))
    paths = [c for c in leaf_conditions(tree, enc_cat).values()]
    # Two "!=" on one path merge into one "not in"; a later "=" overrides earlier "!=".
    # (The tree may split on either pair of colours: both describe the same partition.)
    pairs = [{"red", "blue"}, {"green", "white"}]
    nots = [p[0] for p in paths if p[0].startswith("colour not in")]
    assert len(nots) == 1 and set(nots[0][len("colour not in {"):-1].split(", ")) in pairs
    assert sorted(p for p in paths if not p[0].startswith("colour not in")) in (
        [("colour = blue",), ("colour = red",)], [("colour = green",), ("colour = white",)])


def test_error_tree_finds_the_cohort_with_coin_flip_labels():
    rng = np.random.default_rng(5)
    n = 3000
    colour = rng.choice(["red", "green", "blue"], size=n)
    x1 = rng.normal(size=n)
    x3 = rng.normal(size=n) + 6.0 * (colour == "red")
    y = np.where(colour == "red", rng.integers(0, 2, size=n), (x1 > 0).astype(int))
    frame = pd.DataFrame({"x1": x1, "x3": x3, "colour": colour, "sex": rng.choice(["F", "M"], size=n), "label": y})
    ds = prepare_dataset(frame, target="label", sensitive=["sex"], name="cohort")
    tr = train_models(ds, options=ModelOptions(models=("logistic",), cv_folds=0), seed=0)
    rep = explain_model(tr, options=ExplanationOptions(**{**FAST, "sample_size": 200, "n_clusters": 2}), seed=0)
    ea = rep.errors
    err = (tr.predict(tr.X_test) != tr.y_test)
    assert ea.overall.value == pytest.approx(err.mean()) and ea.n_test == len(err)
    assert ea.tree_fit_split == "validation" and ea.n_tree_fit == len(tr.X_val)
    worst = ea.tree_cohorts[0]
    assert any("colour = red" in c or "x3 >" in c for c in worst.conditions)
    assert worst.error.value > 0.3 and worst.versus_overall == "higher" and worst.error.low > ea.overall.value
    assert sum(c.size for c in ea.tree_cohorts) == len(err)
    # k-means sees the shifted red rows as their own cluster, and it is the worst one.
    assert ea.n_clusters == 2 and sum(c.size for c in ea.cluster_cohorts) == len(err) and ea.n_cluster_fit == len(err)
    bad = ea.cluster_cohorts[0]
    assert bad.versus_overall == "higher" and ("x3" in bad.description or "colour = red" in bad.description)
    for c in ea.tree_cohorts + ea.cluster_cohorts:
        assert c.error.low <= c.error.value <= c.error.high and c.size >= 1
    assert ea.worst() in (worst, bad)


def test_k_means_on_a_capped_sample_labels_every_row_and_finds_the_same_cohort():
    """Above ``cluster_max_rows`` k-means is fitted on a seeded sample and labels every test row;
    at or below it, it is fitted on every row (the report says which)."""
    from sklearn.cluster import KMeans

    from audit.sections.explanations.error_analysis import _clusters

    rng = np.random.default_rng(8)
    n = 4000
    colour = rng.choice(["red", "green", "blue"], size=n)
    X = pd.DataFrame({"x1": rng.normal(size=n), "x3": rng.normal(size=n) + 6.0 * (colour == "red"), "colour": colour})
    enc = ReadableEncoder(("x1", "x3"), ("colour",)).fit(X)
    Z = enc.transform(X)
    whole, n_whole = _clusters(enc, Z, 2, 0, seed=3)
    Zs = Z.copy()
    Zs[:, :2] = (Zs[:, :2] - Zs[:, :2].mean(axis=0)) / Zs[:, :2].std(axis=0)
    assert n_whole == n and np.array_equal(whole, KMeans(n_clusters=2, n_init=3, random_state=3).fit_predict(Zs))
    assert np.array_equal(_clusters(enc, Z, 2, n, seed=3)[0], whole)  # a cap the split does not exceed: the same fit
    capped, n_fit = _clusters(enc, Z, 2, 500, seed=3)
    assert n_fit == 500 and len(capped) == n and set(capped) == {0, 1}
    red = colour == "red"
    # the shifted red rows form one cluster either way, whatever its number
    assert np.mean(capped[red] == capped[red][0]) > 0.99 and np.mean(capped[~red] != capped[red][0]) > 0.99
    assert np.array_equal(_clusters(enc, Z, 2, 500, seed=3)[0], capped)  # seeded


def test_verdict_warns_on_a_sensitive_feature_in_the_top_k(tree_report, synthetic_trained):
    assert tree_report.verdict.status == "warn" and tree_report.sensitive_in_top_k == ("sex",)
    assert any("sex" in r and "top 5" in r for r in tree_report.verdict.reasons)
    calm = explain_model(_with(synthetic_trained, "hist_gb"),
                         options=ExplanationOptions(top_k=1, warn_fidelity=0.5, **FAST), seed=0)
    assert calm.verdict.status == "pass" and calm.sensitive_in_top_k == ()
    strict = explain_model(_with(synthetic_trained, "hist_gb"),
                           options=ExplanationOptions(top_k=0, warn_fidelity=1.0, additivity_tolerance=1e-300, **FAST), seed=0)
    assert strict.verdict.status == "warn" and not strict.additivity.passed
    assert any("additivity fails" in r for r in strict.verdict.reasons)
    assert any("surrogate" in r and "below 1.0" in r for r in strict.verdict.reasons)


def test_regression_explains_raw_predictions_and_mean_absolute_error():
    rng = np.random.default_rng(2)
    n = 800
    frame = pd.DataFrame({"x1": rng.normal(size=n), "noise": rng.normal(size=n), "sex": rng.choice(["F", "M"], size=n)})
    frame["target"] = 3 * frame["x1"] + 0.5 * (frame["sex"] == "M") + rng.normal(scale=0.3, size=n)
    ds = prepare_dataset(frame, target="target", sensitive=["sex"], name="reg")
    tr = train_models(ds, options=ModelOptions(models=("logistic",), cv_folds=0), seed=0)
    rep = explain_model(tr, options=ExplanationOptions(**FAST), seed=0)
    assert rep.task == "regression" and rep.explainer == "linear" and rep.output_space == "raw"
    assert rep.additivity.compared_with == "predict" and rep.additivity.passed
    assert rep.importance[0].feature == "x1" and rep.importance[-1].feature == "noise"
    assert rep.errors.error_metric == "mean_absolute_error" and rep.surrogate.fidelity_metric == "r2"
    assert rep.sample_strategy == "all test rows" and rep.n_explained == len(tr.X_test)


def test_same_seed_same_report_and_json_round_trip(synthetic_trained, tree_report):
    again = explain_model(_with(synthetic_trained, "hist_gb"), options=ExplanationOptions(**FAST), seed=0)
    strip = lambda r: {k: v for k, v in r.to_dict().items() if k not in ("timings", "explainer_seconds")}  # noqa: E731
    assert strip(again) == strip(tree_report)
    text = json.dumps(tree_report.to_dict(), allow_nan=False)
    back = ExplanationReport.from_dict(json.loads(text))
    assert json.dumps(back.to_dict(), allow_nan=False) == text
    assert back.local(3) == tree_report.local(3)
    other = explain_model(_with(synthetic_trained, "hist_gb"), options=ExplanationOptions(sample_size=100, **FAST), seed=1)
    seed0 = sample_rows(len(synthetic_trained.X_test), 100, synthetic_trained.y_test, True, 0)
    assert len(other.rows) == 100 and other.rows != tuple(int(r) for r in seed0)


@pytest.mark.parametrize("raw, name", [
    ({"sample_size": 0}, "sample_size"),
    ({"explainer": "kernel"}, "explainer"),
    ({"top_k": -1}, "top_k"),
    ({"warn_fidelity": 1.5}, "warn_fidelity"),
    ({"confidence": 1.0}, "confidence"),
    ({"n_clusters": 1}, "n_clusters"),
    ({"additivity_tolerance": 0.0}, "additivity_tolerance"),
    ({"sample_size": "many"}, "sample_size"),
    ({"samples": 10}, "samples"),
])
def test_bad_options_name_the_option(raw, name):
    with pytest.raises(ConfigError, match=name):
        build_options(ExplanationOptions, raw, section="explanations")
