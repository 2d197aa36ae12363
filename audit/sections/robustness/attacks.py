"""Evasion attacks for the robustness audit, run with the Adversarial Robustness Toolbox (ART).

Attacks move only the *mutable* features: numeric, not sensitive, not declared
immutable, not constant. They work on these standardised by their training mean
and standard deviation, inside the range observed in training; every other column
keeps the row's own value, so categories stay valid and immutable features never
move (the report counts fixed cells that changed: 0, and a test holds it there).

- Decision-based, black-box: ART's HopSkipJump on a ``BlackBoxClassifier`` that
  asks the audited pipeline for its decision. It ends just across the decision
  boundary, so its distance estimates the minimal perturbation that flips the
  decision (an upper bound, so success rates at a budget are lower bounds).
- Gradient: ART's projected gradient descent (PGD) on the logistic baseline (the
  real fitted estimator in ART's ``ScikitlearnLogisticRegression``, with the
  standardisation folded into ART's ``preprocessing``), white-box when it is the
  audited model and otherwise transferred to the audited model (stated).

Success means the audited pipeline's decision on the realised raw row (whole
numbers for integer-valued features, inside the observed range) differs from its
decision on the clean row, checked with the full pipeline.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from audit.serial import ReportMixin
from audit.models.baselines import TrainedModels
from audit.sections.robustness.hopskipjump import hop_skip_jump, to_boundary
from audit.sections.robustness.space import Scorer, Space, attack_space, distance, valid
from audit.threads import one_thread

ATTACK_NORMS = ("l2", "linf")
# float32 inside ART and float64 here differ in the 7th digit; that must not fail a budget.
_SLACK = 1e-6


class AttackOptions(Protocol):
    """The attack settings of ``RobustnessOptions`` (section.py imports this module, not the reverse)."""

    attack_rows: int
    attack_norm: str
    attack_budgets: tuple[float, ...]
    hsj_max_iter: int
    hsj_max_eval: int
    hsj_init_eval: int
    hsj_init_size: int
    pgd_max_iter: int
    round_integers: bool


@dataclass(frozen=True)
class BudgetPoint(ReportMixin):
    """Share of attacked rows whose decision flips within ``budget`` (standard deviations)."""

    budget: float
    success_rate: float
    n_success: int


@dataclass(frozen=True)
class FeatureChange(ReportMixin):
    """How much successful attacks move one mutable feature, in standard deviations."""

    feature: str
    mean_abs_change: float
    share_changed: float
    share_largest: float  # share of successful attacks where this feature moved most


@dataclass(frozen=True)
class AttackResult(ReportMixin):
    """One attack on ``n_rows`` test rows.

    ``success_rate`` counts decisions flipped anywhere inside the observed ranges. For the
    minimal-perturbation attack, ``distances`` holds each attacked row's perturbation in the
    report's norm (NaN where it did not flip) and ``median_min_perturbation`` their median.
    """

    name: str
    kind: str
    source_model: str
    n_rows: int
    success_rate: float
    n_success: int
    success_by_budget: tuple[BudgetPoint, ...]
    median_min_perturbation: float | None
    distances: tuple[float, ...]
    feature_changes: tuple[FeatureChange, ...]
    settings: Mapping[str, float]
    seconds: float
    note: str = ""


@dataclass(frozen=True)
class AttackReport(ReportMixin):
    """Evasion attacks on the audited model; ``rows`` index the attacked rows of the test split."""

    applicable: bool
    note: str
    norm: str
    budgets: tuple[float, ...]
    n_rows: int
    rows: tuple[int, ...]
    mutable_features: tuple[str, ...]
    fixed_features: tuple[str, ...]
    feature_sd: Mapping[str, float]
    integer_features: tuple[str, ...]
    fixed_values_changed: int
    decision_based: AttackResult | None = None
    gradient: AttackResult | None = None


def _result(name: str, kind: str, source: str, space: Space, z0, z, flipped, points, t0: float, settings, note: str, dist=None) -> AttackResult:
    a = np.abs(z - z0)[flipped]
    k = max(len(a), 1)  # no success: every share is 0
    largest = np.bincount(np.argmax(a, axis=1), minlength=a.shape[1]) / k
    changes = sorted((FeatureChange(f, float(a[:, j].sum() / k), float((a[:, j] > 1e-9).sum() / k), float(largest[j]))
                      for j, f in enumerate(space.features)), key=lambda c: -c.mean_abs_change)
    med = float(np.median(dist[flipped])) if dist is not None and flipped.any() else None
    shown = tuple(float(v) for v in np.where(flipped, dist, np.nan)) if dist is not None else ()
    return AttackResult(name, kind, source, len(z0), float(flipped.mean()), int(flipped.sum()), tuple(points), med, shown,
                        tuple(changes), settings, time.perf_counter() - t0, note)


def attack_model(trained: TrainedModels, *, options: AttackOptions, seed: int,
                 progress: Callable[[float, str], None] | None = None) -> AttackReport:
    """Run the decision-based and the gradient attack on a seeded sample of test rows.

    Parameters
    ----------
    trained : fitted baselines and splits.
    options : the robustness options (rows, budgets, norm, attack settings).
    seed : seeds the row sample, the attack starts and HopSkipJump's random directions.
    progress : called with (fraction done, message).

    Returns
    -------
    AttackReport
    """
    # Attacks ask about few rows at a time: 830 ms instead of 4 ms a row with an OpenMP team (audit.threads).
    with one_thread("openmp"):
        return _attack(trained, options, seed, progress or (lambda f, m: None))


def _attack(trained: TrainedModels, opts, seed: int, say) -> AttackReport:
    space, fixed = attack_space(trained)
    empty = dict(norm=opts.attack_norm, budgets=tuple(opts.attack_budgets), n_rows=0, rows=(), mutable_features=(),
                 fixed_features=fixed, feature_sd={}, integer_features=(), fixed_values_changed=0)
    if trained.task == "regression":
        return AttackReport(False, "evasion attacks flip decisions; a regression model has none to flip", **empty)
    if space is None:
        return AttackReport(False, "no mutable feature: every numeric feature is sensitive, immutable or constant", **empty)
    rng = np.random.default_rng([seed, 5])
    n = min(opts.attack_rows, len(trained.X_test))
    pick = np.sort(rng.choice(len(trained.X_test), size=n, replace=False))
    clean = trained.X_test.iloc[pick].reset_index(drop=True)
    feats = list(space.features)
    X0 = clean.copy()
    # A missing mutable value starts at the training median, which the pipelines impute anyway.
    X0[feats] = X0[feats].astype(np.float64).fillna(trained.X_train[feats].median())
    thr, base = trained.report.decision_threshold, trained.predict(X0)
    z0 = space.to_z(X0[feats].to_numpy(dtype=np.float64))
    moved = [0]

    def check(Z: np.ndarray) -> np.ndarray:
        """Decisions of the audited pipeline on the realised rows; counts fixed cells that moved."""
        X = X0.copy()
        X[feats] = space.to_raw(Z)
        moved[0] += sum(int((~((X[c] == clean[c]) | (X[c].isna() & clean[c].isna()))).sum()) for c in fixed)
        return trained.predict(X) != base

    say(0.05, f"HopSkipJump on {n} test rows ({len(feats)} mutable features)")
    t0 = time.perf_counter()
    k = len(trained.classes) if trained.task == "multiclass" else 2  # untargeted: any other class is a flip
    scorer = Scorer(trained.model, X0, space, rng, thr=thr, k=k)
    z, settings = hop_skip_jump(scorer, z0, base, thr, opts, seed, rng)
    z = to_boundary(scorer, z0, z, base, thr, opts.attack_norm)
    if opts.round_integers:
        z = valid(space, z0, z, toward=False, scorer=scorer, base=base, thr=thr, norm=opts.attack_norm)
    flipped, dist = check(z), distance(z - z0, opts.attack_norm)
    points = [BudgetPoint(float(b), float(np.mean(flipped & (dist <= b + _SLACK))), int(np.sum(flipped & (dist <= b + _SLACK)))) for b in opts.attack_budgets]
    hsj = _result("HopSkipJump", "decision-based (black-box)", trained.selected, space, z0, z, flipped, points, t0, settings,
                  "distances are upper bounds on the minimal perturbation; a row with no flipping point inside the observed ranges counts as a failure", dist)
    say(0.8, "gradient attack (PGD)")
    grad, why = _pgd(trained, space, X0, z0, base, opts, rng, check, k)
    integer = tuple(f for f, i in zip(feats, space.integer) if i and opts.round_integers)
    return AttackReport(True, why, opts.attack_norm, tuple(opts.attack_budgets), n, tuple(int(i) for i in pick), space.features,
                        fixed, dict(zip(feats, map(float, space.sd))), integer, moved[0], hsj, grad)


def _pgd(trained: TrainedModels, space: Space, X0, z0, base, opts, rng, check, k: int = 2) -> tuple[AttackResult | None, str]:
    """PGD (ART) on the logistic baseline: white-box when it is the audited model, else a transfer attack."""
    if "logistic" not in trained.pipelines:
        return None, "no gradient attack: the logistic baseline, the differentiable model it needs, was not trained"
    from art.attacks.evasion.projected_gradient_descent.projected_gradient_descent_numpy import ProjectedGradientDescentNumpy
    from art.estimators.classification.scikitlearn import ScikitlearnLogisticRegression

    t0 = time.perf_counter()
    lr = trained.pipelines["logistic"]
    sc = Scorer(lr, X0, space, rng, k=k)
    d = len(space.features)
    cols = np.argmax(np.abs(sc.J), axis=1) if sc.fast else np.zeros(d, int)
    if not sc.fast or np.count_nonzero(np.abs(sc.J) > 1e-12) != d or len(set(cols)) != d:
        return None, "no gradient attack: the logistic baseline's preprocessing is not one scaled column per feature"
    # ART's input u is the encoded row with each mutable column replaced by the standardised value;
    # ART's preprocessing (u - sub) / div turns it back into the column the estimator was fitted on.
    slope = sc.J[np.arange(d), cols]
    div, sub = np.ones(sc.E0.shape[1]), np.zeros(sc.E0.shape[1])
    div[cols] = 1.0 / (slope * space.sd)
    sub[cols] = -(sc.E0[0, cols] - sc.x0[0] * slope + slope * space.mu) * div[cols]
    u0 = sc.E0.copy()
    u0[:, cols] = z0
    lo, hi = u0.min(axis=0) - 1.0, u0.max(axis=0) + 1.0
    lo[cols], hi[cols] = space.lo, space.hi
    clf = ScikitlearnLogisticRegression(lr[-1], clip_values=(lo, hi), preprocessing=(sub, div))
    if not np.allclose(clf.predict(u0), lr.predict_proba(X0), atol=1e-7):
        return None, "no gradient attack: ART's view of the logistic baseline disagrees with the pipeline"
    mask = np.zeros(len(lo))
    mask[cols] = 1.0
    points = []
    for b in opts.attack_budgets:
        pgd = ProjectedGradientDescentNumpy(clf, norm=2 if opts.attack_norm == "l2" else np.inf, eps=b, eps_step=b / 4,
                                            max_iter=opts.pgd_max_iter, num_random_init=0, batch_size=len(u0), verbose=False)
        # Labels are the audited model's decisions, so a transfer attack pushes against those.
        z = pgd.generate(x=u0, y=np.eye(k)[base], mask=mask)[:, cols]
        z = valid(space, z0, z, toward=True) if opts.round_integers else z
        flipped = check(z)
        points.append(BudgetPoint(float(b), float(flipped.mean()), int(flipped.sum())))
    white = trained.selected == "logistic"
    note = "" if white else f"the audited model ({trained.selected}) has no gradient: rows crafted on the logistic baseline were transferred to it"
    return _result("PGD", "gradient (white-box)" if white else "gradient (transfer from the logistic baseline)", "logistic", space,
                   z0, z, flipped, points, t0, {"max_iter": float(opts.pgd_max_iter), "eps_step": 0.25, "random_inits": 0.0}, note), ""
