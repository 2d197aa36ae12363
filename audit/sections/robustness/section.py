"""Robustness of the audited model: noise, corruption, missing values, evasion attacks, flip tests, edge cases.

Every test perturbs raw test rows and asks the audited pipeline again, so the
numbers describe the model as deployed (its imputation and encoding included).
A *flip* is a changed decision at the model's threshold (classification) or a
prediction that moves by more than ``regression_tolerance`` standard deviations
of the training target (regression). Noise, corruption and missing values leave
the sensitive columns alone (changing those is the flip test's job). The evasion
attacks live in :mod:`audit.sections.robustness.attacks`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any
from dataclasses import dataclass, fields

import numpy as np
import pandas as pd

from audit.sections.robustness.perturb import Curve, CurvePoint, Judge, blanked, curve, noisy, swapped
from audit.sections.robustness.probes import EdgeCases, EdgeSlice, FlipTest, GroupFlip, edge_cases, flip_tests
from audit.sections.robustness.attacks import ATTACK_NORMS, AttackReport, AttackResult, BudgetPoint, FeatureChange, attack_model
from audit.serial import ReportMixin
from audit.bounds import bounded
from audit.errors import ConfigError
from audit.models.baselines import TrainedModels
from audit.verdict import Verdict, decide
from audit.threads import one_thread

SUPPORTS_MULTICLASS = True  # a flip is a change of predicted class


@bounded("robustness")
@dataclass(frozen=True)
class RobustnessOptions(ReportMixin):
    """Options and thresholds of the robustness audit.

    Parameters
    ----------
    max_rows : test rows used by the noise, corruption, missing-value and flip tests (0 = all).
    repeats : random draws averaged at each noise level / corruption rate.
    noise_levels : Gaussian noise on numeric features, in standard deviations of each feature.
    corruption_rates, missing_rates : share of categorical cells swapped to another valid
        category / of feature cells set missing.
    attack_rows : test rows attacked (0 = skip the attacks).
    attack_budgets : perturbation budgets, in standard deviations of each mutable feature.
    attack_norm : "linf" (each feature moves at most the budget) or "l2" (the Euclidean length
        of the standardised change is at most the budget).
    hsj_max_iter, hsj_max_eval, hsj_init_eval : HopSkipJump's iterations and its evaluations
        for estimating the gradient; hsj_init_size : random points tried to find its start.
        The defaults keep 200 Adult rows near 5 s; on a linear model they land within 2% of
        the true boundary distance (more iterations barely move the median on Adult).
    pgd_max_iter : iterations of projected gradient descent at each budget.
    round_integers : adversarial values of integer-valued features are whole numbers.
    max_flip_values : alternative values tried per column in the flip tests.
    edge_quantile : the tails (e.g. 0.01 = lowest and highest 1% of training values).
    min_edge_rows : edge slices with fewer test rows are reported but not judged.
    regression_tolerance : a regression prediction flips when it moves by more than this many
        standard deviations of the training target.
    verdict_noise_level, warn_noise_flip, fail_noise_flip : flip-rate thresholds at that noise level.
    verdict_corruption_rate, warn_corruption_flip : flip-rate warning at that corruption / missing rate.
    verdict_budget, warn_attack_success, fail_attack_success : attack success thresholds at that budget.
    warn_sensitive_flip, fail_sensitive_flip : flip rate of any sensitive group (min_group_size rows or more).
    warn_proxy_flip : flip rate of any sensitive group when the strongest proxy changes.
    warn_edge_drop : warn when an edge slice is worse than overall by more than this (accuracy
        points; relative mean absolute error for regression).
    """

    max_rows: int = 5000
    repeats: int = 2
    noise_levels: tuple[float, ...] = (0.0, 0.05, 0.1, 0.2, 0.5, 1.0)
    corruption_rates: tuple[float, ...] = (0.0, 0.05, 0.1, 0.2, 0.5)
    missing_rates: tuple[float, ...] = (0.0, 0.05, 0.1, 0.2, 0.5)
    attack_rows: int = 200
    attack_budgets: tuple[float, ...] = (0.1, 0.25, 0.5, 1.0)
    attack_norm: str = "l2"
    hsj_max_iter: int = 10
    hsj_max_eval: int = 100
    hsj_init_eval: int = 20
    hsj_init_size: int = 100
    pgd_max_iter: int = 20
    round_integers: bool = True
    max_flip_values: int = 10
    edge_quantile: float = 0.01
    min_edge_rows: int = 30
    regression_tolerance: float = 0.1
    verdict_noise_level: float = 0.1
    warn_noise_flip: float = 0.05
    fail_noise_flip: float = 0.2
    verdict_corruption_rate: float = 0.1
    warn_corruption_flip: float = 0.1
    verdict_budget: float = 0.25
    warn_attack_success: float = 0.25
    fail_attack_success: float = 0.5
    warn_sensitive_flip: float = 0.01
    fail_sensitive_flip: float = 0.1
    warn_proxy_flip: float = 0.1
    warn_edge_drop: float = 0.1

    def __post_init__(self) -> None:
        def bad(name: str, expected: str) -> None:
            raise ConfigError(f"robustness.{name} must be {expected}, got {getattr(self, name)!r}")

        for name in ("max_rows", "attack_rows"):
            if getattr(self, name) < 0:
                bad(name, "0 or more")
        for name in ("repeats", "hsj_max_iter", "hsj_max_eval", "hsj_init_eval", "hsj_init_size", "pgd_max_iter", "max_flip_values", "min_edge_rows"):
            if getattr(self, name) < 1:
                bad(name, "at least 1")
        if self.hsj_init_eval > self.hsj_max_eval:
            bad("hsj_init_eval", f"at most hsj_max_eval ({self.hsj_max_eval})")
        if not self.noise_levels or any(not 0 <= v <= 10 for v in self.noise_levels):
            bad("noise_levels", "a non-empty list of standard deviations in [0, 10]")
        for name in ("corruption_rates", "missing_rates"):
            if not getattr(self, name) or any(not 0 <= v <= 1 for v in getattr(self, name)):
                bad(name, "a non-empty list of shares in [0, 1]")
        if not self.attack_budgets or any(not 0 < v <= 10 for v in self.attack_budgets):
            bad("attack_budgets", "a non-empty list of standard deviations in (0, 10]")
        if self.attack_norm not in ATTACK_NORMS:
            bad("attack_norm", f"one of {', '.join(ATTACK_NORMS)}")
        if not 0 < self.edge_quantile < 0.5:
            bad("edge_quantile", "a share in (0, 0.5)")
        if not self.regression_tolerance > 0:
            bad("regression_tolerance", "above 0")
        if self.verdict_noise_level not in self.noise_levels:
            bad("verdict_noise_level", f"one of noise_levels {self.noise_levels}")
        if self.verdict_corruption_rate not in self.corruption_rates or self.verdict_corruption_rate not in self.missing_rates:
            bad("verdict_corruption_rate", "one of both corruption_rates and missing_rates")
        if self.verdict_budget not in self.attack_budgets:
            bad("verdict_budget", f"one of attack_budgets {self.attack_budgets}")
        for f in fields(self):
            if f.name.startswith(("warn_", "fail_")) and not 0 <= getattr(self, f.name) <= 1:
                bad(f.name, "a share in [0, 1]")
        for kind in ("noise_flip", "attack_success", "sensitive_flip"):
            if getattr(self, f"warn_{kind}") > getattr(self, f"fail_{kind}"):
                bad(f"warn_{kind}", f"at most fail_{kind} ({getattr(self, f'fail_{kind}')})")


@dataclass(frozen=True)
class RobustnessReport(ReportMixin):
    """The ``robustness`` section."""

    task: str
    model: str
    metric: str
    higher_is_better: bool
    flip_definition: str
    n_rows: int
    clean_metric: float
    noise: Curve
    categorical_corruption: Curve
    missing_values: Curve
    attacks: AttackReport
    flip_tests: tuple[FlipTest, ...]
    edge_cases: EdgeCases
    thresholds: Mapping[str, float]
    seconds: Mapping[str, float]
    verdict: Verdict


def audit_robustness(
    trained: TrainedModels,
    *,
    options: RobustnessOptions | None = None,
    seed: int = 0,
    progress: Callable[[float, str], None] | None = None,
    proxies: Mapping[str, str] | None = None,
    fairness_options: Any = None,
) -> RobustnessReport:
    """Stress the audited model with noise, corruption, missing values, attacks and flip tests.

    Parameters
    ----------
    trained : fitted baselines and splits.
    options : sample sizes, levels, attack settings and verdict thresholds.
    seed : seeds every random draw (row samples, noise, swaps, attacks).
    progress : called with (fraction done, message).
    proxies : sensitive column -> its strongest proxy feature, from the fairness audit.
    fairness_options : when the fairness section runs in the same audit (and ``proxies`` is not
        given), its options: the proxies are then found here as it finds them
        (:func:`audit.sections.fairness.section.strongest_proxies_for`), so robustness need
        not wait for fairness to finish.

    Returns
    -------
    RobustnessReport
    """
    # HistGradientBoosting on busy cores is 10-100x slower with an OpenMP team (audit.threads).
    with one_thread("openmp"):
        if proxies is None and fairness_options is not None:
            from audit.sections.fairness.section import strongest_proxies_for

            proxies = strongest_proxies_for(trained, fairness_options, seed)
        return _audit(trained, options or RobustnessOptions(), seed, progress, proxies or {})


def _audit(trained: TrainedModels, opts: RobustnessOptions, seed: int, progress, proxies: Mapping[str, str]) -> RobustnessReport:
    say = progress or (lambda f, m: None)
    ds = trained.dataset
    judge = Judge(trained, opts.regression_tolerance)
    secs: dict[str, float] = {}
    t0 = time.perf_counter()
    rng = np.random.default_rng([seed, 0])
    n_all = len(trained.X_test)
    n = n_all if opts.max_rows == 0 else min(opts.max_rows, n_all)
    pick = np.sort(rng.choice(n_all, size=n, replace=False))
    X = trained.X_test.iloc[pick].reset_index(drop=True)
    y = trained.y_test[pick]
    G = trained.groups_test.iloc[pick].reset_index(drop=True)
    s0 = judge.score(X)
    Xtr = trained.X_train
    free = [c for c in ds.features if c not in ds.sensitive]
    num = [c for c in free if c in ds.numeric and np.nanstd(Xtr[c].to_numpy(dtype=float)) > 0]
    cat = {c: pd.Series(Xtr[c].dropna().unique()).astype(str).sort_values().to_numpy() for c in free if c in ds.categorical}
    cat = {c: v for c, v in cat.items() if len(v) >= 2}

    say(0.02, f"noise, corruption and missing values on {n} test rows")
    r_noise, r_cat, r_mis = (np.random.default_rng([seed, k]) for k in (1, 2, 3))
    sd = {c: float(np.nanstd(Xtr[c].to_numpy(dtype=float))) for c in num}
    box = {c: (float(np.nanmin(Xtr[c].to_numpy(dtype=float))), float(np.nanmax(Xtr[c].to_numpy(dtype=float)))) for c in num}
    lv, rate = opts.verdict_noise_level, opts.verdict_corruption_rate
    noise = curve("gaussian_noise", "standard deviations", num, opts.noise_levels, lv, X, y, s0, judge, opts.repeats,
                   lambda X_, cols, v: noisy(X_, cols, v, sd, box, r_noise),
                   "Gaussian noise with this many standard deviations of each feature, clipped to its training range")
    corr = curve("categorical_corruption", "share of cells", list(cat), opts.corruption_rates, rate, X, y, s0, judge, opts.repeats,
                  lambda X_, cols, v: swapped(X_, cols, v, cat, r_cat),
                  "each cell swaps, with this probability, to another category seen in training")
    miss = curve("missing_values", "share of cells", free, opts.missing_rates, rate, X, y, s0, judge, opts.repeats,
                  lambda X_, cols, v: blanked(X_, cols, v, r_mis),
                  "each cell is set missing with this probability; the pipeline imputes it")
    secs["perturbations"] = time.perf_counter() - t0

    t1 = time.perf_counter()
    say(0.2, "sensitive-attribute and proxy flip tests")
    flips = flip_tests(trained, X, G, s0, judge, opts, proxies)
    secs["flip_tests"] = time.perf_counter() - t1

    t1 = time.perf_counter()
    say(0.3, "edge cases")
    edge = edge_cases(trained, X, s0, judge, opts, list(cat))
    secs["edge_cases"] = time.perf_counter() - t1

    t1 = time.perf_counter()
    if opts.attack_rows > 0:
        attacks = attack_model(trained, options=opts, seed=seed, progress=lambda f, m: say(0.35 + 0.6 * f, m))
    else:
        attacks = AttackReport(False, "attacks skipped (attack_rows = 0)", opts.attack_norm, tuple(opts.attack_budgets), n_rows=0, rows=(),
                               mutable_features=(), fixed_features=(), feature_sd={}, integer_features=(), fixed_values_changed=0)
    secs["attacks"] = time.perf_counter() - t1
    secs["total"] = time.perf_counter() - t0

    clean = judge.value(s0, y)
    thresholds = {f.name: float(getattr(opts, f.name)) for f in fields(opts) if f.name.startswith(("warn_", "fail_", "verdict_"))}
    verdict = _verdict(opts, noise, corr, miss, attacks, flips, edge)
    say(1.0, "robustness done")
    flip_def = ("the predicted class changes" if judge.multi else f"the decision at threshold {judge.thr:g} changes" if judge.binary
                else f"the prediction moves by more than {opts.regression_tolerance:g} standard deviations of the target ({judge.tol:.4g})")
    return RobustnessReport(
        task=trained.task, model=trained.selected, metric=judge.metric, higher_is_better=judge.binary, flip_definition=flip_def,
        n_rows=n, clean_metric=clean, noise=noise, categorical_corruption=corr, missing_values=miss, attacks=attacks,
        flip_tests=flips, edge_cases=edge, thresholds=thresholds, seconds=secs, verdict=verdict,
    )


def _attack_max(attacks: AttackReport, budget: float) -> tuple[float, str]:
    best, name = 0.0, ""
    for res in (attacks.decision_based, attacks.gradient):
        for p in res.success_by_budget if res else ():
            if p.budget == budget and p.success_rate >= best:
                best, name = p.success_rate, f"{res.name} ({res.kind})"
    return best, name


def _verdict(opts, noise, corr, miss, attacks, flips, edge) -> Verdict:
    fails, warns, passes = [], [], []

    def judge(value: float, what: str, warn: float, fail: float | None = None, detail: str = "") -> None:
        if fail is not None and value > fail:
            fails.append(f"{what}: {value:.1%} (fail above {fail:.0%}){detail}")
        elif value > warn:
            warns.append(f"{what}: {value:.1%} (warn above {warn:.0%}){detail}")
        else:
            passes.append(f"{what}: {value:.1%} (within {warn:.0%}){detail}")

    def driver(c: Curve) -> str:
        top = max(c.by_feature, key=c.by_feature.get, default=None)
        return f"; most from {top} ({c.by_feature[top]:.1%} alone)" if top and c.by_feature[top] > 0 else ""

    lv = opts.verdict_noise_level
    if noise.features:
        f = next(p.flip_rate for p in noise.points if p.level == lv)
        judge(f, f"predictions flipped by noise of {lv:g} sd on numeric features", opts.warn_noise_flip, opts.fail_noise_flip, driver(noise))
    for cur, what in ((corr, "categorical corruption"), (miss, "missing values")):
        if cur.features:
            rate = opts.verdict_corruption_rate
            f = next(p.flip_rate for p in cur.points if p.level == rate)
            judge(f, f"predictions flipped by {rate:.0%} {what}", opts.warn_corruption_flip, detail=driver(cur))
    if attacks.applicable:
        rate, name = _attack_max(attacks, opts.verdict_budget)
        judge(rate, f"{name or 'attack'} success within {opts.verdict_budget:g} sd ({attacks.norm})", opts.warn_attack_success, opts.fail_attack_success)
    for t in flips:
        judged = [g for g in t.groups if not g.small]
        if not t.is_feature or not judged:
            continue
        worst = max(judged, key=lambda g: g.flip_rate)
        what = f"predictions changed by changing {t.column}" + ("" if t.role == "sensitive" else f" (proxy of {t.sensitive})")
        what += f", worst group {t.sensitive}={worst.group} (n={worst.n})"
        if t.role == "sensitive":
            judge(worst.flip_rate, what, opts.warn_sensitive_flip, opts.fail_sensitive_flip)
        else:
            judge(worst.flip_rate, what, opts.warn_proxy_flip)
    bad = [s for s in edge.slices if s.n >= opts.min_edge_rows and s.gap > opts.warn_edge_drop]
    for s in sorted(bad, key=lambda s: -s.gap)[:5]:
        warns.append(f"{edge.metric} on {s.feature} {s.slice} (n={s.n}) is {s.metric:.3f} vs {edge.overall:.3f} overall (warn when worse by more than {opts.warn_edge_drop:g})")
    if not bad:
        passes.append(f"no edge slice of {opts.min_edge_rows}+ rows is worse than overall by more than {opts.warn_edge_drop:g}")
    return decide(fails, warns, passes)


__all__ = ["audit_robustness", "RobustnessOptions", "RobustnessReport", "Curve", "CurvePoint", "FlipTest", "GroupFlip",
           "EdgeCases", "EdgeSlice", "AttackReport", "AttackResult", "BudgetPoint", "FeatureChange"]
