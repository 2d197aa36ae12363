"""Privacy section: epsilon accounting against independent figures, DP-SGD behaviour,
membership inference ground truth, options, determinism and the report contract."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import Pipeline

from audit.config import AuditConfig, ModelOptions, build_options
from audit.data import prepare_dataset
from audit.errors import ConfigError
from audit.models.baselines import train_models
from audit.sections.privacy.section import PrivacyOptions, PrivacyReport, audit_privacy, compute_epsilon

# A quick sweep for synthetic data: 1,200 training rows.
FAST = dict(networks=("logistic",), target_epsilons=(1.0, 8.0), epochs=5, batch_size=60, bootstrap=100)
TIMING_FIELDS = {"train_seconds", "train_cpu_seconds", "relative_train_time", "dp_overhead"}


def _without_timings(d):
    if isinstance(d, dict):
        return {k: _without_timings(v) for k, v in d.items() if k not in TIMING_FIELDS}
    if isinstance(d, list):
        return [_without_timings(v) for v in d]
    return d


# --- epsilon accounting -------------------------------------------------------------------


def test_epsilon_matches_independent_accountants():
    # N=60,000, batch 256, sigma 1.1, 60 epochs, delta 1e-5 (the TensorFlow Privacy MNIST tutorial).
    setting = dict(n=60_000, batch_size=256, noise_multiplier=1.1, epochs=60, delta=1e-5)
    rdp = compute_epsilon(**setting, accountant="rdp")
    prv = compute_epsilon(**setting, accountant="prv")
    assert rdp == pytest.approx(2.597, rel=0.01)  # Google dp-accounting RDP; Opacus RDP agrees
    assert prv == pytest.approx(2.382, rel=0.01)  # Google dp-accounting PLD
    assert prv == pytest.approx(2.392, rel=0.01)  # Opacus PRV
    # TF Privacy's tutorial publishes 3.01 from an older, looser RDP conversion: an upper bound.
    assert prv < rdp < 3.01


@pytest.mark.parametrize("accountant", ["rdp", "prv"])
def test_more_noise_gives_smaller_epsilon(accountant):
    eps = [compute_epsilon(n=10_000, batch_size=200, noise_multiplier=s, epochs=3, delta=1e-5, accountant=accountant)
           for s in (0.8, 1.0, 2.0, 4.0)]
    assert all(a > b for a, b in zip(eps, eps[1:])), eps
    assert compute_epsilon(n=100, batch_size=10, noise_multiplier=0.0, epochs=1, delta=1e-3) == np.inf


@pytest.mark.parametrize("kwargs", [dict(accountant="gdp2"), dict(batch_size=0), dict(batch_size=20_000), dict(delta=0.0),
                                    dict(noise_multiplier=-1.0)])
def test_compute_epsilon_rejects_bad_input(kwargs):
    base = dict(n=10_000, batch_size=100, noise_multiplier=1.0, epochs=1, delta=1e-5)
    with pytest.raises(ConfigError):
        compute_epsilon(**{**base, **kwargs})


# --- options -------------------------------------------------------------------------------


@pytest.mark.parametrize("name, value", [
    ("target_epsilons", (1.0, -2.0)), ("target_epsilons", (float("inf"),)), ("networks", ("cnn",)),
    ("networks", ("mlp", "mlp")), ("delta", 1.5), ("accountant", "gdp"), ("epochs", 0), ("batch_size", 0),
    ("learning_rate", 0.0), ("momentum", 1.0), ("max_grad_norm", -1.0), ("attack_rows", 5), ("low_fpr", 0.7),
    ("confidence", 1.0), ("max_train_rows", -1), ("warn_attack_auc", 0.4),
])
def test_bad_option_names_the_option(name, value):
    with pytest.raises(ConfigError, match=f"privacy.{name}"):
        PrivacyOptions(**{name: value})


def test_options_from_config_table():
    opts = AuditConfig(target="y", section_options={"privacy": {"target_epsilons": [1, 2], "accountant": "prv"}}) \
        .options_for("privacy", PrivacyOptions)
    assert opts.target_epsilons == (1.0, 2.0) and opts.accountant == "prv"
    with pytest.raises(ConfigError, match="epsilon_target"):
        build_options(PrivacyOptions, {"epsilon_target": 1}, section="privacy")


def test_secure_mode_needs_torchcsprng():
    pytest.importorskip("opacus")
    try:
        import torchcsprng  # noqa: F401
    except ImportError:
        with pytest.raises(ConfigError, match="secure_mode.*torchcsprng"):
            PrivacyOptions(secure_mode=True)
    else:  # pragma: no cover - not installed in this build
        assert PrivacyOptions(secure_mode=True).secure_mode


def test_delta_defaults_below_one_over_n_and_is_checked(synthetic_trained):
    from audit.sections.privacy.dp_training import auto_delta

    assert [auto_delta(n) for n in (999, 1000, 1200, 29_304)] == [1e-3, 1e-4, 1e-4, 1e-5]
    assert all(auto_delta(n) < 1 / n for n in (1, 7, 10, 99_999, 100_000))
    with pytest.raises(ConfigError, match="privacy.delta"):
        audit_privacy(synthetic_trained, options=PrivacyOptions(**FAST, delta=0.01), seed=0)


# --- group metrics and attacks: known truths ------------------------------------------------


def test_group_metrics_equal_fairlearn_and_skip_small_groups():
    from fairlearn.metrics import MetricFrame, demographic_parity_difference, equalized_odds_difference
    from sklearn.metrics import accuracy_score

    from audit.sections.privacy.groups import group_metrics as _group_metrics

    rng = np.random.default_rng(0)
    g = np.array(["a"] * 300 + ["b"] * 200 + ["tiny"] * 10)
    y = rng.integers(0, 2, len(g))
    pred = np.where(g == "a", rng.random(len(g)) < 0.6, rng.random(len(g)) < 0.3).astype(int)
    (gm,) = _group_metrics(y, pred, pd.DataFrame({"grp": g}), min_size=30)
    keep = g != "tiny"
    assert gm.excluded == ("tiny",) and gm.counts == {"a": 300, "b": 200, "tiny": 10}
    assert gm.demographic_parity_difference == pytest.approx(demographic_parity_difference(y[keep], pred[keep], sensitive_features=g[keep]))
    assert gm.equalized_odds_difference == pytest.approx(equalized_odds_difference(y[keep], pred[keep], sensitive_features=g[keep]))
    by_group = MetricFrame(metrics=accuracy_score, y_true=y, y_pred=pred, sensitive_features=g).by_group
    assert gm.accuracy == pytest.approx(by_group.to_dict())
    # Equal selection rates give a parity difference of exactly 0.
    (eq,) = _group_metrics(np.array([0, 1, 0, 1]), np.array([1, 0, 1, 0]), pd.DataFrame({"s": list("aabb")}), min_size=1)
    assert eq.demographic_parity_difference == 0.0


def test_loss_attack_ground_truth():
    from audit.sections.privacy.membership import attack_membership, row_loss

    rng = np.random.default_rng(1)
    y_in, y_out = rng.integers(0, 2, 400), rng.integers(0, 2, 400)
    target = RandomForestClassifier(n_estimators=2).fit(rng.random((10, 2)), [0, 1] * 5)  # only its type matters
    kw = dict(target=target, task="binary", seed=0, n_boot=200, confidence=0.95, low_fpr=0.01)
    # Members predicted confidently right, non-members confidently wrong: a perfect attack.
    perfect = attack_membership(score_in=np.where(y_in == 1, 0.99, 0.01), y_in=y_in,
                                score_out=np.where(y_out == 1, 0.2, 0.8), y_out=y_out, **kw)
    loss = perfect[0]
    assert loss.attack == "loss_threshold" and (loss.auc.value, loss.advantage, loss.tpr_at_low_fpr) == (1.0, 1.0, 1.0)
    assert loss.n_members == loss.n_nonmembers == 400 and loss.n_fit == 0
    bb = perfect[1]
    assert bb.attack == "confidence_black_box" and bb.auc.value > 0.99 and bb.n_members == bb.n_nonmembers == 200 and bb.n_fit == 400
    # Same score distribution for members and non-members: chance, and equal to scikit-learn's AUC of -loss.
    s_in, s_out = rng.random(400), rng.random(400)
    chance = attack_membership(score_in=s_in, y_in=y_in, score_out=s_out, y_out=y_out, **kw)[0]
    member = np.r_[np.ones(400), np.zeros(400)]
    minus_loss = -np.r_[row_loss(y_in, s_in, "binary"), row_loss(y_out, s_out, "binary")]
    assert chance.auc.value == pytest.approx(roc_auc_score(member, minus_loss))
    assert abs(chance.auc.value - 0.5) < 0.06 and chance.auc.low < 0.5 < chance.auc.high
    # The ROC on the fixed grid: starts at (0, .), ends at (1, 1), never decreases; the perfect attack's TPR is 1 at FPR 0.
    for res in (loss, chance):
        assert res.roc_fpr[0] == 0.0 and res.roc_fpr[-1] == 1.0 and res.roc_tpr[-1] == 1.0
        assert all(b >= a for a, b in zip(res.roc_tpr, res.roc_tpr[1:]))
    assert loss.roc_tpr[0] == 1.0
    at_1pct = chance.roc_tpr[chance.roc_fpr.index(0.01)]
    assert at_1pct == pytest.approx(chance.tpr_at_low_fpr)


def test_overfitted_model_leaks_membership_regularised_does_not(synthetic_trained):
    pre = synthetic_trained.pipelines["logistic"].named_steps["pre"]
    # Fully grown trees memorise their rows (the labels are noisy, so memorising is overfitting).
    forest = Pipeline([("pre", pre), ("model", RandomForestClassifier(n_estimators=50, random_state=0))])
    forest.fit(synthetic_trained.X_train, synthetic_trained.y_train)
    overfit = dataclasses.replace(synthetic_trained, pipelines={**synthetic_trained.pipelines, "forest": forest}, selected="forest")
    opts = PrivacyOptions(networks=(), bootstrap=200)
    leaky = audit_privacy(overfit, options=opts, seed=0)
    tight = audit_privacy(dataclasses.replace(synthetic_trained, selected="logistic"), options=opts, seed=0)
    loss_leaky, loss_tight = leaky.audited.membership[0], tight.audited.membership[0]
    assert loss_leaky.auc.low > 0.6 and loss_leaky.advantage > 0.2, loss_leaky
    assert leaky.audited.membership[1].auc.low > 0.6
    assert abs(loss_tight.auc.value - 0.5) < 0.05 and loss_tight.auc.low < 0.5 < loss_tight.auc.high
    assert leaky.verdict.status == "warn" and "leaks membership" in leaky.verdict.reasons[0]
    assert tight.verdict.status == "pass"
    assert leaky.n_attack_members == leaky.n_attack_nonmembers == len(synthetic_trained.y_test)  # capped by the test split


# --- the DP sweep ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fast_report(synthetic_trained) -> PrivacyReport:
    return audit_privacy(synthetic_trained, options=PrivacyOptions(**{**FAST, "networks": ("logistic", "mlp")}), seed=0)


@pytest.fixture(scope="module", params=["fused", "opacus"])
def sweep_report(request, synthetic_trained, fast_report) -> tuple[str, PrivacyReport]:
    if request.param == "fused":
        return request.param, fast_report
    opts = PrivacyOptions(**{**FAST, "networks": ("logistic", "mlp"), "trainer": "opacus"})
    return request.param, audit_privacy(synthetic_trained, options=opts, seed=0)


def test_sweep_reports_budget_actually_spent(sweep_report, synthetic_trained):
    from opacus.accountants import RDPAccountant

    trainer, r = sweep_report
    fused = trainer == "fused"
    assert r.accountant == "rdp" and r.delta == 1e-4 and "1/n" in r.delta_rule and not r.secure_mode
    assert [(m.network, m.role, m.target_epsilon) for m in r.models] == [
        ("logistic", "audited", None),
        ("logistic", "non_private", None), ("logistic", "dp", 1.0), ("logistic", "dp", 8.0),
        ("mlp", "non_private", None), ("mlp", "dp", 1.0), ("mlp", "dp", 8.0)]
    dp = r.dp_models()
    for m in dp:
        assert 0.97 * m.target_epsilon <= m.epsilon_spent <= m.target_epsilon
        assert m.max_grad_norm == 1.0 and m.n_train == 1200 and m.steps > 0
        # The spent epsilon is reproducible from the reported noise, sampling rate and steps.
        acc = RDPAccountant()
        acc.history = [(m.noise_multiplier, m.sample_rate, m.steps)]
        assert acc.get_epsilon(r.delta) == pytest.approx(m.epsilon_spent, rel=0.02)
        assert len(m.membership) == 2 and (m.relative_train_time is None if fused else m.relative_train_time > 0)
    assert dp[0].noise_multiplier > dp[1].noise_multiplier  # epsilon 1 needs more noise than 8
    dummy_acc = max(np.mean(synthetic_trained.y_test), 1 - np.mean(synthetic_trained.y_test))
    assert all(m.accuracy > dummy_acc + 0.1 for m in r.models)
    for net in ("logistic", "mlp"):  # a larger budget (less noise) does not hurt
        auc = {m.target_epsilon: m.roc_auc for m in r.models if m.network == net}
        assert auc[8.0] >= auc[1.0] - 0.01 and auc[None] > 0.85
    assert set(r.dp_overhead) == (set() if fused else {"logistic", "mlp"})
    assert r.models[1].groups[0].attribute == "sex" and set(r.models[1].groups[0].accuracy) == {"F", "M"}
    assert (r.n_train, r.n_test, r.n_attack_members, r.epochs, r.batch_size) == (1200, 400, 400, 5, 60)
    # The fused trainer says its runs shared one loop; the Opacus trainer has nothing to note.
    if fused:
        assert len(r.notes) == 1 and r.notes[0].startswith("each network's runs (non-private and every epsilon) trained together")
    else:
        assert r.notes == ()
    assert fused == (r.models[1].train_seconds == r.models[2].train_seconds)


def test_audited_model_is_found_by_role_not_position(fast_report):
    import dataclasses

    assert fast_report.audited is fast_report.models[0] and fast_report.audited.role == "audited"
    shuffled = dataclasses.replace(fast_report, models=fast_report.models[::-1])
    assert shuffled.audited is fast_report.models[0]
    assert dataclasses.replace(fast_report, models=fast_report.models[1:]).audited is None


def test_verdict_thresholds(fast_report):
    from audit.sections.privacy.section import _verdict

    audited, *rest = fast_report.models
    opts = PrivacyOptions()
    strong = dataclasses.replace(audited.membership[0], auc=dataclasses.replace(audited.membership[0].auc, value=0.9, low=0.85, high=0.95))
    mild = dataclasses.replace(strong, auc=dataclasses.replace(strong.auc, value=0.6, low=0.57, high=0.63))
    leaky = dataclasses.replace(audited, membership=(strong,))
    # A severe leak with an affordable DP model warns and names it; without one it fails.
    assert max(m.accuracy for m in fast_report.dp_models()) >= audited.accuracy - opts.accuracy_budget
    warn = _verdict([leaky, *rest], opts)
    assert warn.status == "warn" and "epsilon" in warn.reasons[0] and "0.850" in warn.reasons[0]
    unaffordable = dataclasses.replace(leaky, accuracy=1.0)
    assert _verdict([unaffordable, *rest], opts).status == "fail"
    assert _verdict([dataclasses.replace(unaffordable, membership=(mild,)), *rest], opts).status == "warn"
    no_ci = dataclasses.replace(mild, auc=dataclasses.replace(mild.auc, low=float("nan"), high=float("nan")))  # bootstrap = 0
    assert _verdict([dataclasses.replace(audited, membership=(no_ci,)), *rest], opts).status == "warn"
    assert _verdict([audited, *rest], opts).status == "pass"


def test_report_round_trips_through_json(fast_report):
    d = json.loads(json.dumps(fast_report.to_dict(), allow_nan=False))
    assert PrivacyReport.from_dict(d) == fast_report


def test_same_seed_same_report_other_seed_differs(synthetic_trained, fast_report):
    opts = PrivacyOptions(**{**FAST, "networks": ("logistic", "mlp")})
    again = audit_privacy(synthetic_trained, options=opts, seed=0)
    assert _without_timings(again.to_dict()) == _without_timings(fast_report.to_dict())
    other = audit_privacy(synthetic_trained, options=dataclasses.replace(opts, networks=("logistic",)), seed=1)
    assert other.models[2].accuracy != fast_report.models[2].accuracy or other.models[0].membership != fast_report.models[0].membership


def test_enormous_noise_performs_like_the_dummy():
    # 10 % positives, strongly predictable: a model that learned nothing is no better than "always 0".
    rng = np.random.default_rng(3)
    n = 2000
    x = rng.normal(size=(n, 3))
    y = (3 * x[:, 0] - 4 + 0.3 * rng.normal(size=n) > 0).astype(int)
    frame = pd.DataFrame({"x0": x[:, 0], "x1": x[:, 1], "x2": x[:, 2], "sex": rng.choice(["F", "M"], n), "label": y})
    trained = train_models(prepare_dataset(frame, target="label", sensitive=["sex"]),
                           options=ModelOptions(cv_folds=0, models=("dummy", "logistic")), seed=0)
    rep = audit_privacy(trained, options=PrivacyOptions(**{**FAST, "target_epsilons": (0.01,)}), seed=0)
    plain, noisy = rep.models[1], rep.models[2]
    dummy_acc = 1 - trained.y_test.mean()
    assert noisy.noise_multiplier > 100
    assert plain.accuracy > dummy_acc + 0.04
    assert noisy.accuracy <= dummy_acc + 0.01
    assert noisy.roc_auc < plain.roc_auc - 0.1


def test_regression_gets_loss_attack_only():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.normal(size=400), "sex": rng.choice(["F", "M"], 400)})
    frame["target"] = 2 * frame["x"] + rng.normal(size=400)
    trained = train_models(prepare_dataset(frame, target="target", sensitive=["sex"]), options=ModelOptions(cv_folds=0), seed=0)
    rep = audit_privacy(trained, options=PrivacyOptions(bootstrap=50), seed=0)
    assert rep.task == "regression" and len(rep.models) == 1 and rep.networks == ()
    assert [a.attack for a in rep.audited.membership] == ["loss_threshold"] and "regression" in rep.notes[0]


def test_pipeline_runs_the_section(synthetic_frame):
    from audit.pipeline import run_audit
    from audit.report import AuditReport

    config = AuditConfig(target="label", sensitive=("sex",), sections=("privacy",), models=ModelOptions(cv_folds=0),
                         section_options={"privacy": {**FAST, "target_epsilons": [2.0]}})
    report = run_audit(config, synthetic_frame.copy())
    assert isinstance(report.privacy, PrivacyReport) and report.scorecard["privacy"] == report.privacy.verdict
    assert AuditReport.from_json(report.to_json()).privacy == report.privacy


@pytest.mark.slow
def test_default_sweep_on_adult_sample(adult_small_trained):
    rep = audit_privacy(adult_small_trained, options=PrivacyOptions(), seed=0)
    assert len(rep.dp_models()) == 10 and rep.verdict.status in ("pass", "warn")
    assert rep.batch_size == rep.n_train // 20 and "batch size lowered from 1024" in rep.notes[0]
    assert rep.n_attack_members == min(2000, len(adult_small_trained.y_test))
    race = rep.models[0].groups[1]
    assert race.attribute == "race" and race.excluded  # Adult's smallest race groups are under 30 test rows
    dummy_acc = max(adult_small_trained.y_test.mean(), 1 - adult_small_trained.y_test.mean())
    # 2,100 training rows: the logistic network beats the majority class by 0.03 from epsilon 1 on,
    # the MLP (more weights under the same noise) from epsilon 4 on (at epsilon 1 to 2 it varies
    # with the seed around that margin, with either trainer).
    assert all(m.accuracy > dummy_acc + 0.03 for m in rep.models
               if (m.target_epsilon or 10) >= (4 if m.network == "mlp" else 1))
    assert all(m.accuracy > dummy_acc + 0.05 for m in rep.models if m.role == "non_private")


def test_training_rows_are_capped_and_the_report_says_so(synthetic_trained):
    """The default cap leaves a small split whole; a lower cap trains (and accounts) on a seeded sample."""
    assert PrivacyOptions().max_train_rows == 50_000
    opts = PrivacyOptions(**{**FAST, "networks": ("logistic",), "target_epsilons": (8.0,), "max_train_rows": 600})
    r = audit_privacy(synthetic_trained, options=opts, seed=0)
    assert (r.n_train, r.n_train_available) == (600, 1200)
    assert any("seeded sample of 600 of the 1,200 training rows (privacy.max_train_rows)" in n for n in r.notes)
    dp = r.dp_models()[0]
    assert dp.n_train == 600 and r.delta == 1e-3  # delta from the rows trained on: the largest power of ten below 1/600
    # Members of the attack are drawn from the rows the networks trained on.
    assert r.n_attack_members <= 600
