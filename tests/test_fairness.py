"""Fairness: fairlearn-equal numbers, vectorised bootstrap, known disparities, proxies, mitigations, verdicts."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import (
    MetricFrame,
    demographic_parity_difference,
    demographic_parity_ratio,
    equal_opportunity_difference,
    equalized_odds_difference,
    equalized_odds_ratio,
    selection_rate,
    true_positive_rate,
)
from sklearn.metrics import precision_score

from audit.sections.fairness.group_sums import group_sums
from audit.sections.fairness.metrics import detect_proxies, disparity_values, group_labels
from audit.sections.fairness.tables import group_table, metric_frame_table
from audit.sections.fairness.mitigation import reweighing_weights
from audit.config import DataOptions, ModelOptions, build_options
from audit.data import prepare_dataset
from audit.errors import ConfigError
from audit.sections.fairness.section import FairnessOptions, FairnessReport, audit_fairness
from audit.models.baselines import train_models
from audit.stats import bootstrap_weights
from tests.conftest import make_synthetic

FAST = dict(bootstrap=100, mitigations=(), unawareness=False)
LOGISTIC = ModelOptions(cv_folds=0, models=("logistic",))


def _trained(frame: pd.DataFrame, sensitive=("sex",), **data_opts):
    ds = prepare_dataset(frame, target="label", sensitive=list(sensitive), options=DataOptions(**data_opts), name="t")
    return train_models(ds, options=LOGISTIC, seed=0)


def _with_race_and_proxy(n: int, seed: int, group_effect: float) -> pd.DataFrame:
    """make_synthetic plus a second sensitive column and a feature built from ``sex``."""
    df = make_synthetic(n=n, seed=seed, group_effect=group_effect)
    rng = np.random.default_rng(seed + 100)
    df["race"] = rng.choice(["a", "b", "c"], size=n, p=[0.5, 0.3, 0.2])
    # 90% of the time the title matches sex: a proxy by construction.
    match = rng.random(n) < 0.9
    df["title"] = np.where((df["sex"] == "M") == match, "Mr", "Ms")
    return df


@pytest.fixture(scope="module")
def biased():
    """Strong injected group effect (sex shifts the log-odds by 2), two sensitive columns, one proxy."""
    return _trained(_with_race_and_proxy(3000, 0, 2.0), sensitive=("sex", "race"))


@pytest.fixture(scope="module")
def biased_report(biased):
    return audit_fairness(biased, options=FairnessOptions(bootstrap=200, mitigation_max_rows=0), seed=0)


# --- options ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kw, name",
    [
        (dict(bootstrap=-1), "bootstrap"),
        (dict(confidence=1.2), "confidence"),
        (dict(four_fifths=0), "four_fifths"),
        (dict(warn_parity_difference=-0.1), "warn_parity_difference"),
        (dict(proxy_metric="gini"), "proxy_metric"),
        (dict(proxy_threshold=2.0), "proxy_threshold"),
        (dict(proxy_bins=1), "proxy_bins"),
        (dict(mitigation_max_rows=10), "mitigation_max_rows"),
        (dict(refit_max_rows=50), "refit_max_rows"),
        (dict(mitigations=("reweighing", "magic")), "mitigations"),
        (dict(expgrad_eps=0.0), "expgrad_eps"),
        (dict(expgrad_max_iter=0), "expgrad_max_iter"),
    ],
)
def test_bad_options_raise_config_error_naming_the_option(kw, name):
    with pytest.raises(ConfigError, match=f"fairness.{name}"):
        FairnessOptions(**kw)


def test_options_from_toml_table_and_unknown_key():
    opts = build_options(FairnessOptions, {"bootstrap": 50, "mitigations": ["reweighing"]}, section="fairness")
    assert opts.bootstrap == 50 and opts.mitigations == ("reweighing",)
    with pytest.raises(ConfigError, match="bootstraps"):
        build_options(FairnessOptions, {"bootstraps": 50}, section="fairness")


# --- ground truth on constructed predictions ----------------------------------------------


def test_equal_selection_rates_give_difference_zero_and_ratio_one():
    # Each group selects exactly half its rows, whatever the labels.
    rng = np.random.default_rng(0)
    labels = np.repeat(np.array(["a", "b", "c"], dtype=object), [100, 60, 40])
    y = rng.integers(0, 2, len(labels)).astype(float)
    pred = np.concatenate([np.tile([0.0, 1.0], k // 2) for k in (100, 60, 40)])
    table = metric_frame_table("binary", y, pred, rng.random(len(y)), labels).drop(index="overall")
    point = {m: table[m].to_numpy() for m in table.columns}
    vals = disparity_values("binary", point, {m: np.empty((0, 3)) for m in point}, np.ones(3, dtype=bool))
    assert vals["demographic_parity_difference"][0] == 0.0
    assert vals["demographic_parity_ratio"][0] == 1.0
    assert demographic_parity_difference(y, pred, sensitive_features=labels) == 0.0


def test_vectorised_group_metrics_equal_fairlearn_with_unit_and_bootstrap_weights():
    rng = np.random.default_rng(3)
    n = 600
    labels = rng.choice(np.array(["F", "M", "X"], dtype=object), size=n, p=[0.45, 0.45, 0.1])
    y = rng.integers(0, 2, n).astype(float)
    pred = (rng.random(n) < 0.3 + 0.3 * (labels == "M")).astype(float)
    codes, names = np.unique(labels, return_inverse=True)[1], ("F", "M", "X")
    table = metric_frame_table("binary", y, pred, rng.random(n), labels).drop(index="overall")
    unit = group_sums("binary", y, pred, codes, 3, np.ones((1, n)))
    for m in ("base_rate", "selection_rate", "tpr", "fpr", "fnr", "precision", "accuracy", "count"):
        np.testing.assert_allclose(unit[m][0], table.loc[list(names), m].to_numpy(), rtol=0, atol=1e-12, err_msg=m)
    # A bootstrap row is a vector of integer weights: it must equal fairlearn with sample_weight.
    W = next(bootstrap_weights(n, 3, np.random.default_rng(0)))
    for b in range(3):
        got = group_sums("binary", y, pred, codes, 3, W[b : b + 1])
        mf = MetricFrame(metrics={"selection_rate": selection_rate, "tpr": true_positive_rate}, y_true=y, y_pred=pred,
                         sensitive_features=labels, sample_params={"selection_rate": {"sample_weight": W[b]}, "tpr": {"sample_weight": W[b]}})
        np.testing.assert_allclose(got["selection_rate"][0], mf.by_group["selection_rate"].to_numpy(), atol=1e-12)
        np.testing.assert_allclose(got["tpr"][0], mf.by_group["tpr"].to_numpy(), atol=1e-12)
        sw = W[b]
        assert np.nanmax(got["selection_rate"][0]) - np.nanmin(got["selection_rate"][0]) == pytest.approx(
            demographic_parity_difference(y, pred, sensitive_features=labels, sample_weight=sw), abs=1e-12)


@pytest.mark.parametrize("task", ["binary", "regression"])
def test_group_table_equals_fairlearn_metricframe_exactly(task):
    """The section's per-group table (plain slices) and MetricFrame's are the same floats, including
    a group with no positives, one with no negatives (undefined TPR/FPR/AUC) and a one-row group."""
    rng = np.random.default_rng(5)
    n = 500
    labels = rng.choice(np.array(["F", "M", "X"], dtype=object), size=n, p=[0.5, 0.45, 0.05])
    labels[:3] = ["only_neg", "only_pos", "one"]
    labels[3:6] = ["only_neg", "only_pos", "only_neg"]
    if task == "binary":
        y = rng.integers(0, 2, n).astype(float)
        y[[0, 3, 5]], y[[1, 4]] = 0.0, 1.0
        pred = (rng.random(n) < 0.3 + 0.3 * (labels == "M")).astype(float)
        score = rng.random(n)
    else:
        y = rng.normal(size=n)
        pred = y + rng.normal(scale=0.5 + (labels == "M"), size=n)
        score = pred
    got = group_table(task, y, pred, score, labels)
    want = metric_frame_table(task, y, pred, score, labels)
    assert list(got.index) == list(want.index) and list(got.columns) == list(want.columns)
    pd.testing.assert_frame_equal(got, want, check_exact=True)
    if task == "binary":
        assert np.isnan(got.loc["only_neg", "tpr"]) and got.loc["one", "count"] == 1


def test_reweighing_makes_label_independent_of_group():
    rng = np.random.default_rng(0)
    g = rng.choice(np.array(["a", "b", "c"], dtype=object), size=3000, p=[0.6, 0.3, 0.1])
    y = (rng.random(3000) < np.where(g == "a", 0.6, np.where(g == "b", 0.3, 0.1))).astype(int)
    w = reweighing_weights(g, y)
    rates = [np.average(y[g == k], weights=w[g == k]) for k in ("a", "b", "c")]
    np.testing.assert_allclose(rates, y.mean(), atol=1e-12)
    # Group totals are unchanged, so representation is preserved.
    np.testing.assert_allclose([w[g == k].sum() for k in ("a", "b", "c")], [(g == k).sum() for k in ("a", "b", "c")])


# --- the section on seeded synthetic data --------------------------------------------------


def test_numbers_equal_fairlearn_functions_on_the_same_predictions(biased, biased_report):
    rep = biased_report
    y = biased.y_test
    pred = biased.predict(biased.X_test)
    g = biased.groups_test
    for key, sf in (("sex", g["sex"]), ("race", g["race"]), ("sex x race", g[["sex", "race"]])):
        d = rep.disparities[key]
        assert d["demographic_parity_difference"].value == pytest.approx(demographic_parity_difference(y, pred, sensitive_features=sf), abs=1e-12)
        assert d["demographic_parity_ratio"].value == pytest.approx(demographic_parity_ratio(y, pred, sensitive_features=sf), abs=1e-12)
        assert d["equalized_odds_difference"].value == pytest.approx(equalized_odds_difference(y, pred, sensitive_features=sf), abs=1e-12)
        assert d["equalized_odds_ratio"].value == pytest.approx(equalized_odds_ratio(y, pred, sensitive_features=sf), abs=1e-12)
        assert d["equal_opportunity_difference"].value == pytest.approx(equal_opportunity_difference(y, pred, sensitive_features=sf), abs=1e-12)
        prec = MetricFrame(metrics=lambda a, b: precision_score(a, b, zero_division=np.nan), y_true=y, y_pred=pred, sensitive_features=sf)
        assert d["predictive_parity_difference"].value == pytest.approx(prec.difference(), abs=1e-12)
        assert [r.count for r in rep.groups[key]] == list(pd.Series(group_labels(g, rep.keys[key])).value_counts().sort_index())
    assert set(rep.keys) == {"sex", "race", "sex x race"}
    assert {r.group for r in rep.groups["sex x race"]} >= {"F x a", "M x c"}


def test_injected_group_effect_is_detected_with_ci_excluding_zero(biased_report):
    dp = biased_report.disparities_adequate["sex"]["demographic_parity_difference"]
    assert dp.value > 0.3 and dp.low > 0.2 and dp.low <= dp.value <= dp.high
    ff = biased_report.four_fifths["sex"]
    assert ff.reference_group == "M" and ff.lowest_group == "F" and not ff.passes
    assert biased_report.verdict.status == "fail"
    assert any("four-fifths" in r and r.startswith("sex:") for r in biased_report.verdict.reasons)
    # Historical bias: the labels themselves differ by sex in the whole data.
    assert biased_report.base_rate_gap["sex"]["difference"] > 0.2
    # race has no effect: its interval of the gap between extreme groups covers 0.
    r = biased_report.disparities_adequate["race"]["demographic_parity_difference"]
    assert r.low < 0 < r.high


def test_no_group_effect_gives_interval_covering_zero_and_no_fail():
    tr = _trained(make_synthetic(n=3000, seed=1, group_effect=0.0))
    rep = audit_fairness(tr, options=FairnessOptions(**FAST), seed=0)
    dp = rep.disparities["sex"]["demographic_parity_difference"]
    assert dp.value < 0.06 and dp.low < 0 < dp.high
    assert rep.four_fifths["sex"].passes
    assert rep.verdict.status == "pass"


def test_feature_built_from_the_sensitive_attribute_is_flagged_as_a_proxy(biased_report):
    rows = {(r.sensitive, r.feature): r for r in biased_report.proxies}
    title = rows[("sex", "title")]
    assert title.is_proxy and title.cramers_v > 0.7 and title.auc > 0.85
    for f in ("noise", "colour", "x2"):
        r = rows[("sex", f)]
        assert not r.is_proxy and r.cramers_v < 0.1 and abs(r.auc - 0.5) < 0.06, f
    assert biased_report.strongest_proxies() == {"sex": "title", "race": biased_report.strongest_proxies()["race"]}
    assert biased_report.strongest_proxies()["race"] not in ("sex", "race")
    assert [r.feature for r in biased_report.flagged_proxies()] == ["title"]
    assert rows[("race", "sex")].feature_is_sensitive


def test_robustness_finds_the_same_proxies_without_waiting_for_fairness(biased, biased_report):
    """strongest_proxies_for reproduces the fairness section's proxies (the same rows, the same
    random stream), so robustness runs beside fairness with the same flip tests."""
    from audit.sections.fairness.section import strongest_proxies_for
    from audit.sections.robustness.section import RobustnessOptions, audit_robustness

    assert strongest_proxies_for(biased, FairnessOptions(), 0) == biased_report.strongest_proxies()
    # A row sample (the random stream matters) and another metric and seed.
    opts = FairnessOptions(bootstrap=20, mitigations=(), unawareness=False, proxy_max_rows=500, proxy_metric="auc")
    report = audit_fairness(biased, options=opts, seed=4)
    assert report.n_proxy_rows == 500
    alone = strongest_proxies_for(biased, opts, 4)
    assert alone == report.strongest_proxies() and alone["sex"] == "title"
    small = RobustnessOptions(max_rows=300, attack_rows=5, repeats=1, noise_levels=(0.0, 0.1),
                              corruption_rates=(0.0, 0.1), missing_rates=(0.0, 0.1))
    given = audit_robustness(biased, options=small, seed=4, proxies=report.strongest_proxies())
    found = audit_robustness(biased, options=small, seed=4, fairness_options=opts)
    assert [f for f in found.flip_tests if f.role == "proxy"] and found.flip_tests == given.flip_tests


def test_a_many_valued_independent_feature_is_not_a_proxy():
    rng = np.random.default_rng(0)
    n = 1500
    X = pd.DataFrame({"code": rng.integers(0, 500, n).astype(str), "copy": rng.choice(["F", "M"], n)})
    groups = pd.DataFrame({"sex": X["copy"].to_numpy()})
    rows = {r.feature: r for r in detect_proxies(X, groups, sensitive=["sex"], metric="cramers_v", threshold=0.3, bins=10, rng=rng)}
    # 500 random levels on 1,500 rows: the plain Cramér's V is 0.55; corrected it is near 0.
    assert rows["code"].cramers_v < 0.1 and not rows["code"].is_proxy and abs(rows["code"].auc - 0.5) < 0.06
    assert rows["copy"].cramers_v == pytest.approx(1.0) and rows["copy"].auc == pytest.approx(1.0)


def test_small_groups_are_reported_flagged_and_left_out_of_the_verdict():
    df = make_synthetic(n=2000, seed=2, group_effect=0.0)
    df.loc[:79, "sex"] = "X"  # 80 rows in all: about 16 on the test split, below the minimum of 30
    df.loc[:79, "label"] = 0  # and never positive, so including it would make the four-fifths rule fail
    tr = _trained(df)
    rep = audit_fairness(tr, options=FairnessOptions(**FAST), seed=0)
    small = [r for r in rep.groups["sex"] if r.group == "X"][0]
    assert not small.adequate and small.count < 30
    assert "below the minimum group size of 30" in rep.excluded_groups["sex"]["X"]
    assert "X" not in rep.four_fifths["sex"].ratios
    assert rep.disparities["sex"]["demographic_parity_difference"].value > rep.disparities_adequate["sex"]["demographic_parity_difference"].value
    assert any("X (" in r and "excluded from the verdict" in r for r in rep.verdict.reasons)
    assert rep.verdict.status != "fail"


def test_unawareness_removes_a_direct_effect_but_not_one_carried_by_a_proxy():
    plain = _trained(make_synthetic(n=3000, seed=4, group_effect=2.0))
    proxied = _trained(_with_race_and_proxy(3000, 4, 2.0))
    opts = FairnessOptions(bootstrap=50, mitigations=())
    a = audit_fairness(plain, options=opts, seed=0)
    b = audit_fairness(proxied, options=opts, seed=0)
    before_a = a.mitigations[0].disparities["sex"]["demographic_parity_difference"].value
    after_a = a.unawareness.disparities["sex"]["demographic_parity_difference"].value
    after_b = b.unawareness.disparities["sex"]["demographic_parity_difference"].value
    assert before_a > 0.3 and after_a < 0.08  # x1, x2 are independent of sex: nothing left to pick it up
    assert after_b > 0.2  # the title carries sex into the unaware model
    assert a.unawareness.status == "done" and "dropped sex" in a.unawareness.detail


def test_without_bootstrap_values_are_kept_and_intervals_are_missing():
    tr = _trained(make_synthetic(n=1000, seed=0, group_effect=2.0))
    rep = audit_fairness(tr, options=FairnessOptions(bootstrap=0, mitigations=("reweighing",)), seed=0)
    dp = rep.disparities["sex"]["demographic_parity_difference"]
    assert dp.value > 0.2 and np.isnan(dp.low) and np.isnan(dp.high)
    assert rep.n_bootstrap == 0 and np.isnan(rep.mitigations[1].metrics["accuracy"].low)
    # With no interval a failing four-fifths rule can only warn: a fail needs the interval.
    assert rep.verdict.status == "warn" and "no interval" in rep.verdict.reasons[0]
    json.dumps(rep.to_dict(), allow_nan=False)


def test_unawareness_is_skipped_when_the_model_never_saw_the_sensitive_features():
    tr = _trained(make_synthetic(n=1000, seed=0), sensitive_as_features=False)
    rep = audit_fairness(tr, options=FairnessOptions(bootstrap=20, mitigations=()), seed=0)
    assert rep.unawareness.status == "skipped" and "already excludes" in rep.unawareness.detail


@pytest.mark.slow
def test_mitigations_reduce_the_disparity_they_target(biased, biased_report):
    rows = {v.name: v for v in biased_report.mitigations}
    assert list(rows) == ["unmitigated", "reweighing", "expgrad_base", "expgrad_dp", "expgrad_eo", "threshold_dp", "threshold_eo"]
    assert all(v.status == "done" for v in rows.values())

    def dp(name):
        return rows[name].disparities["sex"]["demographic_parity_difference"].value

    def eo(name):
        return rows[name].disparities["sex"]["equalized_odds_difference"].value

    assert dp("reweighing") < dp("unmitigated") - 0.1
    assert dp("expgrad_dp") < 0.1 < dp("expgrad_base")
    assert dp("threshold_dp") < 0.1 < dp("unmitigated")
    assert eo("expgrad_eo") < 0.1 < eo("expgrad_base")
    assert eo("threshold_eo") < eo("unmitigated") - 0.05
    # Parity is bought with accuracy, and the trade-off is stated for every row.
    assert rows["threshold_dp"].metrics["accuracy"].value < rows["unmitigated"].metrics["accuracy"].value
    assert rows["threshold_dp"].fit_split == "validation" and rows["threshold_dp"].fit_rows == len(biased.y_val)
    assert rows["expgrad_dp"].fit_rows == len(biased.y_train)  # mitigation_max_rows=0: every training row
    u = rows["unmitigated"]
    assert u.metrics["accuracy"].low < u.metrics["accuracy"].value < u.metrics["accuracy"].high
    assert u.disparities["sex"]["demographic_parity_difference"].value == pytest.approx(
        biased_report.disparities_adequate["sex"]["demographic_parity_difference"].value, abs=1e-12)


def test_the_refits_use_at_most_refit_max_rows_and_say_so(biased, biased_report):
    n = len(biased.y_train)
    full = {v.name: v for v in (biased_report.unawareness, *biased_report.mitigations)}
    assert full["unaware"].fit_rows == full["reweighing"].fit_rows == n  # below the default cap: every row
    assert "subsample" not in full["unaware"].detail + full["reweighing"].detail
    capped = audit_fairness(biased, options=FairnessOptions(bootstrap=50, refit_max_rows=600,
                                                            mitigations=("reweighing",)), seed=0)
    rows = {v.name: v for v in (capped.unawareness, *capped.mitigations)}
    for name in ("unaware", "reweighing"):
        assert rows[name].fit_rows == 600 and f"600 of {n} training rows (seeded subsample)" in rows[name].detail
    # Fitted on fewer rows, a different model: its test predictions are not those of the full refit.
    assert rows["unaware"].metrics["roc_auc"].value != full["unaware"].metrics["roc_auc"].value


def test_report_round_trips_through_json_and_states_sample_sizes(biased, biased_report):
    text = json.dumps(biased_report.to_dict(), allow_nan=False)
    again = FairnessReport.from_dict(json.loads(text))
    assert json.dumps(again.to_dict(), allow_nan=False) == text
    assert again.strongest_proxies() == biased_report.strongest_proxies()
    assert biased_report.n_test == len(biased.y_test) and biased_report.n_bootstrap == 200
    assert biased_report.n_data == 3000 and biased_report.n_proxy_rows == len(biased.y_train)
    assert all(v.fit_rows > 0 for v in biased_report.mitigations)
    assert sum(r.count for r in biased_report.groups["sex"]) == biased_report.n_test
    # Per-group intervals exist for the charts' error bars.
    f = [r for r in biased_report.groups["sex"] if r.group == "F"][0]
    for m in ("selection_rate", "tpr", "fpr", "roc_auc"):
        assert f.metrics[m].low <= f.metrics[m].value <= f.metrics[m].high, m


def test_regression_task_is_handled_and_classification_mitigations_are_skipped():
    rng = np.random.default_rng(0)
    n = 1500
    sex = rng.choice(["F", "M"], size=n)
    x1 = rng.normal(size=n)
    df = pd.DataFrame({"x1": x1, "x2": rng.normal(size=n), "sex": sex, "label": x1 + 2.0 * (sex == "M") + 0.5 * rng.normal(size=n)})
    ds = prepare_dataset(df, target="label", sensitive=["sex"], name="reg")
    tr = train_models(ds, options=ModelOptions(cv_folds=0, models=("logistic",)), seed=0)
    rep = audit_fairness(tr, options=FairnessOptions(bootstrap=50), seed=0)
    d = rep.disparities["sex"]
    assert set(d) == {"mean_prediction_difference", "mean_prediction_ratio", "mae_difference", "mae_ratio"}
    assert d["mean_prediction_difference"].value == pytest.approx(2.0, abs=0.3) and d["mean_prediction_difference"].low > 1.5
    assert set(rep.groups["sex"][0].metrics) == {"mae", "mean_prediction", "mean_target"}
    assert rep.four_fifths == {}
    assert rep.verdict.status == "warn"
    skipped = {v.name: v for v in rep.mitigations if v.status == "skipped"}
    assert set(skipped) == {"reweighing", "expgrad_dp", "expgrad_eo", "threshold_dp", "threshold_eo"}
    assert all("classification" in v.detail for v in skipped.values())
    # Unaware, the model loses the sex term: the gap goes and so does the variance it explained (R2 ~ 1/2.25).
    un, full = rep.unawareness, rep.mitigations[0]
    assert un.disparities["sex"]["mean_prediction_difference"].value < 0.3
    assert un.metrics["r2"].value == pytest.approx(1 / 2.25, abs=0.1) and full.metrics["r2"].value > 0.85
    assert json.loads(json.dumps(rep.to_dict(), allow_nan=False))["task"] == "regression"


def test_mitigation_groups_choose_the_constrained_column(biased):
    opts = FairnessOptions(bootstrap=20, unawareness=False, mitigations=("reweighing", "threshold_eo"), mitigation_groups="sex")
    rep = audit_fairness(biased, options=opts, seed=0)
    assert all("over sex groups" in v.detail for v in rep.mitigations[1:])
    with pytest.raises(ConfigError, match="fairness.mitigation_groups"):
        audit_fairness(biased, options=FairnessOptions(mitigation_groups="age"), seed=0)


def test_progress_is_reported_and_seeded_runs_agree():
    tr = _trained(make_synthetic(n=800, seed=5))
    seen = []
    opts = FairnessOptions(bootstrap=30, mitigations=("reweighing", "threshold_dp"))
    a = audit_fairness(tr, options=opts, seed=3, progress=lambda f, m: seen.append((f, m)))
    b = audit_fairness(tr, options=opts, seed=3)
    assert seen[-1][0] == 1.0 and all(0 <= f <= 1 for f, _ in seen)
    assert [f for f, _ in seen] == sorted(f for f, _ in seen)
    strip = lambda r: [dict(v.to_dict(), seconds=0) for v in r.mitigations]  # noqa: E731
    assert strip(a) == strip(b) and a.disparities == b.disparities


@pytest.mark.slow
def test_adult_sample_flags_relationship_as_a_proxy_for_sex(adult_small_trained):
    rep = audit_fairness(adult_small_trained, options=FairnessOptions(bootstrap=100, mitigations=("reweighing", "threshold_dp")), seed=0)
    assert set(rep.keys) == {"sex", "race", "sex x race"}
    assert rep.strongest_proxies()["sex"] in ("relationship", "marital_status")
    flagged = {(r.sensitive, r.feature) for r in rep.flagged_proxies()}
    assert ("sex", "relationship") in flagged and ("sex", "age") not in flagged
    assert rep.excluded_groups["sex x race"]  # tiny intersections exist in a 600-row test split
    assert rep.disparities_adequate["sex"]["demographic_parity_difference"].low > 0.05


def test_single_group_sensitive_column_warns_instead_of_passing():
    from audit.config import ModelOptions
    from audit.data import prepare_dataset
    from audit.sections.fairness.section import FairnessOptions, audit_fairness
    from audit.models.baselines import train_models
    from tests.conftest import make_synthetic

    frame = make_synthetic(n=600, seed=3)
    frame["sex"] = "M"
    frame["colour2"] = frame["colour"]
    ds = prepare_dataset(frame.drop(columns=["colour"]), target="label", sensitive=["sex"])
    tm = train_models(ds, options=ModelOptions(models=("logistic",), cv_folds=0), seed=0)
    rep = audit_fairness(tm, options=FairnessOptions(bootstrap=20, mitigations=(), unawareness=False), seed=0)
    assert rep.verdict.status == "warn"
    assert "fairness could not be assessed" in rep.verdict.reasons[0]


@pytest.mark.parametrize("seed", range(6))
def test_the_proxy_scans_auc_equals_scikit_learns_with_ties(seed):
    from sklearn.metrics import roc_auc_score

    from audit.sections.fairness.metrics import binary_auc

    rng = np.random.default_rng(seed)
    n = int(rng.integers(5, 400))
    positive = rng.random(n) < rng.uniform(0.1, 0.9)
    positive[:2] = [True, False]  # both kinds present, as the scan guarantees
    # Few distinct scores (the scan's are per-category shares), so most rows tie with others.
    score = rng.choice(rng.random(int(rng.integers(1, 12))), size=n) + positive * rng.uniform(-0.2, 0.4)
    assert binary_auc(positive, score) == pytest.approx(roc_auc_score(positive, score), abs=1e-12)
    assert binary_auc(positive, np.zeros(n)) == 0.5
    assert binary_auc(positive, positive.astype(float)) == 1.0


@pytest.mark.parametrize("k", [1, 2, 7])
def test_binary_group_sums_by_cell_counts_equal_the_indicator_product(k):
    """The binary group sums (one weighted count per block) equal the (b x n) @ (n x 4k) product
    they replaced, bit for bit, for bootstrap count blocks and for the point estimate's ones."""
    from audit.sections.fairness.group_sums import _group_metrics, group_sums_form

    rng = np.random.default_rng(k)
    n = 3_001
    y, pred, codes = rng.integers(0, 2, n), rng.integers(0, 2, n), rng.integers(0, k, n)
    G = np.zeros((n, k))
    G[np.arange(n), codes] = 1.0
    cols = np.hstack([G, G * y[:, None], G * pred[:, None], G * (y * pred)[:, None]])
    form = group_sums_form("binary", y, pred.astype(bool), codes, k)
    for W in (rng.poisson(1.0, (13, n)).astype(float), rng.poisson(1.0, (5, n)).astype(float), np.ones((1, n))):
        got, want = form(W), _group_metrics("binary", W @ cols, k)
        assert got.keys() == want.keys()
        for name in want:
            np.testing.assert_array_equal(got[name], want[name], err_msg=name)
    assert form(np.ones((1, n)))["count"][0].sum() == n


def test_threshold_optimizers_share_the_audited_models_scores_of_the_same_matrix():
    """One _Encoded serves both ThresholdOptimizers: the same matrix (by identity) is scored once,
    every call returns the model's own probabilities, and a caller's change to them is its own."""
    from sklearn.linear_model import LogisticRegression

    from audit.sections.fairness.mitigation import _Encoded

    rng = np.random.default_rng(0)
    X_val, X_te = rng.normal(size=(300, 4)), rng.normal(size=(200, 4))
    model = LogisticRegression().fit(X_val, (X_val[:, 0] > 0).astype(int))
    calls = []
    real = model.predict_proba
    model.predict_proba = lambda X: calls.append(len(X)) or real(X)  # counts the real model's calls
    enc = _Encoded(model)
    first = enc.predict_proba(X_val)
    first[:] = -1.0  # fairlearn may write into what it gets; the next caller must not see it
    for X in (X_val, X_te, X_val, X_te):
        np.testing.assert_array_equal(enc.predict_proba(X), real(X))
    assert calls == [300, 200]
    np.testing.assert_array_equal(enc.predict_proba(X_val.copy()), real(X_val))  # equal content, another array
    assert calls == [300, 200, 300]
