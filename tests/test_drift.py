"""Drift: ground truth on seeded data (no drift flags nothing, a shift flags exactly its feature),
the statistics against scipy, the shift grammar, and the section end to end."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.spatial.distance import jensenshannon
from sklearn.metrics import roc_auc_score

from audit.sections.drift.domain import delong_ci
from audit.sections.drift.stats import (
    MISSING,
    benjamini_hochberg,
    categorical_drift,
    count_categories,
    numeric_drift,
    summarise_numeric,
)
from audit.sections.drift.shift import apply_shift, parse_shift
from audit.data import align_current
from audit.sections.drift.section import DriftOptions, DriftReport, audit_drift, compare_frames
from audit.errors import ConfigError, DataError

from conftest import make_synthetic

NUM, CAT = ("x1", "x2", "x3"), ("colour", "size")


def frame(n: int, seed: int, *, x2_shift: float = 0.0, colour_p=(1 / 3, 1 / 3, 1 / 3), rho: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    z1, z2 = rng.normal(size=n), rng.normal(size=n)
    return pd.DataFrame({
        "x1": z1,
        "x2": rho * z1 + np.sqrt(1 - rho**2) * z2 + x2_shift,
        "x3": rng.integers(0, 40, size=n).astype(float),  # heavy ties: the hashing path
        "colour": rng.choice(["red", "green", "blue"], size=n, p=colour_p),
        "size": rng.choice(["S", "M", "L", "XL"], size=n),
    })


def compare(ref, cur, **kw):
    opts = DriftOptions(**{"domain_sample": 5000, **kw})
    return compare_frames(ref, cur, numeric=NUM, categorical=CAT, options=opts, seed=0)


def assert_round_trips(rep: DriftReport) -> None:
    text = json.dumps(rep.to_dict(), allow_nan=False)  # NaN compares unequal, so compare the JSON
    back = DriftReport.from_dict(json.loads(text))
    assert isinstance(back.data.features[0].bins, tuple) and json.dumps(back.to_dict(), allow_nan=False) == text


# ---- ground truth -------------------------------------------------------------------------


def test_same_distribution_flags_nothing_and_domain_auc_is_half():
    rep = compare(frame(4000, 1), frame(4000, 2))
    assert rep.n_drifted == 0 and rep.drifted_features == () and not rep.dataset_drift
    assert all(not f.drifted for f in rep.features)
    assert abs(rep.domain.auc.value - 0.5) < 0.03
    assert rep.domain.auc.low < 0.5 < rep.domain.auc.high
    assert rep.domain.separating == ()
    assert (rep.n_reference, rep.n_current, rep.domain.n_reference, rep.domain.n_current) == (4000, 4000, 4000, 4000)


def test_mean_shift_flags_that_feature_only():
    rep = compare(frame(4000, 1), frame(4000, 2, x2_shift=0.5))
    assert rep.drifted_features == ("x2",)
    x2 = next(f for f in rep.features if f.feature == "x2")
    assert x2.test == "ks" and x2.p_value_adjusted < 1e-10
    assert x2.effect_size == pytest.approx(0.5, abs=0.08)  # Wasserstein of a mean shift = the shift, in sd
    assert x2.current_mean - x2.reference_mean == pytest.approx(0.5, abs=0.08)
    assert rep.domain.auc.value > 0.6 and rep.domain.auc.low > 0.5
    assert rep.domain.features[0].feature == "x2" and rep.domain.separating[0] == "x2"


def test_changed_category_mix_is_flagged():
    rep = compare(frame(4000, 1), frame(4000, 2, colour_p=(0.6, 0.2, 0.2)))
    assert rep.drifted_features == ("colour",)
    colour = next(f for f in rep.features if f.feature == "colour")
    assert colour.test == "chi2" and colour.effect_metric == "jensen_shannon"
    assert colour.current_share[colour.bins.index("red")] == pytest.approx(0.6, abs=0.03)
    assert rep.domain.features[0].feature == "colour"


def test_joint_drift_with_stable_marginals_is_caught_by_the_domain_classifier_only():
    rep = compare(frame(4000, 1, rho=0.8), frame(4000, 2, rho=-0.8))
    assert rep.n_drifted == 0
    assert rep.domain.auc.value > 0.75
    assert set(rep.domain.separating[:2]) == {"x1", "x2"}


def test_huge_samples_do_not_flag_a_trivial_shift():
    rng = np.random.default_rng(0)
    ref = pd.DataFrame({"x": rng.normal(size=300_000)})
    cur = pd.DataFrame({"x": rng.normal(size=300_000) + 0.03})
    rep = compare_frames(ref, cur, numeric=["x"], categorical=[], options=DriftOptions(domain_classifier=False))
    f = rep.features[0]
    assert f.p_value_adjusted < 1e-6  # significant ...
    assert f.effect_size < 0.1 and not f.drifted  # ... but too small to matter
    assert rep.domain is None and "not requested" in rep.domain_note


def test_share_drifted_reaches_dataset_drift():
    ref, cur = frame(2000, 1), frame(2000, 2, x2_shift=1.0, colour_p=(0.8, 0.1, 0.1))
    cur["x1"] += 1.0
    rep = compare(ref, cur, domain_classifier=False)
    assert rep.drifted_features == ("x1", "x2", "colour")
    assert rep.share_drifted == pytest.approx(3 / 5) and rep.dataset_drift


# ---- statistics against their references ----------------------------------------------------


@pytest.mark.parametrize("n1,n2", [(300, 500), (2000, 1500)])
def test_ks_statistic_and_pvalue_equal_scipy(n1, n2):
    rng = np.random.default_rng(n1)
    a, b = rng.integers(0, 30, n1).astype(float), rng.integers(2, 32, n2).astype(float)
    f = numeric_drift("x", summarise_numeric(a), summarise_numeric(b), bins=10, quantiles=1000, threshold=0.1)
    ref = stats.ks_2samp(a, b, method="asymp")
    assert f.statistic == pytest.approx(ref.statistic, abs=1e-12)
    assert f.p_value == pytest.approx(ref.pvalue, rel=1e-9)


def test_ks_pvalue_for_large_samples_is_within_one_percent_of_kstwo():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=40_000), rng.normal(size=40_000) + 0.02
    f = numeric_drift("x", summarise_numeric(a), summarise_numeric(b), bins=10, quantiles=1000, threshold=0.1)
    assert f.statistic == pytest.approx(stats.ks_2samp(a, b).statistic, abs=1e-12)
    assert f.p_value == pytest.approx(stats.kstwo.sf(f.statistic, 20_000), rel=0.01)


def test_wasserstein_exact_and_quantile_forms_match_scipy():
    rng = np.random.default_rng(3)
    a, b = rng.gamma(2.0, size=800), rng.gamma(2.5, size=600)
    f = numeric_drift("x", summarise_numeric(a), summarise_numeric(b), bins=10, quantiles=1000, threshold=0.1)
    assert f.wasserstein_quantiles == 0
    assert f.wasserstein_norm == pytest.approx(stats.wasserstein_distance(a, b) / a.std(), rel=1e-9)
    a, b = rng.normal(size=120_000), rng.normal(size=120_000) * 1.2 + 0.3  # too many distinct values: quantiles
    f = numeric_drift("x", summarise_numeric(a), summarise_numeric(b), bins=10, quantiles=1000, threshold=0.1)
    assert f.wasserstein_quantiles == 1000
    assert f.wasserstein_norm == pytest.approx(stats.wasserstein_distance(a, b) / a.std(), rel=0.01)


def test_categorical_psi_js_and_chi2_by_formula():
    ref = pd.Series({"a": 500, "b": 500})
    cur = pd.Series({"a": 600, "b": 400})
    f = categorical_drift("c", ref, cur, threshold=0.1)
    assert f.psi == pytest.approx(0.1 * np.log(1.2) - 0.1 * np.log(0.8))
    assert f.jensen_shannon == pytest.approx(jensenshannon([0.5, 0.5], [0.6, 0.4], base=2))
    chi = stats.chi2_contingency([[500, 500], [600, 400]])
    assert (f.statistic, f.p_value) == pytest.approx((chi.statistic, chi.pvalue))
    # a category seen only in the current data counts as zero in the reference
    g = categorical_drift("c", ref, pd.Series({"a": 500, "b": 400, "new": 100}), threshold=0.1)
    assert g.bins == ("a", "b", "new") and g.reference_share == (0.5, 0.5, 0.0)


def test_numeric_bins_follow_reference_quantiles_and_count_missing():
    ref = np.r_[np.arange(100, dtype=float), [np.nan] * 10]
    cur = np.r_[np.arange(50, 150, dtype=float), [np.inf] * 5]
    f = numeric_drift("x", summarise_numeric(ref), summarise_numeric(cur), bins=4, quantiles=1000, threshold=0.1)
    assert f.bins == ("<= 24", "(24, 49]", "(49, 74]", "> 74", MISSING)
    assert f.reference_share == pytest.approx((25 / 110, 25 / 110, 25 / 110, 25 / 110, 10 / 110))
    assert f.current_share == pytest.approx((0, 0, 25 / 105, 75 / 105, 5 / 105))
    assert (f.n_reference, f.n_current) == (100, 100)
    assert f.missing_reference == pytest.approx(10 / 110)


def test_summaries_by_hashing_and_by_sorting_agree():
    rng = np.random.default_rng(0)
    ties = rng.integers(0, 50, 20_000).astype(float)  # hashing path
    s = summarise_numeric(ties)
    v, c = np.unique(ties, return_counts=True)
    assert np.array_equal(s.values, v) and np.array_equal(s.counts, c)
    cont = np.r_[rng.normal(size=20_000), [1.5] * 3]  # sorting path
    s = summarise_numeric(cont)
    v, c = np.unique(cont, return_counts=True)
    assert np.array_equal(s.values, v) and np.array_equal(s.counts, c)


def test_nullable_and_boolean_columns_are_summarised():
    s = summarise_numeric(pd.Series([1, None, 3, 3], dtype="Int64"))
    assert s.values.tolist() == [1.0, 3.0] and s.counts.tolist() == [1, 2] and s.missing == 1
    assert summarise_numeric(pd.Series([True, False, True])).counts.tolist() == [1, 2]


def test_category_counts_are_the_same_for_strings_and_pandas_categoricals():
    s = pd.Series(["a", "b", None, "a", "c", "a"])
    want = {"a": 3, "b": 1, "c": 1, MISSING: 1}
    assert count_categories(s).to_dict() == want
    assert count_categories(s.astype("category")).to_dict() == want


def test_benjamini_hochberg_keeps_untestable_features_out():
    p = np.array([0.01, np.nan, 0.04, 0.03])
    q = benjamini_hochberg(p)
    assert np.isnan(q[1])
    assert np.allclose(q[[0, 2, 3]], stats.false_discovery_control([0.01, 0.04, 0.03]))


def test_delong_auc_equals_sklearn_and_its_width_matches_the_bootstrap():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 600)
    s = np.round(rng.normal(size=600) + 0.8 * y, 1)  # ties included
    auc, lo, hi = delong_ci(y, s, 0.95)
    assert auc == pytest.approx(roc_auc_score(y, s))
    boots = [roc_auc_score(y[i], s[i]) for i in (rng.integers(0, 600, 600) for _ in range(300))]
    assert (hi - lo) / (2 * 1.96) == pytest.approx(np.std(boots), rel=0.15)


# ---- options and the shift grammar ----------------------------------------------------------------


@pytest.mark.parametrize("name,value", [("alpha", 0.0), ("psi_bins", 1), ("domain_folds", 1), ("domain_auc_warn", 0.3),
                                        ("jensen_shannon_threshold", 1.5), ("confidence", 1.0)])
def test_bad_options_name_the_option(name, value):
    with pytest.raises(ConfigError, match=rf"drift\.{name} must be"):
        DriftOptions(**{name: value})


def test_shift_grammar_parses_the_three_forms():
    steps = parse_shift(" age:+1sd ; hours_per_week:-0.5SD; capital_gain:+1000; race:White=0.5; sex = Female : x2 ;")
    assert [(s.column, s.kind, s.amount, s.in_sd, s.category) for s in steps] == [
        ("age", "numeric", 1.0, True, ""),
        ("hours_per_week", "numeric", -0.5, True, ""),
        ("capital_gain", "numeric", 1000.0, False, ""),
        ("race", "share", 0.5, False, "White"),
        ("sex", "factor", 2.0, False, "Female"),
    ]
    assert parse_shift("") == ()
    assert parse_shift("marital_status:Married-civ-spouse=0.2")[0].category == "Married-civ-spouse"


@pytest.mark.parametrize("spec,match", [("age+1sd", "not understood"), ("age:1sd", "not understood"),
                                        ("race:White=1.5", "between 0 and 1"), ("sex=Female:2", "not understood")])
def test_bad_shift_specs_raise_config_errors(spec, match):
    with pytest.raises(ConfigError, match=match):
        DriftOptions(simulate_shift=spec)


def test_shifts_apply_what_they_say():
    base = frame(3000, 5)
    base["age"] = np.random.default_rng(0).integers(20, 60, 3000)
    ref = frame(3000, 6)
    ref["age"] = base["age"].to_numpy()[::-1]
    kw = dict(reference=ref, numeric=(*NUM, "age"), categorical=CAT, seed=0)
    out, said = apply_shift(base, parse_shift("x1:+2sd; age:+0.5sd"), **kw)
    assert np.allclose(out["x1"] - base["x1"], 2 * ref["x1"].std())
    step = round(0.5 * ref["age"].std())  # whole-number columns stay whole
    assert np.array_equal(out["age"] - base["age"], np.full(3000, step)) and "rounded" in said[1]
    out, said = apply_shift(base, parse_shift("colour:red=0.7"), **kw)
    assert (out["colour"] == "red").mean() == pytest.approx(0.7, abs=0.002)
    assert not out.duplicated().any() and len(out) < len(base)  # thinned, never duplicated
    before = (base["size"] == "XL").mean()
    out, _ = apply_shift(base, parse_shift("size=XL:x3"), **kw)
    after = (out["size"] == "XL").mean()
    assert after / (1 - after) == pytest.approx(3 * before / (1 - before), rel=0.01)  # odds times 3
    out, _ = apply_shift(base, parse_shift("size=XL:x0"), **kw)
    assert "XL" not in set(out["size"])


@pytest.mark.parametrize("spec,match", [("height:+1sd", "unknown column 'height'"), ("colour:+1sd", "'colour' is categorical"),
                                        ("x1:a=0.5", "'x1' is numeric"), ("colour:purple=0.5", "no category 'purple'"),
                                        ("colour:red=1; colour:blue=0.5", "no category 'blue'"), ("size:S=1; colour:red=1", r"leaves \d+ rows")])
def test_shifts_that_do_not_fit_the_data_raise_config_errors(spec, match):
    with pytest.raises(ConfigError, match=match):
        apply_shift(frame(200, 0), parse_shift(spec), reference=frame(200, 1), numeric=NUM, categorical=CAT, seed=0)


def test_compare_frames_rejects_bad_input():
    ref = frame(100, 0)
    with pytest.raises(DataError, match="lacks the columns x9"):
        compare_frames(ref, ref, numeric=["x9"], categorical=[])
    with pytest.raises(DataError, match="'colour' is compared as numeric"):
        compare_frames(ref, ref, numeric=["colour"], categorical=[])
    with pytest.raises(ConfigError, match="at least one"):
        compare_frames(ref, ref, numeric=[], categorical=[])


# ---- the section ------------------------------------------------------------------------


def test_default_audit_compares_train_with_test_and_flags_nothing(synthetic_trained):
    rep = audit_drift(synthetic_trained, options=DriftOptions(), seed=0, progress=None)
    assert rep.comparison == "training split vs held-out test split"
    assert (rep.n_reference, rep.n_current) == (len(synthetic_trained.X_train), len(synthetic_trained.X_test))
    assert rep.data.n_drifted == 0 and rep.verdict.status == "pass"
    assert not rep.prediction.drifted and not rep.labels.drifted
    assert rep.prediction_reference.startswith("validation split")
    assert rep.performance == () and "test split itself" in rep.performance_note
    assert_round_trips(rep)


def test_simulated_mean_shift_flags_it_and_the_accuracy_drop(synthetic_trained):
    seen = []
    rep = audit_drift(synthetic_trained, options=DriftOptions(simulate_shift="x1:+1sd"), seed=0,
                      progress=lambda f, m: seen.append(f))
    assert rep.data.drifted_features == ("x1",)
    assert rep.shift_applied[0].startswith("x1 shifted by +1 sd")
    assert "simulated shift (x1:+1sd)" in rep.current_source
    assert rep.prediction.drifted and not rep.labels.drifted
    perf = {p.metric: p for p in rep.performance}
    assert perf["roc_auc"].drop == pytest.approx(0.0, abs=0.01)  # a uniform shift keeps the ranking ...
    assert perf["accuracy"].drop > 0.05  # ... but not the decisions
    assert rep.verdict.status == "fail" and any("accuracy" in r for r in rep.verdict.reasons)
    assert seen == sorted(seen) and seen[-1] == 1.0
    assert_round_trips(rep)


def test_uploaded_current_data_with_labels(synthetic_trained):
    ds = synthetic_trained.dataset
    same = align_current(make_synthetic(n=1500, seed=7), ds)
    rep = audit_drift(synthetic_trained, options=DriftOptions(), seed=0, progress=None, current=same)
    assert rep.comparison == "training split vs current data"
    assert rep.data.n_drifted == 0 and not rep.labels.drifted
    assert {p.metric for p in rep.performance} == {"roc_auc", "accuracy"}
    assert all(p.reference_source == "held-out test split" and p.current.n == 1500 for p in rep.performance)
    assert rep.verdict.status == "pass"

    raw = make_synthetic(n=3000, seed=8)
    mostly_pos = pd.concat([raw[raw.label == 1], raw[raw.label == 0].iloc[:200]])
    rep = audit_drift(synthetic_trained, options=DriftOptions(), seed=0, progress=None, current=align_current(mostly_pos, ds))
    assert rep.labels.drifted and rep.labels.current_share[rep.labels.bins.index("1")] > 0.8

    bad = make_synthetic(n=100, seed=9).assign(label="yes")
    with pytest.raises(DataError, match="expected the training labels"):
        audit_drift(synthetic_trained, options=DriftOptions(), seed=0, progress=None, current=align_current(bad, ds))


def test_reference_file_replaces_the_training_split(synthetic_trained):
    ds = synthetic_trained.dataset
    ref = align_current(make_synthetic(n=1500, seed=11), ds)
    cur = align_current(make_synthetic(n=1500, seed=12), ds)
    rep = audit_drift(synthetic_trained, options=DriftOptions(simulate_shift="sex=F:x3"), seed=0, progress=None,
                      current=cur, reference=ref)
    assert rep.reference_source == "reference data" and rep.prediction_reference == "reference data"
    assert rep.data.drifted_features == ("sex",)
    assert all(p.reference_source == "reference data" for p in rep.performance)


@pytest.mark.slow
def test_default_audit_of_adult_sample_flags_nothing(adult_small_trained):
    rep = audit_drift(adult_small_trained, options=DriftOptions(), seed=0, progress=None)
    assert rep.data.n_drifted == 0 and rep.verdict.status == "pass"
    assert rep.data.domain.auc.low < 0.5 + 0.05
    shifted = audit_drift(adult_small_trained, options=DriftOptions(simulate_shift="age:+1sd"), seed=0, progress=None)
    assert shifted.data.drifted_features == ("age",)


def test_regression_model_loses_r2_under_a_feature_shift():
    from audit.config import ModelOptions
    from audit.data import prepare_dataset
    from audit.models.baselines import train_models

    rng = np.random.default_rng(0)
    n = 1200
    df = pd.DataFrame({"x1": rng.normal(size=n), "x2": rng.normal(size=n), "grp": rng.choice(["a", "b"], size=n)})
    df["y"] = 2 * df.x1 + df.x2 + rng.normal(scale=0.3, size=n)
    ds = prepare_dataset(df, target="y", sensitive=["grp"], name="reg")
    trained = train_models(ds, options=ModelOptions(cv_folds=0, models=("dummy", "logistic")), seed=0)
    opts = DriftOptions(simulate_shift="x1:+1sd", performance_bootstrap=100)
    rep = audit_drift(trained, options=opts, seed=0, progress=None)
    assert rep.data.drifted_features == ("x1",) and rep.labels is not None and not rep.labels.drifted
    (r2,) = rep.performance
    assert r2.metric == "r2" and r2.reference.value > 0.95 and r2.current.value < 0.5  # every prediction is off by 2 sd
    assert r2.current.low < r2.current.value < r2.current.high and r2.current.method.startswith("percentile bootstrap")
    assert rep.verdict.status == "fail"
    assert_round_trips(rep)
