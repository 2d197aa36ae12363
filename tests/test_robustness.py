"""Robustness audit: ground truth on small seeded data.

Known truths used here: noise of strength 0 changes nothing; for a model deciding
sign(x1) with x1 ~ N(0, 1), Gaussian noise of sigma standard deviations flips a
share arctan(sigma) / pi of decisions; a model that never reads the sensitive
column cannot change its prediction when that column changes; a logistic model's
minimal L2 flip distance is |w.z + b| / ||w|| over the features the attack may move.
"""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest
from sklearn.pipeline import Pipeline

from audit.config import DataOptions, ModelOptions, build_options
from audit.data import prepare_dataset
from audit.errors import ConfigError
from audit.models.baselines import make_pipeline, train_models
from audit.sections.robustness.attacks import attack_model
from audit.sections.robustness.section import RobustnessOptions, RobustnessReport, audit_robustness

QUICK = dict(attack_rows=0, repeats=1)


def _train(frame: pd.DataFrame, *, target: str = "y", sensitive=("sex",), models=("logistic",), **data) -> object:
    ds = prepare_dataset(frame, target=target, sensitive=list(sensitive), options=DataOptions(**data), name="t")
    return train_models(ds, options=ModelOptions(cv_folds=0, models=models), seed=0)


def _without_times(d):
    if isinstance(d, dict):
        return {k: _without_times(v) for k, v in d.items() if k != "seconds"}
    if isinstance(d, list):
        return [_without_times(v) for v in d]
    return d


# ---------------------------------------------------------------- options


@pytest.mark.parametrize(
    "bad, name",
    [
        (dict(attack_norm="l3"), "attack_norm"),
        (dict(noise_levels=()), "noise_levels"),
        (dict(missing_rates=(0.0, 1.5)), "missing_rates"),
        (dict(attack_budgets=(0.1, 0.5)), "verdict_budget"),
        (dict(verdict_noise_level=0.3), "verdict_noise_level"),
        (dict(warn_sensitive_flip=0.2, fail_sensitive_flip=0.1), "warn_sensitive_flip"),
        (dict(hsj_init_eval=500), "hsj_init_eval"),
        (dict(repeats=0), "repeats"),
        (dict(edge_quantile=0.6), "edge_quantile"),
    ],
)
def test_bad_options_name_the_option(bad, name):
    with pytest.raises(ConfigError, match=f"robustness.{name} must be"):
        RobustnessOptions(**bad)


def test_options_from_a_config_table():
    opts = build_options(RobustnessOptions, {"attack_budgets": [0.25, 0.5], "verdict_budget": 0.5, "attack_norm": "linf"}, section="robustness")
    assert opts.attack_budgets == (0.25, 0.5) and opts.attack_norm == "linf"
    with pytest.raises(ConfigError, match="unknown option 'budget'"):
        build_options(RobustnessOptions, {"budget": 1}, section="robustness")


# ---------------------------------------------------------------- noise, corruption, missing values


@pytest.fixture(scope="module")
def sharp():
    """A model deciding sign(x1): labels are exactly x1 > 0, so the fitted boundary is steep at 0."""
    rng = np.random.default_rng(3)
    n = 20000
    x1 = rng.normal(size=n)
    frame = pd.DataFrame({"x1": x1, "colour": rng.choice(["a", "b", "c"], n), "sex": rng.choice(["F", "M"], n), "y": (x1 > 0).astype(int)})
    return _train(frame)


def test_noise_flip_rate_matches_theory_and_grows(sharp):
    levels = (0.0, 0.1, 0.5, 1.0)
    rep = audit_robustness(sharp, options=RobustnessOptions(noise_levels=levels, max_rows=0, repeats=2, attack_rows=0), seed=0)
    flips = [p.flip_rate for p in rep.noise.points]
    assert rep.noise.features == ("x1",) and rep.n_rows == len(sharp.X_test) == 4000
    assert flips[0] == 0.0 and rep.noise.points[0].metric == rep.clean_metric
    assert all(a < b for a, b in zip(flips, flips[1:]))
    for lv, f in zip(levels, flips):
        assert f == pytest.approx(np.arctan(lv) / np.pi, abs=0.02)
    # accuracy falls as decisions flip: the label is exactly the clean decision here
    assert rep.noise.points[-1].metric < rep.clean_metric - 0.15


def test_strength_zero_changes_nothing(synthetic_trained):
    rep = audit_robustness(synthetic_trained, options=RobustnessOptions(**QUICK), seed=1)
    for curve in (rep.noise, rep.categorical_corruption, rep.missing_values):
        first = curve.points[0]
        assert first.level == 0 and first.flip_rate == 0 and first.mean_score_change == 0
        assert first.metric == rep.clean_metric
        assert curve.points[-1].flip_rate > 0  # the perturbation is real at the top level
    assert "sex" not in rep.noise.features + rep.categorical_corruption.features + rep.missing_values.features
    assert set(rep.categorical_corruption.features) == {"colour"}
    # x1 drives the label, so noise on x1 alone flips more than noise on the pure-noise column
    assert rep.noise.by_feature["x1"] > rep.noise.by_feature["noise"]


# ---------------------------------------------------------------- flip tests


def test_flip_rate_zero_when_model_ignores_sensitive_attribute(synthetic_trained):
    t = synthetic_trained
    uses = audit_robustness(t, options=RobustnessOptions(**QUICK), seed=0, proxies={"sex": "colour"})
    sex = next(f for f in uses.flip_tests if f.column == "sex")
    assert t.selected == "logistic" and sex.flip_rate > 0.02  # the label depends on sex, and so does the model
    blind = make_pipeline("logistic", "binary", ("x1", "x2", "noise"), (), seed=0).fit(t.X_train, t.y_train)
    ignoring = dataclasses.replace(t, pipelines={"logistic": blind}, selected="logistic")
    rep = audit_robustness(ignoring, options=RobustnessOptions(**QUICK), seed=0, proxies={"sex": "colour"})
    sex, colour = (next(f for f in rep.flip_tests if f.column == c) for c in ("sex", "colour"))
    assert sex.role == "sensitive" and sex.values == ("F", "M") or sex.values == ("M", "F")
    assert sex.flip_rate == 0 and all(g.flip_rate == 0 for g in sex.groups)
    assert {g.group for g in sex.groups} == {"F", "M"} and sum(g.n for g in sex.groups) == sex.n_rows == len(t.X_test)
    assert colour.role == "proxy" and colour.sensitive == "sex" and colour.flip_rate == 0
    assert not any("changing sex" in r for r in rep.verdict.reasons if "warn" in r or "fail" in r)


def test_flip_test_when_sensitive_is_not_a_feature(synthetic_frame):
    t = _train(synthetic_frame.copy(), target="label", sensitive_as_features=False)
    rep = audit_robustness(t, options=RobustnessOptions(**QUICK), seed=0)
    (sex,) = rep.flip_tests
    assert not sex.is_feature and sex.flip_rate == 0 and "not a model input" in sex.note


# ---------------------------------------------------------------- edge cases


def test_edge_cases_find_the_broken_tail_and_unseen_categories():
    rng = np.random.default_rng(5)
    n = 8000
    x1 = rng.normal(size=n)
    gain = np.where(rng.random(n) < 0.9, 0.0, rng.exponential(1000, n))
    y = ((x1 > 0) & (x1 < 2.1)).astype(int)  # the label turns over in the top ~2%: a monotone model gets it wrong
    frame = pd.DataFrame({"x1": x1, "gain": gain, "colour": rng.choice(["a", "b"], n), "sex": rng.choice(["F", "M"], n), "y": y})
    t = _train(frame)
    Xte = t.X_test.copy()
    Xte.loc[:6, "colour"] = "purple"
    t = dataclasses.replace(t, X_test=Xte)
    rep = audit_robustness(t, options=RobustnessOptions(**QUICK, min_edge_rows=10), seed=0)
    e = rep.edge_cases
    top = next(s for s in e.slices if s.feature == "x1" and s.slice.startswith("highest"))
    low = next(s for s in e.slices if s.feature == "x1" and s.slice.startswith("lowest"))
    assert top.n >= 10 and top.metric < 0.2 and top.gap > 0.7
    assert low.metric > 0.95
    assert "no tail" in e.skipped["gain (lowest)"] and "gain" in {s.feature for s in e.slices}  # 90% zeros: only a top tail
    assert e.unseen_by_feature["colour"] == 7
    unseen = next(s for s in e.slices if s.slice == "unseen categories")
    assert unseen.n == 7
    assert set(e.unseen_injection) == {"colour"}
    assert rep.verdict.status in ("warn", "fail") and any("x1 highest" in r for r in rep.verdict.reasons)


# ---------------------------------------------------------------- attacks


class _Recording(Pipeline):
    """The audited pipeline, noting every table it is asked about."""

    seen: list = []

    def predict_proba(self, X, **kw):
        _Recording.seen.append(X.copy())
        return super().predict_proba(X, **kw)


@pytest.fixture(scope="module")
def linear():
    """Logistic model on x1, x2 (mutable), x3 (declared immutable) and sex (sensitive)."""
    rng = np.random.default_rng(1)
    n = 3000
    x1, x2, x3 = rng.normal(size=(3, n))
    sex = rng.choice(["F", "M"], n)
    logit = 1.5 * x1 - 1.0 * x2 + 1.0 * x3 + 0.5 * (sex == "M")
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    t = _train(pd.DataFrame(dict(x1=x1, x2=x2, x3=x3, sex=sex, y=y)), immutable=("x3",))
    rec = _Recording(t.model.steps)
    return dataclasses.replace(t, pipelines={"logistic": rec})


def _analytic(t, rows):
    """Minimal L2 distance to the boundary in standardised (x1, x2), and whether its foot lies in the box."""
    pre, lr = t.model[0], t.model[-1]
    names = list(t.encoded_feature_names())
    scale = pre.named_transformers_["num"].named_steps["scale"]
    feats = ["x1", "x2"]
    sd = t.X_train[feats].std(ddof=0).to_numpy()
    w = np.array([lr.coef_[0][names.index(f"num__{f}")] / scale.scale_[list(t.dataset.numeric).index(f)] for f in feats]) * sd
    X = t.X_test.iloc[list(rows)]
    logit = lr.decision_function(np.asarray(pre.transform(X)))
    z = ((X[feats] - t.X_train[feats].mean()) / sd).to_numpy()
    foot = z - (logit / (w @ w))[:, None] * w
    lo = ((t.X_train[feats].min() - t.X_train[feats].mean()) / sd).to_numpy()
    hi = ((t.X_train[feats].max() - t.X_train[feats].mean()) / sd).to_numpy()
    return np.abs(logit) / np.linalg.norm(w), ((foot > lo) & (foot < hi)).all(axis=1)


def test_attacks_reach_the_analytic_boundary(linear):
    opts = RobustnessOptions(attack_rows=60, max_rows=200, repeats=1, warn_attack_success=0.0, fail_attack_success=0.0)
    rep = audit_robustness(linear, options=opts, seed=0)
    a = rep.attacks
    assert a.applicable and a.n_rows == 60 and len(a.rows) == 60 and a.norm == "l2"
    assert a.mutable_features == ("x1", "x2") and set(a.fixed_features) == {"x3", "sex"}
    assert a.fixed_values_changed == 0 and a.integer_features == ()
    d_an, in_box = _analytic(linear, a.rows)
    hsj = a.decision_based
    d = np.array(hsj.distances)
    assert in_box.sum() >= 50 and np.isfinite(d[in_box]).all()
    # no attack can beat the true minimum; HopSkipJump gets within 5% (+0.01 sd) of it
    assert (d[in_box] >= d_an[in_box] * (1 - 1e-4)).all()
    assert (d[in_box] <= d_an[in_box] * 1.05 + 0.01).all()
    assert hsj.median_min_perturbation == pytest.approx(np.median(d[np.isfinite(d)]))
    pgd = a.gradient
    assert pgd.kind == "gradient (white-box)" and pgd.source_model == "logistic"
    for b, p_h, p_g in zip(opts.attack_budgets, hsj.success_by_budget, pgd.success_by_budget):
        reachable = np.mean(d_an <= b + 1e-6)
        assert p_h.budget == p_g.budget == b
        assert p_h.success_rate <= reachable and p_g.success_rate <= reachable
        assert p_g.success_rate >= np.mean((d_an < 0.97 * b) & in_box)
    assert rep.verdict.status == "fail" and any("success within 0.25 sd" in r for r in rep.verdict.reasons)


def test_attacks_never_move_fixed_features_or_leave_the_observed_range(linear):
    _Recording.seen.clear()
    rep = attack_model(linear, options=RobustnessOptions(attack_rows=30), seed=1)
    assert rep.fixed_values_changed == 0 and len(_Recording.seen) >= 5
    # every table the model was asked about keeps each row's x3 and sex; x1, x2 stay in range
    test = linear.X_test
    sex_of = dict(zip(test["x3"], test["sex"]))
    moved = 0
    for X in _Recording.seen:
        assert X["x3"].isin(test["x3"]).all() and (X["sex"] == X["x3"].map(sex_of)).all()
        for f in ("x1", "x2"):
            lo, hi = linear.X_train[f].min(), linear.X_train[f].max()
            assert (X[f].between(lo - 1e-9, hi + 1e-9) | X[f].isin(test[f])).all()
            moved += int((~X[f].isin(test[f])).sum())
    assert moved > 0  # the attacks did change the mutable features


def test_linf_gradient_attack_matches_the_dual_norm_distance(linear):
    rep = audit_robustness(linear, options=RobustnessOptions(attack_rows=60, attack_norm="linf", max_rows=200, repeats=1), seed=0)
    a = rep.attacks
    pre, lr = linear.model[0], linear.model[-1]
    names = list(linear.encoded_feature_names())
    w = np.array([lr.coef_[0][names.index(f"num__{f}")] for f in ("x1", "x2")])  # scaler sd == training sd
    logit = lr.decision_function(np.asarray(pre.transform(linear.X_test.iloc[list(a.rows)])))
    d_inf = np.abs(logit) / np.abs(w).sum()
    d = np.array(a.decision_based.distances)
    ok = np.isfinite(d)
    assert (d[ok] >= d_inf[ok] * (1 - 1e-4)).all() and np.median(d[ok] / d_inf[ok]) < 1.1
    for b, p in zip(a.budgets, a.gradient.success_by_budget):
        assert np.mean(d_inf < 0.97 * b) - 0.05 <= p.success_rate <= np.mean(d_inf <= b + 1e-6)


def test_tree_model_gets_a_transfer_attack_with_whole_numbers():
    _Recording.seen.clear()
    rng = np.random.default_rng(7)
    n = 3000
    age, hours, x1 = rng.integers(18, 80, n), rng.integers(1, 99, n), rng.normal(size=n)
    job = rng.choice(["a", "b", "c"], n)
    logit = 0.08 * (age - 45) + 0.05 * (hours - 40) + x1 + 0.5 * (job == "a")
    frame = pd.DataFrame({"age": age, "hours": hours, "x1": x1, "job": job, "sex": rng.choice(["F", "M"], n),
                          "y": (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)})
    t = _train(frame, models=("logistic", "hist_gb"))
    t = dataclasses.replace(t, selected="hist_gb", pipelines={**t.pipelines, "hist_gb": _Recording(t.pipelines["hist_gb"].steps)})
    rep = audit_robustness(t, options=RobustnessOptions(attack_rows=40, max_rows=300, repeats=1), seed=0, proxies={"sex": "job"})
    # the realised adversarial rows (the 40-row tables; the 16-row one checks the scoring shortcut) hold whole numbers
    realised = [X for X in _Recording.seen[-12:] if len(X) == 40]
    assert len(realised) >= 6
    assert all((X[c] % 1 == 0).all() for X in realised for c in ("age", "hours"))
    assert any((X["age"] != t.X_test["age"].iloc[list(rep.attacks.rows)].to_numpy()).any() for X in realised)
    a = rep.attacks
    assert a.fixed_values_changed == 0 and set(a.fixed_features) == {"job", "sex"}
    assert a.integer_features == ("age", "hours")
    assert "transfer" in a.gradient.kind and "hist_gb" in a.gradient.note
    hsj = a.decision_based
    assert hsj.n_rows == 40 and hsj.success_rate > 0.9 and hsj.settings["max_iter"] == 10
    assert {c.feature for c in hsj.feature_changes} == {"age", "hours", "x1"}
    assert all(b1.success_rate <= b2.success_rate for b1, b2 in zip(hsj.success_by_budget, hsj.success_by_budget[1:]))
    proxy = next(f for f in rep.flip_tests if f.role == "proxy")
    assert proxy.column == "job" and proxy.flip_rate > 0 and {g.group for g in proxy.groups} == {"F", "M"}


# ---------------------------------------------------------------- report


def test_report_round_trips_and_is_reproducible(synthetic_trained):
    opts = RobustnessOptions(attack_rows=20, max_rows=200, repeats=1)
    one = audit_robustness(synthetic_trained, options=opts, seed=4, proxies={"sex": "colour"})
    two = audit_robustness(synthetic_trained, options=opts, seed=4, proxies={"sex": "colour"})
    d = json.loads(json.dumps(one.to_dict(), allow_nan=False))
    assert json.dumps(RobustnessReport.from_dict(d).to_dict(), sort_keys=True) == json.dumps(d, sort_keys=True)
    assert _without_times(two.to_dict()) == _without_times(one.to_dict())
    assert one.n_rows == 200 and one.attacks.n_rows == 20 and one.verdict.status in ("pass", "warn", "fail")
    assert set(one.thresholds) >= {"warn_noise_flip", "fail_attack_success", "verdict_budget"}


def test_regression_task(synthetic_frame):
    rng = np.random.default_rng(2)
    frame = synthetic_frame.drop(columns="label").assign(age=rng.integers(18, 80, len(synthetic_frame)))
    frame["target"] = 2 * frame["x1"] + rng.normal(scale=0.3, size=len(frame))
    t = _train(frame, target="target", sensitive=("age",), models=("logistic",))
    rep = audit_robustness(t, options=RobustnessOptions(attack_rows=10, repeats=1), seed=0)
    assert rep.task == "regression" and rep.metric == "mean_absolute_error" and not rep.higher_is_better
    assert not rep.attacks.applicable and "regression" in rep.attacks.note
    assert rep.noise.points[0].flip_rate == 0 and rep.noise.points[-1].flip_rate > 0.3
    (age,) = rep.flip_tests
    assert age.is_feature and all(v.startswith("median of age=") for v in age.values)
    assert "standard deviations of the target" in rep.flip_definition


def test_a_constant_model_cannot_be_flipped(synthetic_trained):
    constant = dataclasses.replace(synthetic_trained, selected="dummy")
    rep = audit_robustness(constant, options=RobustnessOptions(attack_rows=15, max_rows=200, repeats=1), seed=0, proxies={"sex": "colour"})
    curves = (rep.noise, rep.categorical_corruption, rep.missing_values)
    assert all(p.flip_rate == 0 for c in curves for p in c.points)
    assert all(t.flip_rate == 0 for t in rep.flip_tests)
    hsj, pgd = rep.attacks.decision_based, rep.attacks.gradient
    assert hsj.success_rate == 0 and hsj.settings["rows_with_start"] == 0 and hsj.median_min_perturbation is None
    assert pgd.success_rate == 0 and "transfer" in pgd.kind


def test_blanked_string_cells_are_imputed_as_missing_not_scored_as_an_unknown_category():
    """The missing-values curve: a blanked string cell must reach the model as the imputer's
    "missing" category, as a missing cell of the data does. Here a missing colour means label 1,
    so the imputed cells score high; as None they were an unknown category (all one-hot zeros)."""
    from audit.sections.robustness.perturb import blanked

    rng = np.random.default_rng(0)
    n = 2000
    colour = rng.choice(np.array(["red", "blue", None], dtype=object), size=n)
    X = pd.DataFrame({"x": rng.normal(size=n), "colour": colour})
    y = np.where(pd.isna(colour), 1, (rng.random(n) < 0.2).astype(int))
    model = make_pipeline("logistic", "binary", ("x",), ("colour",), seed=0).fit(X, y)
    clean = X[X["colour"].notna()].reset_index(drop=True)
    gone = blanked(clean, ["colour"], 1.0, np.random.default_rng(1))
    assert gone["colour"].isna().all() and clean["colour"].notna().all()  # the input is not changed
    p_gone = model.predict_proba(gone)[:, 1]
    p_missing = model.predict_proba(clean.assign(colour=np.nan))[:, 1]
    np.testing.assert_allclose(p_gone, p_missing)
    assert p_gone.mean() > 0.9 > 0.3 > model.predict_proba(clean)[:, 1].mean()
