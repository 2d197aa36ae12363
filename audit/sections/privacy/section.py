"""Privacy: DP-SGD training with Opacus, the cost of privacy, and membership inference.

The section answers three questions about the audited model:

1. How much does it leak about who was in its training data? Membership-inference
   attacks (``audit.sections.privacy.membership``) against the audited baseline.
2. What would differential privacy cost? A sweep over target epsilons trains a
   logistic regression and a small MLP with DP-SGD (Opacus, Poisson sampling) on
   the baselines' scaled one-hot features, and reports accuracy, ROC AUC, group
   accuracy and fairness gaps (DP often hurts small groups most), and training time
   relative to the same network trained without DP (``audit.sections.privacy.dp_training``).
3. Does DP close the leak? The same attacks against every network of the sweep.

Epsilons are those Opacus's accountant (RDP or PRV) reports for the training
actually run; :func:`compute_epsilon` gives the same accounting for a planned run.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from audit.sections.privacy.dp_training import ACCOUNTANTS, NETWORKS, TrainSettings, auto_delta, check_secure_mode_available, compute_epsilon
from audit.sections.privacy.groups import GroupMetrics
from audit.sections.privacy.membership import AttackResult
from audit.sections.privacy.sweep import AttackSample, ModelPrivacy, dp_sweep, user_model_entry
from audit.serial import ReportMixin
from audit.bounds import bounded
from audit.errors import ConfigError
from audit.models.attach import MEMBERSHIP_UNKNOWN
from audit.models.baselines import TrainedModels
from audit.verdict import Verdict, decide

_MIN_STEPS_PER_EPOCH = 20
TRAINERS = ("fused", "opacus")
SUPPORTS_MULTICLASS = True  # softmax DP-SGD networks, attacks on class probabilities (multiclass.py)

__all__ = ["PrivacyOptions", "PrivacyReport", "ModelPrivacy", "GroupMetrics", "AttackResult", "audit_privacy", "compute_epsilon"]


@bounded("privacy")
@dataclass(frozen=True)
class PrivacyOptions(ReportMixin):
    """Options and thresholds of the privacy audit (TOML table ``[privacy]``).

    Parameters
    ----------
    target_epsilons : the DP sweep; a non-private run of each network is always added.
    networks : among "logistic" and "mlp"; empty = no DP sweep (attacks on the audited model only).
    delta : the DP delta; 0 = the largest power of ten below 1 / (DP training rows).
    accountant : "rdp" (Renyi DP, fast) or "prv" (privacy random variables, tighter, slower).
    secure_mode : Opacus's cryptographically secure noise and sampling (needs torchcsprng;
        the run is then not reproducible from the seed).
    epochs, batch_size : training length and the expected (Poisson) batch size; the batch
        is lowered (and the report says so) to give at least 20 steps per epoch.
    learning_rate, momentum : SGD, the same for private and non-private runs.
    max_grad_norm : per-sample gradient clipping bound of DP-SGD.
    mlp_hidden : hidden units of the MLP.
    max_train_rows : rows of the training split the networks train on (a seeded
        sample when smaller; default 50,000; 0 = all). Each network's epsilon is accounted
        for the rows it trained on; the cap keeps the sweep's cost flat on large tables
        (600,000 training rows made it the slowest part of a 1M-row audit).
    attack_rows : members (training rows) and, as many, non-members (test rows) attacked.
    bootstrap, confidence : resamples and width of the attack-AUC intervals.
    low_fpr : the false-positive rate at which the attack's TPR is reported.
    accuracy_budget : a DP model is affordable when its test accuracy is at most this
        far below the audited model's.
    warn_attack_auc, fail_attack_auc : the audited model leaks when the strongest
        attack's AUC interval lies above ``warn_attack_auc`` (warn); above
        ``fail_attack_auc`` with no affordable DP model, the verdict fails.
    torch_threads : torch threads while the Opacus trainer runs (process-wide, restored after; 0 = leave;
        the fused trainer does not use torch).
    trainer : "fused" (default: each network's runs, non-private and every epsilon, train in
        one loop with closed-form per-sample gradients, Opacus's DP-SGD step for step; see
        ``fused.py``) or "opacus" (each run through Opacus's ``PrivacyEngine``, which also
        measures DP's training-time overhead). ``secure_mode`` always uses "opacus".
    """

    target_epsilons: tuple[float, ...] = (0.5, 1.0, 2.0, 4.0, 8.0)
    networks: tuple[str, ...] = NETWORKS
    delta: float = 0.0
    accountant: str = "rdp"
    secure_mode: bool = False
    epochs: int = 8
    batch_size: int = 1024
    learning_rate: float = 1.0
    momentum: float = 0.9
    max_grad_norm: float = 1.0
    mlp_hidden: int = 32
    max_train_rows: int = 50_000
    attack_rows: int = 2000
    bootstrap: int = 500
    confidence: float = 0.95
    low_fpr: float = 0.01
    accuracy_budget: float = 0.02
    warn_attack_auc: float = 0.55
    fail_attack_auc: float = 0.75
    torch_threads: int = 1
    trainer: str = "fused"

    def __post_init__(self) -> None:
        def bad(name: str, expected: str, value: object) -> ConfigError:
            return ConfigError(f"privacy.{name} must be {expected}, got {value!r}")

        if any(not (isinstance(e, (int, float)) and 0 < e < math.inf) for e in self.target_epsilons):
            raise bad("target_epsilons", "positive finite numbers", self.target_epsilons)
        if any(n not in NETWORKS for n in self.networks) or len(set(self.networks)) != len(self.networks):
            raise bad("networks", f"distinct names among {', '.join(NETWORKS)}", self.networks)
        if not 0 <= self.delta < 1:
            raise bad("delta", "in [0, 1) (0 = automatic, below 1/n)", self.delta)
        if self.accountant not in ACCOUNTANTS:
            raise bad("accountant", f"one of {', '.join(ACCOUNTANTS)}", self.accountant)
        for name in ("epochs", "batch_size", "mlp_hidden"):
            if getattr(self, name) < 1:
                raise bad(name, "at least 1", getattr(self, name))
        for name in ("learning_rate", "max_grad_norm"):
            if not getattr(self, name) > 0:
                raise bad(name, "positive", getattr(self, name))
        if not 0 <= self.momentum < 1:
            raise bad("momentum", "in [0, 1)", self.momentum)
        if self.max_train_rows < 0 or self.torch_threads < 0 or self.bootstrap < 0:
            name = next(n for n in ("max_train_rows", "torch_threads", "bootstrap") if getattr(self, n) < 0)
            raise bad(name, "0 or more", getattr(self, name))
        if self.trainer not in TRAINERS:
            raise bad("trainer", f"one of {', '.join(TRAINERS)}", self.trainer)
        if self.attack_rows < 20:
            raise bad("attack_rows", "at least 20", self.attack_rows)
        if not 0.5 <= self.confidence < 1:
            raise bad("confidence", "in [0.5, 1)", self.confidence)
        if not 0 < self.low_fpr < 0.5:
            raise bad("low_fpr", "in (0, 0.5)", self.low_fpr)
        if not 0 <= self.accuracy_budget < 1:
            raise bad("accuracy_budget", "in [0, 1)", self.accuracy_budget)
        if not 0.5 <= self.warn_attack_auc <= self.fail_attack_auc <= 1:
            raise bad("warn_attack_auc / fail_attack_auc", "0.5 <= warn <= fail <= 1",
                      (self.warn_attack_auc, self.fail_attack_auc))
        if self.secure_mode:
            check_secure_mode_available()


@dataclass(frozen=True)
class PrivacyReport(ReportMixin):
    """The ``privacy`` section: the audited model (see :attr:`audited`), then the networks trained with and without DP."""

    task: str
    accountant: str
    delta: float
    delta_rule: str
    secure_mode: bool
    networks: tuple[str, ...]
    target_epsilons: tuple[float, ...]
    epochs: int
    batch_size: int
    learning_rate: float
    momentum: float
    max_grad_norm: float
    mlp_hidden: int
    n_features: int
    n_train: int
    n_train_available: int
    n_test: int
    n_attack_members: int
    n_attack_nonmembers: int
    n_bootstrap: int
    confidence: float
    low_fpr: float
    accuracy_budget: float
    models: tuple[ModelPrivacy, ...]
    dp_overhead: Mapping[str, float]
    notes: tuple[str, ...]
    verdict: Verdict
    # The verdict's thresholds (attack AUC warn / fail, accuracy budget), so charts can draw them.
    thresholds: Mapping[str, float] = field(default_factory=dict)
    # Why the audited model was not attacked (its ``membership`` is null): the user's model, whose
    # training rows the audit does not know. "" when the attacks ran.
    membership_note: str = ""
    # What the sweep's networks are when the audited model is not one of the baselines they sit beside.
    sweep_note: str = ""

    @property
    def audited(self) -> ModelPrivacy | None:
        """The audited model's entry; every reader (cards, dashboard, verdict) asks this, not ``models[0]``."""
        return audited_model(self.models)

    def dp_models(self) -> tuple[ModelPrivacy, ...]:
        return tuple(m for m in self.models if m.role == "dp")


def audited_model(models: Sequence[ModelPrivacy]) -> ModelPrivacy | None:
    """The entry of role ``"audited"`` (None in a report without one)."""
    return next((m for m in models if m.role == "audited"), None)


def audit_privacy(
    trained: TrainedModels,
    *,
    options: PrivacyOptions | None = None,
    seed: int = 0,
    progress: Callable[[float, str], None] | None = None,
) -> PrivacyReport:
    """Attack the audited model's membership privacy and sweep DP-SGD training.

    Parameters
    ----------
    trained : fitted baselines and splits.
    options : the epsilon sweep, networks, training, attack sizes and verdict thresholds.
    seed : seeds the subsamples, network initialisation, Poisson sampling, DP noise,
        the attacks and the bootstrap (unless ``secure_mode``).
    progress : called with (fraction done, message).

    Returns
    -------
    PrivacyReport
    """
    opts = options or PrivacyOptions()
    say = progress or (lambda f, m: None)
    task = trained.task
    audited = trained
    if getattr(trained, "user", None) is not None:
        # The user's model: the networks train and are judged on the baselines' own splits.
        trained = trained.base
    rng = np.random.default_rng(seed)
    notes: list[str] = []
    networks = opts.networks if task != "regression" else ()
    if task == "regression" and opts.networks:
        notes.append("DP-SGD sweep skipped: it trains classifiers and the task is regression; "
                     "the loss-threshold attack uses the squared error")
    epsilons = tuple(sorted(set(float(e) for e in opts.target_epsilons)))

    n_avail = len(trained.y_train)
    train_rows = np.arange(n_avail)
    if opts.max_train_rows and opts.max_train_rows < n_avail:
        train_rows = np.sort(rng.choice(n_avail, size=opts.max_train_rows, replace=False))
        notes.append(f"the networks train on a seeded sample of {opts.max_train_rows:,} of the {n_avail:,} training rows "
                     "(privacy.max_train_rows); their epsilons are for these rows")
    n_train = len(train_rows)
    delta, delta_rule = _delta(opts, n_train, sweep=bool(networks and epsilons))

    settings = _train_settings(opts, n_train, bool(networks), notes)
    batch = settings.batch_size
    n_test = len(trained.y_test)
    m = min(opts.attack_rows, n_train, n_test)
    members = np.sort(rng.choice(train_rows, size=m, replace=False))
    nonmembers = np.sort(rng.choice(n_test, size=m, replace=False))
    sample = AttackSample(trained, opts, members, nonmembers, attack_seed=int(rng.integers(2**31)))
    entry, membership_note, sweep_note = _audited_entry(audited, sample, networks, n_train, say)
    models = [entry]
    n_features, overhead = 0, {}
    if networks:
        swept, overhead, n_features = dp_sweep(sample, networks, epsilons, train_rows, settings, delta, rng, say)
        models += swept
    say(1.0, "privacy done")
    return PrivacyReport(
        task=task, accountant=opts.accountant, delta=float(delta), delta_rule=delta_rule, secure_mode=opts.secure_mode,
        networks=tuple(networks), target_epsilons=epsilons if networks else (), epochs=opts.epochs,
        batch_size=batch, learning_rate=opts.learning_rate, momentum=opts.momentum,
        max_grad_norm=opts.max_grad_norm, mlp_hidden=opts.mlp_hidden, n_features=n_features, n_train=n_train,
        n_train_available=n_avail, n_test=n_test, n_attack_members=m, n_attack_nonmembers=m,
        n_bootstrap=opts.bootstrap, confidence=opts.confidence, low_fpr=opts.low_fpr,
        accuracy_budget=opts.accuracy_budget, models=tuple(models), dp_overhead=overhead, notes=tuple(notes),
        verdict=_verdict(models, opts, MEMBERSHIP_UNKNOWN if membership_note else ""),
        thresholds={"warn_attack_auc": opts.warn_attack_auc, "fail_attack_auc": opts.fail_attack_auc,
                    "accuracy_budget": opts.accuracy_budget},
        membership_note=membership_note, sweep_note=sweep_note,
    )


def _train_settings(opts: PrivacyOptions, n_train: int, sweep: bool, notes: list[str]) -> TrainSettings:
    """The sweep's training settings; what differs from the options goes into ``notes``."""
    # Poisson sampling at a rate above ~0.05 makes the RDP accounting very slow (40 s for
    # 1,800 rows at the default batch) and leaves too few steps to train on.
    batch = min(opts.batch_size, max(1, n_train // _MIN_STEPS_PER_EPOCH))
    if sweep and batch < opts.batch_size:
        notes.append(f"batch size lowered from {opts.batch_size} to {batch} so that each epoch has at least "
                     f"{_MIN_STEPS_PER_EPOCH} steps on {n_train} training rows")
    trainer = "opacus" if opts.secure_mode else opts.trainer  # the fused loop has no secure generator
    if sweep and trainer == "fused":
        notes.append("each network's runs (non-private and every epsilon) trained together in one loop "
                     "(privacy.trainer = fused): a model's train seconds are its network's whole loop, and DP's "
                     "time overhead is not measured (privacy.trainer = opacus measures it)")
    return TrainSettings(epochs=opts.epochs, batch_size=batch, learning_rate=opts.learning_rate, momentum=opts.momentum,
                         max_grad_norm=opts.max_grad_norm, mlp_hidden=opts.mlp_hidden, accountant=opts.accountant,
                         secure_mode=opts.secure_mode, trainer=trainer)


def _delta(opts: PrivacyOptions, n_train: int, *, sweep: bool) -> tuple[float, str]:
    """The DP delta and the rule that gave it."""
    if not opts.delta:
        return auto_delta(n_train), f"largest power of ten below 1/n for n = {n_train} training rows"
    if sweep and opts.delta >= 1 / n_train:
        raise ConfigError(f"privacy.delta must be below 1/n = {1 / n_train:.3g} for n = {n_train} training rows, got {opts.delta:g}")
    return opts.delta, "set in the options"


def _audited_entry(audited: TrainedModels, sample: AttackSample, networks: tuple[str, ...], n_train: int,
                   say: Callable[[float, str], None]) -> tuple[ModelPrivacy, str, str]:
    """The audited model's entry, why it was not attacked and what the sweep's networks are ("" when it is a baseline)."""
    m = len(sample.members)
    if audited is sample.trained:
        say(0.0, f"membership attacks on the audited model ({m} members, {m} non-members)")
        return sample.audited(), "", ""
    sweep_note = ""
    if networks:
        sweep_note = (f"the DP sweep's networks ({', '.join(networks)}) are references trained here on the baselines' "
                      f"training split ({n_train} rows), not your model, which is never retrained or attacked; "
                      f"your model's accuracy beside them is on the same test split ({len(sample.trained.y_test)} rows)")
    return user_model_entry(audited, sample), f"not run: {MEMBERSHIP_UNKNOWN}", sweep_note


def _verdict(models: list[ModelPrivacy], opts: PrivacyOptions, unattacked: str = "") -> Verdict:
    fails, warns, passes = [], [], []
    audited = audited_model(models)  # always present: audit_privacy evaluates it first

    def low(a: AttackResult) -> float:  # the interval's lower end; the AUC itself when bootstrap = 0
        return a.auc.low if np.isfinite(a.auc.low) else a.auc.value

    dp = [mp for mp in models if mp.role == "dp"]
    affordable = [mp for mp in dp if np.isfinite(mp.accuracy) and mp.accuracy >= audited.accuracy - opts.accuracy_budget]
    cheapest = min(affordable, key=lambda mp: mp.target_epsilon or math.inf, default=None)
    if cheapest is not None:
        remedy = (f"{cheapest.name} (epsilon spent {cheapest.epsilon_spent:.2f}) has accuracy {cheapest.accuracy:.3f}, "
                  f"within {opts.accuracy_budget} of the audited model's {audited.accuracy:.3f}")
    elif dp:
        remedy = f"no DP model of the sweep is within {opts.accuracy_budget} of the audited model's accuracy {audited.accuracy:.3f}"
    else:
        remedy = "no DP model was trained"
    if audited.membership is None:
        # Unmeasured is not safe: the scorecard shows a warning, never a pass, for the user's model.
        refs = f"; the sweep's reference networks: {remedy}" if dp else ""
        return decide([], [f"the audited model's membership privacy is not assessed: {unattacked}{refs}"])
    best = max(audited.membership, key=low)
    desc = f"{best.attack} attack AUC {best.auc.text()}"
    if low(best) > opts.fail_attack_auc and cheapest is None:
        fails.append(f"the audited model leaks membership: {desc} lies above {opts.fail_attack_auc}; {remedy}")
    elif low(best) > opts.warn_attack_auc:
        warns.append(f"the audited model leaks membership: {desc} lies above {opts.warn_attack_auc}; {remedy}")
    else:
        passes.append(f"membership attacks on the audited model are near chance: {desc} (warn above {opts.warn_attack_auc})")
        if dp:
            passes.append(remedy)
    return decide(fails, warns, passes)

