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

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import scipy.sparse as sp

from audit.serial import ReportMixin
from audit.models.baselines import TrainedModels
from audit.threads import one_thread

if TYPE_CHECKING:  # the options live in robustness.py, which imports this module
    from audit.sections.robustness.section import RobustnessOptions

ATTACK_NORMS = ("l2", "linf")
# float32 inside ART and float64 here differ in the 7th digit; that must not fail a budget.
_SLACK = 1e-6


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


@dataclass(frozen=True, eq=False)
class _Space:
    """The standardised, boxed space of the mutable features."""

    features: tuple[str, ...]
    mu: np.ndarray
    sd: np.ndarray
    raw_lo: np.ndarray
    raw_hi: np.ndarray
    integer: np.ndarray  # bool per feature

    @property
    def lo(self) -> np.ndarray:
        return self.to_z(self.raw_lo)

    @property
    def hi(self) -> np.ndarray:
        return self.to_z(self.raw_hi)

    def to_z(self, x: np.ndarray) -> np.ndarray:
        return (x - self.mu) / self.sd

    def to_raw(self, z: np.ndarray) -> np.ndarray:
        return self.mu + self.sd * z


def _space(trained: TrainedModels) -> tuple[_Space | None, tuple[str, ...]]:
    ds, Xtr = trained.dataset, trained.X_train
    feats = [c for c in ds.numeric if c not in ds.sensitive and c not in ds.immutable and np.nanstd(Xtr[c].to_numpy(dtype=float)) > 0]
    fixed = tuple(c for c in ds.features if c not in feats)
    if not feats:
        return None, fixed
    V = Xtr[feats].to_numpy(dtype=np.float64)
    integer = np.array([np.allclose(v[np.isfinite(v)], np.round(v[np.isfinite(v)])) for v in V.T])
    return _Space(tuple(feats), np.nanmean(V, 0), np.nanstd(V, 0), np.nanmin(V, 0), np.nanmax(V, 0), integer), fixed


class _Scorer:
    """P(y=1) of a pipeline on base rows whose mutable features are replaced by standardised ``Z``.

    Attacks ask thousands of questions, and a pandas round-trip through the ColumnTransformer
    costs ~5 ms. The baselines' preprocessing is affine in a present numeric value (median
    imputation leaves it, scaling is affine), so the encoded row is ``E0 + (x - x0) @ J`` with
    ``J`` probed once and the estimator answers alone. The shortcut is checked against the full
    pipeline, which is used instead when they disagree (a custom, non-affine pipeline).
    """

    def __init__(self, pipe, X0: pd.DataFrame, space: _Space, rng: np.random.Generator, *, thr: float = 0.5, k: int = 2) -> None:
        # k classes: 2 decides at threshold ``thr`` on P(class 1); more decide by the most probable class.
        self.pipe, self.X0, self.space, self.thr, self.k = pipe, X0, space, thr, k
        self.x0 = X0[list(space.features)].to_numpy(dtype=np.float64)
        self.fast = False
        if "pre" in getattr(pipe, "named_steps", {}) and len(pipe.steps) == 2:
            pre, self.est = pipe[0], pipe[-1]
            self.E0 = _dense(pre.transform(X0))
            probe = X0.iloc[[0] * (len(space.features) + 1)].reset_index(drop=True)
            for j, f in enumerate(space.features):
                probe.loc[j + 1, f] += space.sd[j]
            T = _dense(pre.transform(probe))
            self.J = (T[1:] - T[0]) / space.sd[:, None]
            self.fast = True
            rows = rng.choice(len(X0), size=min(len(X0), 16), replace=False)
            Z = rng.uniform(space.lo, space.hi, size=(len(rows), len(space.features)))
            self.fast = bool(np.allclose(self.proba(rows, Z), self._slow(rows, Z), atol=1e-7))

    def frame(self, rows: np.ndarray, Z: np.ndarray) -> pd.DataFrame:
        X = self.X0.iloc[rows].reset_index(drop=True)
        X[list(self.space.features)] = self.space.to_raw(Z)
        return X

    def _slow(self, rows: np.ndarray, Z: np.ndarray) -> np.ndarray:
        return self.pipe.predict_proba(self.frame(rows, Z))

    def proba(self, rows: np.ndarray, Z: np.ndarray) -> np.ndarray:
        if not self.fast:
            return self._slow(rows, Z)
        return self.est.predict_proba(self.E0[rows] + (self.space.to_raw(Z) - self.x0[rows]) @ self.J)

    def scores(self, rows: np.ndarray, Z: np.ndarray) -> np.ndarray:
        return self.proba(rows, Z)[:, 1]

    def decide(self, rows: np.ndarray, Z: np.ndarray) -> np.ndarray:
        """The decision (class code) on each point: a flip is a change of it."""
        P = self.proba(rows, Z)
        return (P[:, 1] >= self.thr).astype(np.int64) if self.k == 2 else P.argmax(axis=1)


def _dense(m) -> np.ndarray:
    return np.asarray(m.toarray() if sp.issparse(m) else m, dtype=np.float64)


def _norm(delta: np.ndarray, norm: str) -> np.ndarray:
    return np.abs(delta).max(axis=-1) if norm == "linf" else np.sqrt((delta**2).sum(axis=-1))


class _Lockstep:
    """Answer the queries of many per-row attacks, each running in a thread, with one model call.

    ART's HopSkipJump attacks one row at a time with a few to a hundred points per query, and a
    gradient-boosting model costs about as much for one row as for a thousand (its overhead is per
    tree and call): a sequential loop spent ~15 s on 200 Adult rows. Here every row's attack runs
    unchanged in its own thread; when all live attacks wait, the calling thread scores their points
    in one call. Answers do not depend on the batching, so results equal the sequential loop's.
    """

    def __init__(self, n: int) -> None:
        self.lock, self.ready, self.alive = threading.Lock(), threading.Event(), n
        self.pending: dict[int, np.ndarray] = {}
        self.answers: dict[int, object] = {}
        self.events = [threading.Event() for _ in range(n)]

    def ask(self, k: int, Z: np.ndarray) -> np.ndarray:
        with self.lock:
            self.pending[k] = Z
            if len(self.pending) == self.alive:
                self.ready.set()
        self.events[k].wait()
        self.events[k].clear()
        out = self.answers.pop(k)
        if isinstance(out, BaseException):
            raise out
        return out

    def finish(self) -> None:
        with self.lock:
            self.alive -= 1
            if len(self.pending) == self.alive:
                self.ready.set()

    def serve(self, answer: Callable[[dict[int, np.ndarray]], dict[int, np.ndarray]]) -> int:
        calls = 0
        while True:
            self.ready.wait()
            with self.lock:
                self.ready.clear()
                batch, self.pending, alive = self.pending, {}, self.alive
            if not batch and alive == 0:
                return calls
            try:
                self.answers.update(answer(batch))
            except BaseException as exc:  # release the waiting attacks, then fail
                self.answers.update(dict.fromkeys(batch, exc))
                raise
            finally:
                for k in batch:
                    self.events[k].set()
            calls += 1


def _hop_skip_jump(scorer: _Scorer, z0: np.ndarray, base: np.ndarray, thr: float, opts, seed: int, rng) -> tuple[np.ndarray, dict]:
    """ART's HopSkipJump on every row, from a seeded start, run in lock step."""
    from art.attacks.evasion.hop_skip_jump import HopSkipJump
    from art.estimators.classification.blackbox import BlackBoxClassifier

    class SeededHopSkipJump(HopSkipJump):
        # ART draws its gradient-estimation directions from numpy's global RNG, shared by all
        # threads; a Generator per row keeps results reproducible whatever the thread schedule.
        # The body is ART 1.20's _compute_update with only the RNG swapped.
        def _compute_update(self, current_sample, num_eval, delta, target, mask, clip_min, clip_max):
            shape = [num_eval, *self.estimator.input_shape]
            noise = (self.rng.standard_normal(shape) if self.norm == 2 else self.rng.uniform(-1, 1, size=shape)).astype(np.float32)
            noise /= np.sqrt(np.sum(noise**2, axis=tuple(range(1, len(shape))), keepdims=True))
            samples = np.clip(current_sample + delta * noise, clip_min, clip_max)
            noise = (samples - current_sample) / delta
            ok = self._adversarial_satisfactory(samples=samples, target=target, clip_min=clip_min, clip_max=clip_max)
            f = (2 * ok.reshape([num_eval] + [1] * len(self.estimator.input_shape)) - 1.0).astype(np.float32)
            grad = np.mean(noise, 0) if f.mean() == 1 else -np.mean(noise, 0) if f.mean() == -1 else np.mean((f - f.mean()) * noise, 0)
            return grad / np.linalg.norm(grad) if self.norm == 2 else np.sign(grad)

    space, n, d = scorer.space, len(z0), len(scorer.space.features)
    rows = np.arange(n)
    # The start: the nearest flipping point of hsj_init_size random points of the box (ART would
    # draw its own from an unseeded RandomState).
    k = opts.hsj_init_size
    Zc = rng.uniform(space.lo, space.hi, size=(n, k, d))
    flips = scorer.decide(np.repeat(rows, k), Zc.reshape(n * k, d)).reshape(n, k) != base[:, None]
    dist = np.where(flips, _norm(Zc - z0[:, None, :], opts.attack_norm), np.inf)
    init = Zc[rows, np.argmin(dist, axis=1)]
    todo = np.flatnonzero(np.isfinite(dist.min(axis=1)))
    step, clip = _Lockstep(len(todo)), (space.lo.astype(np.float32), space.hi.astype(np.float32))
    z_adv, errors = z0.copy(), []

    def run(k: int, i: int) -> None:
        try:
            clf = BlackBoxClassifier(lambda Z: step.ask(k, Z), input_shape=(d,), nb_classes=scorer.k, clip_values=clip)
            hsj = SeededHopSkipJump(clf, batch_size=opts.hsj_max_eval, targeted=False, norm=2 if opts.attack_norm == "l2" else np.inf,
                                    max_iter=opts.hsj_max_iter, max_eval=opts.hsj_max_eval, init_eval=opts.hsj_init_eval, init_size=1, verbose=False)
            hsj.rng = np.random.default_rng([seed, 6, int(i)])
            z_adv[i] = hsj.generate(x=z0[i : i + 1].astype(np.float32), x_adv_init=init[i : i + 1].astype(np.float32))[0]
        except BaseException as exc:  # raised again by the calling thread
            errors.append(exc)
        finally:
            step.finish()

    def answer(batch: dict[int, np.ndarray]) -> dict[int, np.ndarray]:
        keys = list(batch)
        r = np.concatenate([np.full(len(batch[k]), todo[k]) for k in keys])
        onehot = np.eye(scorer.k, dtype=np.float32)[scorer.decide(r, np.concatenate([batch[k] for k in keys]).astype(np.float64))]
        return dict(zip(keys, np.split(onehot, np.cumsum([len(batch[k]) for k in keys])[:-1])))

    threads = [threading.Thread(target=run, args=(k, i), daemon=True) for k, i in enumerate(todo)]
    for t in threads:
        t.start()
    calls = step.serve(answer) if len(todo) else 0
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    settings = dict(max_iter=opts.hsj_max_iter, max_eval=opts.hsj_max_eval, init_eval=opts.hsj_init_eval,
                    init_size=opts.hsj_init_size, rows_with_start=len(todo), model_calls=calls, fast_scoring=scorer.fast)
    return z_adv, {k: float(v) for k, v in settings.items()}


def _to_boundary(scorer: _Scorer, z0: np.ndarray, z_adv: np.ndarray, base: np.ndarray, thr: float, norm: str, steps: int = 25) -> np.ndarray:
    """Pull adversarial points back to the decision boundary, all rows at once.

    ART's HopSkipJump returns the point after its last geometric step, past the boundary by up to
    ~1/sqrt(iterations) of the distance (30% at 10 iterations, measured on a linear model); a
    binary search along its own interpolation (segment for L2, shrinking box for L-inf) removes that.
    """
    rows = np.arange(len(z0))
    lo, hi, radius = np.zeros(len(z0)), np.ones(len(z0)), np.abs(z_adv - z0).max(axis=1)

    def at(a: np.ndarray) -> np.ndarray:
        if norm == "l2":
            return z0 + a[:, None] * (z_adv - z0)
        return np.clip(z_adv, z0 - (a * radius)[:, None], z0 + (a * radius)[:, None])

    flipped = scorer.decide(rows, z_adv) != base
    for _ in range(steps):
        mid = (lo + hi) / 2
        flip = scorer.decide(rows, at(mid)) != base
        hi, lo = np.where(flip, mid, hi), np.where(flip, lo, mid)
    return np.where(flipped[:, None], at(hi), z_adv)


def _valid(space: _Space, z0: np.ndarray, z: np.ndarray, *, toward: bool, scorer: _Scorer | None = None, base=None, thr=0.5, norm="l2") -> np.ndarray:
    """Valid values (standardised): whole numbers for integer-valued features, inside the observed range.

    Within a budget, integers round toward the row's value so the budget holds. For a minimal
    perturbation, rounding to nearest can fall back across the boundary, so rounding away from
    the row's value is tried too and the flipping candidate with the smaller distance is kept.
    """
    x0, x = space.to_raw(z0), space.to_raw(z)
    d = np.round(x - x0, 9)
    if toward:
        cands = [np.where(space.integer, x0 + np.trunc(d), x)]
    else:
        cands = [np.where(space.integer, np.round(x), x), np.where(space.integer, x0 + np.sign(d) * np.ceil(np.abs(d)), x)]
    cands = [space.to_z(np.clip(c, space.raw_lo, space.raw_hi)) for c in cands]
    if len(cands) == 1:
        return cands[0]
    rows = np.arange(len(z0))
    dist = [np.where(scorer.decide(rows, c) != base, _norm(c - z0, norm), np.inf) for c in cands]
    return np.where((np.argmin(dist, axis=0) == 0)[:, None], cands[0], cands[1])


def _result(name: str, kind: str, source: str, space: _Space, z0, z, flipped, points, t0: float, settings, note: str, dist=None) -> AttackResult:
    a = np.abs(z - z0)[flipped]
    k = max(len(a), 1)  # no success: every share is 0
    largest = np.bincount(np.argmax(a, axis=1), minlength=a.shape[1]) / k
    changes = sorted((FeatureChange(f, float(a[:, j].sum() / k), float((a[:, j] > 1e-9).sum() / k), float(largest[j]))
                      for j, f in enumerate(space.features)), key=lambda c: -c.mean_abs_change)
    med = float(np.median(dist[flipped])) if dist is not None and flipped.any() else None
    shown = tuple(float(v) for v in np.where(flipped, dist, np.nan)) if dist is not None else ()
    return AttackResult(name, kind, source, len(z0), float(flipped.mean()), int(flipped.sum()), tuple(points), med, shown,
                        tuple(changes), settings, time.perf_counter() - t0, note)


def attack_model(trained: TrainedModels, *, options: "RobustnessOptions", seed: int,
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
    space, fixed = _space(trained)
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
    scorer = _Scorer(trained.model, X0, space, rng, thr=thr, k=k)
    z, settings = _hop_skip_jump(scorer, z0, base, thr, opts, seed, rng)
    z = _to_boundary(scorer, z0, z, base, thr, opts.attack_norm)
    if opts.round_integers:
        z = _valid(space, z0, z, toward=False, scorer=scorer, base=base, thr=thr, norm=opts.attack_norm)
    flipped, dist = check(z), _norm(z - z0, opts.attack_norm)
    points = [BudgetPoint(float(b), float(np.mean(flipped & (dist <= b + _SLACK))), int(np.sum(flipped & (dist <= b + _SLACK)))) for b in opts.attack_budgets]
    hsj = _result("HopSkipJump", "decision-based (black-box)", trained.selected, space, z0, z, flipped, points, t0, settings,
                  "distances are upper bounds on the minimal perturbation; a row with no flipping point inside the observed ranges counts as a failure", dist)
    say(0.8, "gradient attack (PGD)")
    grad, why = _pgd(trained, space, X0, z0, base, opts, rng, check, k)
    integer = tuple(f for f, i in zip(feats, space.integer) if i and opts.round_integers)
    return AttackReport(True, why, opts.attack_norm, tuple(opts.attack_budgets), n, tuple(int(i) for i in pick), space.features,
                        fixed, dict(zip(feats, map(float, space.sd))), integer, moved[0], hsj, grad)


def _pgd(trained: TrainedModels, space: _Space, X0, z0, base, opts, rng, check, k: int = 2) -> tuple[AttackResult | None, str]:
    """PGD (ART) on the logistic baseline: white-box when it is the audited model, else a transfer attack."""
    if "logistic" not in trained.pipelines:
        return None, "no gradient attack: the logistic baseline, the differentiable model it needs, was not trained"
    from art.attacks.evasion.projected_gradient_descent.projected_gradient_descent_numpy import ProjectedGradientDescentNumpy
    from art.estimators.classification.scikitlearn import ScikitlearnLogisticRegression

    t0 = time.perf_counter()
    lr = trained.pipelines["logistic"]
    sc = _Scorer(lr, X0, space, rng, k=k)
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
        z = _valid(space, z0, z, toward=True) if opts.round_integers else z
        flipped = check(z)
        points.append(BudgetPoint(float(b), float(flipped.mean()), int(flipped.sum())))
    white = trained.selected == "logistic"
    note = "" if white else f"the audited model ({trained.selected}) has no gradient: rows crafted on the logistic baseline were transferred to it"
    return _result("PGD", "gradient (white-box)" if white else "gradient (transfer from the logistic baseline)", "logistic", space,
                   z0, z, flipped, points, t0, {"max_iter": float(opts.pgd_max_iter), "eps_step": 0.25, "random_inits": 0.0}, note), ""
