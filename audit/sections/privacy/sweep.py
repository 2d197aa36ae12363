"""The privacy section's two measurements: membership attacks on a model, and the DP-SGD sweep.

``AttackSample`` fixes the member and non-member rows once, so every model (the audited
one, each network with and without DP) is attacked on the same rows with the same seed.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from audit.models.baselines import TrainedModels, make_preprocessor, metric_value
from audit.models.fast_scoring import transform as fast_transform
from audit.sections.privacy.dp_training import TrainSettings
from audit.sections.privacy.groups import GroupMetrics, group_metrics
from audit.sections.privacy.membership import AttackResult, attack_membership
from audit.sections.privacy.multiclass import multiclass_evaluation
from audit.serial import ReportMixin


@dataclass(frozen=True)
class ModelPrivacy(ReportMixin):
    """One model: the audited one (a baseline or the user's), or a network trained with or without DP.

    ``role`` is "audited", "non_private" or "dp". DP fields are ``None`` otherwise.
    ``membership`` is ``None`` when no attack ran (the user's model: the report's
    ``membership_note`` says why); ``n_train`` is ``None`` when the training rows are unknown.
    ``relative_train_time`` = this run's training CPU time / the same network's
    non-private CPU time (thread CPU time, robust to other sections sharing the cores);
    ``None`` with the fused trainer, whose ``train_seconds`` are the network's whole loop.
    """

    name: str
    network: str
    role: str
    target_epsilon: float | None
    epsilon_spent: float | None
    noise_multiplier: float | None
    max_grad_norm: float | None
    sample_rate: float | None
    steps: int | None
    n_train: int | None
    n_test: int
    accuracy: float
    roc_auc: float
    groups: tuple[GroupMetrics, ...]
    train_seconds: float
    train_cpu_seconds: float | None
    relative_train_time: float | None
    membership: tuple[AttackResult, ...] | None

    def strongest_attack(self) -> AttackResult | None:
        """The attack with the highest AUC (None when no attack ran)."""
        return max(self.membership or (), key=lambda a: a.auc.value, default=None)


@dataclass(frozen=True, eq=False)
class AttackSample:
    """The rows every membership attack uses: ``members`` (training rows) and ``nonmembers`` (test rows)."""

    trained: TrainedModels
    opts: object  # PrivacyOptions (section.py imports this module)
    members: np.ndarray
    nonmembers: np.ndarray
    attack_seed: int

    @property
    def multi(self) -> bool:
        return self.trained.task == "multiclass"

    def attacks(self, target: object, s_members: np.ndarray, s_test: np.ndarray) -> tuple[AttackResult, ...]:
        t, o = self.trained, self.opts
        return attack_membership(target=target, score_in=s_members, y_in=t.y_train[self.members],
                                 score_out=s_test[self.nonmembers], y_out=t.y_test[self.nonmembers], task=t.task,
                                 seed=self.attack_seed, n_boot=o.bootstrap, confidence=o.confidence, low_fpr=o.low_fpr)

    def evaluate(self, s_test: np.ndarray) -> tuple[float, float, tuple[GroupMetrics, ...]]:
        """Accuracy, ROC AUC and group gaps of test-split scores (NaN and none for regression)."""
        t = self.trained
        min_size = t.dataset.options.min_group_size
        if self.multi:
            return multiclass_evaluation(t.y_test, s_test, t.groups_test, min_size)
        if t.task != "binary":
            return math.nan, math.nan, ()
        pred = (s_test >= t.report.decision_threshold).astype(np.int64)
        return (metric_value("accuracy", t.y_test, s_test), metric_value("roc_auc", t.y_test, s_test),
                group_metrics(t.y_test, pred, t.groups_test, min_size))

    def audited(self) -> ModelPrivacy:
        """The audited model as trained, attacked."""
        t = self.trained
        sel = t.selected
        score = t.proba if self.multi else t.score  # multiclass: (n, k) class probabilities
        s_in, s_te = score(t.X_train.iloc[self.members]), score(t.X_test)
        fit_s = next((r.fit_seconds for r in t.report.leaderboard if r.name == sel), math.nan)
        acc, auc, grp = self.evaluate(s_te)
        return ModelPrivacy(
            name=f"{t.report.selected_label} (audited)", network=sel, role="audited", target_epsilon=None,
            epsilon_spent=None, noise_multiplier=None, max_grad_norm=None, sample_rate=None, steps=None, n_train=len(t.y_train),
            n_test=len(t.y_test), accuracy=acc, roc_auc=auc, groups=grp, train_seconds=float(fit_s), train_cpu_seconds=None,
            relative_train_time=None, membership=self.attacks(t.model, s_in, s_te),
        )


def _label(net: str, eps: float | None) -> str:
    return f"{net} " + ("non-private" if eps is None else f"epsilon {eps:g}")


def user_model_entry(trained: TrainedModels, sample: AttackSample) -> ModelPrivacy:
    """The user's model as the audited entry: no membership attack (its training rows are unknown),
    judged on the baselines' test split (``sample.trained``) like the sweep's networks."""
    base = sample.trained
    acc, auc, grp = sample.evaluate(trained.user.score(base.X_test))
    return ModelPrivacy(
        name=f"{trained.report.selected_label} (audited)", network="user", role="audited", target_epsilon=None,
        epsilon_spent=None, noise_multiplier=None, max_grad_norm=None, sample_rate=None, steps=None, n_train=None,
        n_test=len(base.y_test), accuracy=acc, roc_auc=auc, groups=grp, train_seconds=math.nan, train_cpu_seconds=None,
        relative_train_time=None, membership=None,
    )


def dp_sweep(sample: AttackSample, networks: tuple[str, ...], epsilons: tuple[float, ...], train_rows: np.ndarray,
             settings: TrainSettings, delta: float, rng: np.random.Generator,
             say: Callable[[float, str], None]) -> tuple[list[ModelPrivacy], dict[str, float], int]:
    """Each network trained without DP and at every target epsilon on ``train_rows``, evaluated and attacked.

    Returns the models, each network's median DP training-time overhead and the encoded feature count.
    """
    from audit.sections.privacy.dp_training import torch_threads, train_net
    from audit.sections.privacy.fused import train_sweep

    trained, opts, multi = sample.trained, sample.opts, sample.multi
    n_classes = len(trained.classes) if multi else 2
    n_train, n_test, members = len(train_rows), len(trained.y_test), sample.members
    pre = trained.pipelines["logistic"].named_steps["pre"] if "logistic" in trained.pipelines else \
        make_preprocessor(trained.dataset.numeric, trained.dataset.categorical, scale=True).fit(trained.X_train)
    # Only the rows the networks train on are encoded (the members are among them): on a 1M-row
    # table the whole training split's dense encoding was 480 MB for 50,000 rows used.
    Z_tr, Z_te = fast_transform(pre, trained.X_train.iloc[train_rows]), fast_transform(pre, trained.X_test)
    y_tr = trained.y_train[train_rows]
    member_pos = np.searchsorted(train_rows, members)
    if not np.array_equal(train_rows[np.minimum(member_pos, len(train_rows) - 1)], members):
        raise RuntimeError("the attacked members must be among the rows the networks train on")  # a bug, never the input
    n_runs = len(networks) * (1 + len(epsilons))
    net_seeds = {net: int(rng.integers(2**31)) for net in networks}
    fused = settings.trainer == "fused"
    models = []
    with torch_threads(0 if fused else opts.torch_threads):  # the fused trainer never imports torch
        base_cpu: dict[str, float] = {}
        ratios: dict[str, list[float]] = {net: [] for net in networks}
        def done(net: str, j: int = 0) -> float:  # the progress fraction before run j of net
            return 0.05 + 0.9 * (networks.index(net) * (1 + len(epsilons)) + j) / n_runs

        def trained_runs(net: str):
            """(epsilon, network) for each run of ``net``; one seed per network, so every run starts from the same weights."""
            if fused:
                say(done(net), f"training {net}: non-private and {len(epsilons)} epsilons together on {n_train} rows")
                yield from zip((None, *epsilons), train_sweep(net, Z_tr, y_tr, settings=settings, epsilons=(None, *epsilons),
                                                              delta=delta, seed=net_seeds[net], n_classes=n_classes))
                return
            for j, eps in enumerate((None, *epsilons)):
                say(done(net, j), f"training {_label(net, eps)} on {n_train} rows")
                yield eps, train_net(net, Z_tr, y_tr, settings=settings, target_epsilon=eps, delta=delta, seed=net_seeds[net],
                                     n_classes=n_classes)

        for net, (eps, fitted) in ((net, run) for net in networks for run in trained_runs(net)):
            label = _label(net, eps)
            info = fitted.info
            rel = None
            if eps is None:
                base_cpu[net] = info["cpu_seconds"]
            elif not fused:  # fused runs share one loop: no per-run time to compare
                rel = info["cpu_seconds"] / base_cpu[net] if base_cpu[net] > 0 else math.nan
                ratios[net].append(rel)
            s_test = fitted.predict_proba(Z_te) if multi else fitted.predict_proba(Z_te)[:, 1]
            acc, auc, grp = sample.evaluate(s_test)
            models.append(ModelPrivacy(
                name=label, network=net, role="non_private" if eps is None else "dp", target_epsilon=eps,
                epsilon_spent=info.get("epsilon_spent"), noise_multiplier=info.get("noise_multiplier"),
                max_grad_norm=None if eps is None else opts.max_grad_norm, sample_rate=info.get("sample_rate"),
                steps=info["steps"], n_train=n_train, n_test=n_test, accuracy=acc, roc_auc=auc, groups=grp,
                train_seconds=info["seconds"], train_cpu_seconds=info["cpu_seconds"], relative_train_time=rel,
                membership=sample.attacks(fitted, fitted.predict_proba(Z_tr[member_pos])[:, slice(None) if multi else 1], s_test),
            ))
    overhead = {net: float(np.median(r)) for net, r in ratios.items() if r}
    return models, overhead, Z_tr.shape[1]
