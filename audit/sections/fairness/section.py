"""Fairness of the audited model: group metrics, disparities, data bias, proxies, mitigation.

Everything is computed on the test split of the audited model, per sensitive
feature and for their intersection (grouping keys such as ``"sex"``, ``"race"``
and ``"sex x race"``). Point estimates come from ``fairlearn.metrics.MetricFrame``;
intervals from a paired, vectorised bootstrap (see :mod:`audit.sections.fairness.metrics`).
Groups smaller than the data's ``min_group_size`` on the test split are reported
with ``adequate = False`` and left out of ``disparities_adequate``, the
four-fifths rule and the verdict.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from audit.sections.fairness.group_sums import group_sums_form
from audit.sections.fairness.metrics import (
    BINARY_GROUP_METRICS,
    REGRESSION_GROUP_METRICS,
    GroupRow,
    ProxyRow,
    RepresentationRow,
    Resampler,
    detect_proxies,
    disparity_values,
    encode,
    group_labels,
    grouping_keys,
    representation,
)
from audit.sections.fairness.tables import group_table
from audit.sections.fairness.multiclass import ClassFairness, audit_multiclass
from audit.sections.fairness.mitigation import MITIGATIONS, ModelVariant, Scorer, mitigate, retrain_unaware, skipped
from audit.serial import ReportMixin
from audit.bounds import bounded
from audit.errors import ConfigError
from audit.models.baselines import TrainedModels
from audit.sections.fairness.rules import FourFifths, fairness_verdict, four_fifths
from audit.stats import Estimate, Ties
from audit.verdict import Verdict
from audit.threads import one_thread

_PROXY_METRICS = ("cramers_v", "mutual_information", "auc")
SUPPORTS_MULTICLASS = True  # one-vs-rest per class, see multiclass.py


@bounded("fairness")
@dataclass(frozen=True)
class FairnessOptions(ReportMixin):
    """Options and thresholds of the fairness audit (TOML table ``[fairness]``).

    Parameters
    ----------
    bootstrap : resamples of the test split for every interval (default 200).
    confidence : width of the intervals (default 0.95).
    intersections : also audit the intersection of all sensitive features (default true).
    four_fifths : the four-fifths rule: every adequately sized group's selection rate
        must be at least this fraction of the highest group's (default 0.8).
    warn_parity_difference : warn when the demographic parity difference between
        adequately sized groups exceeds this (default 0.1). The verdict **fails** when
        the four-fifths rule fails and the interval of that difference lies entirely
        above this value.
    warn_equalized_odds_difference : warn when the equalized odds difference
        (the larger of the TPR and FPR gaps) exceeds this (default 0.1).
    warn_regression_gap : regression: warn when the gap in mean prediction between
        groups exceeds this many standard deviations of the target (default 0.2).
    proxy_metric : how a feature's association with a sensitive attribute is
        judged: "cramers_v" (default), "mutual_information" or "auc".
    proxy_threshold : a feature scoring at least this on ``proxy_metric`` is
        flagged as a proxy (default 0.3 for Cramér's V; use e.g. 0.7 for "auc").
    proxy_bins : quantile bins of numeric features for proxy detection (default 10).
    proxy_max_rows : training rows sampled for proxy detection (default 20000; 0 = all).
    unawareness : retrain the audited model without the sensitive features (default true).
    mitigations : among "reweighing", "expgrad_dp", "expgrad_eo", "threshold_dp",
        "threshold_eo" (default all; classification only).
    mitigation_groups : the groups mitigations equalise: "intersection" (default; the
        joint groups of all sensitive features, so each feature is covered too) or one
        sensitive column. Equalised odds on many small joint groups can cost much accuracy.
    mitigation_max_rows : training rows sampled for ExponentiatedGradient (default 5000; 0 = all).
    refit_max_rows : training rows the unawareness retrain and reweighing refit the audited
        model's kind on (default 100000; 0 = all): a seeded subsample above it, stated in each
        variant, so that the two refits cost the same at 1M rows as at 100k.
    expgrad_eps : allowed constraint violation of ExponentiatedGradient (default 0.01).
    expgrad_max_iter : its iteration limit (default 15; fairlearn's default of 50 took
        2.5x the time on Adult for disparities within 0.03 and accuracy within 0.011).
    """

    bootstrap: int = 200
    confidence: float = 0.95
    intersections: bool = True
    four_fifths: float = 0.8
    warn_parity_difference: float = 0.1
    warn_equalized_odds_difference: float = 0.1
    warn_regression_gap: float = 0.2
    proxy_metric: str = "cramers_v"
    proxy_threshold: float = 0.3
    proxy_bins: int = 10
    proxy_max_rows: int = 20000
    unawareness: bool = True
    mitigations: tuple[str, ...] = MITIGATIONS
    mitigation_groups: str = "intersection"
    mitigation_max_rows: int = 5000
    refit_max_rows: int = 100_000
    expgrad_eps: float = 0.01
    expgrad_max_iter: int = 15

    def __post_init__(self) -> None:
        if self.bootstrap < 0:
            raise ConfigError(f"fairness.bootstrap must be 0 or more, got {self.bootstrap}")
        if not 0.5 <= self.confidence < 1:
            raise ConfigError(f"fairness.confidence must be in [0.5, 1), got {self.confidence}")
        if not 0 < self.four_fifths <= 1:
            raise ConfigError(f"fairness.four_fifths must be in (0, 1], got {self.four_fifths}")
        for name in ("warn_parity_difference", "warn_equalized_odds_difference", "warn_regression_gap"):
            if not getattr(self, name) >= 0:
                raise ConfigError(f"fairness.{name} must be 0 or more, got {getattr(self, name)}")
        if self.proxy_metric not in _PROXY_METRICS:
            raise ConfigError(f"fairness.proxy_metric must be one of {', '.join(_PROXY_METRICS)}, got {self.proxy_metric!r}")
        if not 0 <= self.proxy_threshold <= 1:
            raise ConfigError(f"fairness.proxy_threshold must be in [0, 1], got {self.proxy_threshold}")
        if self.proxy_bins < 2:
            raise ConfigError(f"fairness.proxy_bins must be at least 2, got {self.proxy_bins}")
        for name in ("proxy_max_rows", "mitigation_max_rows", "refit_max_rows"):
            v = getattr(self, name)
            if v != 0 and v < 100:
                raise ConfigError(f"fairness.{name} must be 0 (all rows) or at least 100, got {v}")
        bad = [m for m in self.mitigations if m not in MITIGATIONS]
        if bad:
            raise ConfigError(f"fairness.mitigations must be among {', '.join(MITIGATIONS)}, got {', '.join(map(repr, bad))}")
        if not 0 < self.expgrad_eps < 1:
            raise ConfigError(f"fairness.expgrad_eps must be in (0, 1), got {self.expgrad_eps}")
        if self.expgrad_max_iter < 1:
            raise ConfigError(f"fairness.expgrad_max_iter must be at least 1, got {self.expgrad_max_iter}")


@dataclass(frozen=True)
class FairnessReport(ReportMixin):
    """The ``fairness`` section.

    ``groups``, ``disparities`` (all groups, as fairlearn computes them),
    ``disparities_adequate`` (groups with at least ``min_group_size`` test rows; the
    verdict's basis), ``excluded_groups`` (group -> reason) and ``four_fifths`` are
    keyed by grouping key ("sex", "sex x race"). Disparity intervals are for the gap
    between the two groups that are extreme in the point estimate, so an interval
    containing 0 means that gap is not distinguishable from resampling noise.
    ``representation`` and ``base_rate_gap`` describe the labels in the whole data
    (``n_data`` rows); ``proxies`` come from ``n_proxy_rows`` training rows.
    ``mitigations`` starts with the unmitigated audited model.
    """

    task: str
    model: str
    sensitive: tuple[str, ...]
    keys: Mapping[str, tuple[str, ...]]
    n_test: int
    n_bootstrap: int
    confidence: float
    min_group_size: int
    decision_threshold: float
    overall: Mapping[str, float]
    groups: Mapping[str, tuple[GroupRow, ...]]
    disparities: Mapping[str, Mapping[str, Estimate]]
    disparities_adequate: Mapping[str, Mapping[str, Estimate]]
    excluded_groups: Mapping[str, Mapping[str, str]]
    four_fifths: Mapping[str, FourFifths]
    n_data: int
    representation: Mapping[str, tuple[RepresentationRow, ...]]
    base_rate_gap: Mapping[str, Mapping[str, float]]
    proxy_metric: str
    proxy_threshold: float
    n_proxy_rows: int
    proxies: tuple[ProxyRow, ...]
    unawareness: ModelVariant
    mitigations: tuple[ModelVariant, ...]
    verdict: Verdict
    # The verdict's thresholds by disparity name, so charts can draw them.
    thresholds: Mapping[str, float] = field(default_factory=dict)
    # Multiclass only (multiclass.py): the top-level group fields above describe
    # ``worst_class`` one-vs-rest; every class is in ``per_class`` / ``four_fifths_per_class``;
    # ``group_accuracy`` is the multiclass accuracy per group.
    classes: tuple[str, ...] = ()
    worst_class: str = ""
    per_class: Mapping[str, ClassFairness] = field(default_factory=dict)
    four_fifths_per_class: Mapping[str, Mapping[str, FourFifths]] = field(default_factory=dict)
    group_accuracy: Mapping[str, tuple[GroupRow, ...]] = field(default_factory=dict)

    def strongest_proxies(self) -> dict[str, str]:
        """Sensitive column -> the non-sensitive feature that best predicts it (by ``proxy_metric``)."""
        return _strongest(self.proxies, self.proxy_metric)

    def flagged_proxies(self) -> tuple[ProxyRow, ...]:
        """Features at or above the proxy threshold, strongest first."""
        return tuple(sorted((r for r in self.proxies if r.is_proxy), key=lambda r: -getattr(r, self.proxy_metric)))


def audit_fairness(
    trained: TrainedModels,
    *,
    options: FairnessOptions | None = None,
    seed: int = 0,
    progress: Callable[[float, str], None] | None = None,
) -> FairnessReport:
    """Audit the fairness of the audited model on its test split.

    Parameters
    ----------
    trained : fitted baselines and splits; ``trained.dataset.sensitive`` names the attributes.
    options : bootstrap, thresholds, proxy detection and mitigations.
    seed : seeds the bootstrap, the samples and the randomised mitigations.
    progress : called with (fraction done, message).

    Returns
    -------
    FairnessReport
    """
    opts = options or FairnessOptions()
    # The HistGradientBoosting refits and predictions: one OpenMP thread (audit.threads).
    with one_thread("openmp"):
        if trained.task == "multiclass":
            return audit_multiclass(trained, opts, seed, progress or (lambda f, m: None))
        return _audit(trained, opts, seed, progress or (lambda f, m: None))


def _audit(trained: TrainedModels, opts: FairnessOptions, seed: int, say: Callable[[float, str], None]) -> FairnessReport:
    ss = np.random.SeedSequence(seed).spawn(3)
    ds = trained.dataset
    task = trained.task
    min_size = int(ds.options.min_group_size)
    keys = grouping_keys(ds.sensitive, opts.intersections)
    if opts.mitigation_groups == "intersection":
        mcols = tuple(ds.sensitive)
    elif opts.mitigation_groups in ds.sensitive:
        mcols = (opts.mitigation_groups,)
    else:
        raise ConfigError(f"fairness.mitigation_groups must be \"intersection\" or a sensitive column ({', '.join(ds.sensitive)}), "
                          f"got {opts.mitigation_groups!r}")
    y = trained.y_test.astype(float)
    score = trained.score(trained.X_test)
    pred = (score >= trained.report.decision_threshold).astype(float) if task == "binary" else score
    rs = Resampler(len(y), opts.bootstrap, int(ss[0].generate_state(1)[0]), opts.confidence)

    say(0.02, f"group metrics on {len(y)} test rows, {opts.bootstrap} bootstrap resamples")
    g = _group_results(task, y, pred, score, trained.groups_test, keys, rs, min_size, opts)
    say(0.2, "representation and label base rates in the whole data")
    rep, gap = _representation(trained, keys, min_size)
    say(0.25, "proxy detection")
    proxies, n_proxy = _proxies(trained, opts, proxy_rng(seed))

    scorer = Scorer(task=task, y=y, coded=g["coded"], adequate=g["adequate"], resampler=rs)
    say(0.35, "retraining without the sensitive features")
    unaware = (retrain_unaware(trained, scorer, max_rows=opts.refit_max_rows, seed=int(ss[2].generate_state(2)[1]))
               if opts.unawareness else skipped("unaware", "turned off (fairness.unawareness = false)"))
    variants = mitigate(trained, scorer, score=score, pred=pred, names=tuple(opts.mitigations), cols=mcols,
                        max_rows=opts.mitigation_max_rows, refit_rows=opts.refit_max_rows, eps=opts.expgrad_eps, max_iter=opts.expgrad_max_iter,
                        seed=int(ss[2].generate_state(1)[0]), progress=lambda f, m: say(0.45 + 0.55 * f, m))

    verdict = fairness_verdict(task, keys, g["disparities_adequate"], g["four_fifths"], g["excluded_groups"], g["adequate"], float(np.std(y)), opts)
    say(1.0, "fairness done")
    return FairnessReport(
        task=task, model=trained.selected, sensitive=tuple(ds.sensitive), keys=keys, n_test=len(y),
        n_bootstrap=opts.bootstrap, confidence=opts.confidence, min_group_size=min_size,
        decision_threshold=trained.report.decision_threshold, overall=g["overall"], groups=g["groups"],
        disparities=g["disparities"], disparities_adequate=g["disparities_adequate"], excluded_groups=g["excluded_groups"],
        four_fifths=g["four_fifths"], n_data=ds.n_rows, representation=rep, base_rate_gap=gap,
        proxy_metric=opts.proxy_metric, proxy_threshold=opts.proxy_threshold, n_proxy_rows=n_proxy, proxies=proxies,
        thresholds={"demographic_parity_difference": opts.warn_parity_difference,
                    "equalized_odds_difference": opts.warn_equalized_odds_difference,
                    "demographic_parity_ratio": opts.four_fifths},
        unawareness=unaware, mitigations=variants, verdict=verdict,
    )


def _group_results(task: str, y: np.ndarray, pred: np.ndarray, score: np.ndarray, groups_test: pd.DataFrame,
                   keys: Mapping[str, tuple[str, ...]], rs: Resampler, min_size: int, opts: FairnessOptions) -> dict:
    """Per-group metrics (MetricFrame points, bootstrap intervals), disparities and the four-fifths rule, per key."""
    out: dict[str, dict] = {k: {} for k in ("coded", "adequate", "groups", "disparities", "disparities_adequate", "excluded_groups", "four_fifths")}
    metric_names = BINARY_GROUP_METRICS if task == "binary" else REGRESSION_GROUP_METRICS
    for key, cols in keys.items():
        labels = group_labels(groups_test, cols)
        codes, names = encode(labels)
        table = group_table(task, y, pred, score, labels)
        out["overall"] = {m: float(v) for m, v in table.loc["overall"].items() if m != "count"}
        table = table.drop(index="overall").reindex(list(names))
        counts = table["count"].to_numpy().astype(int)
        adequate = counts >= min_size
        point = {m: table[m].to_numpy() for m in table.columns}
        samples = rs.stack(_group_samples(task, y, pred, score, codes, len(names)))
        out["coded"][key] = (codes, names)
        out["adequate"][key] = adequate
        out["excluded_groups"][key] = {n: f"{c} test rows, below the minimum group size of {min_size}"
                                       for n, c, a in zip(names, counts, adequate) if not a}
        out["groups"][key] = tuple(
            GroupRow(group=n, count=int(counts[i]), share=float(counts[i] / len(y)), adequate=bool(adequate[i]),
                     metrics={m: rs.estimate(float(point[m][i]), samples[m][:, i], int(counts[i])) for m in metric_names})
            for i, n in enumerate(names)
        )
        for field, mask in (("disparities", np.ones(len(names), dtype=bool)), ("disparities_adequate", adequate)):
            vals = disparity_values(task, point, samples, mask)
            out[field][key] = {m: rs.estimate(v, s, len(y)) for m, (v, s) in vals.items()}
        if task == "binary":
            rule = four_fifths(names, point["selection_rate"], adequate, opts.four_fifths)
            if rule is not None:
                out["four_fifths"][key] = rule
    return out


def _representation(trained: TrainedModels, keys: Mapping[str, tuple[str, ...]], min_size: int) -> tuple[dict, dict]:
    """Group shares in the whole data and the splits, label base rates and their gap between adequately sized groups."""
    ds = trained.dataset
    rep, gap = {}, {}
    for key, cols in keys.items():
        rows = representation(group_labels(ds.groups, cols), ds.y, group_labels(trained.groups_train, cols), group_labels(trained.groups_test, cols))
        rep[key] = rows
        rates = np.array([r.base_rate for r in rows if r.count >= min_size])
        gap[key] = {"difference": float(rates.max() - rates.min()) if len(rates) > 1 else np.nan,
                    "ratio": float(rates.min() / rates.max()) if len(rates) > 1 and rates.max() > 0 else np.nan}
    return rep, gap


def _strongest(proxies: Sequence[ProxyRow], metric: str) -> dict[str, str]:
    best: dict[str, tuple[float, str]] = {}
    for r in proxies:
        if r.feature_is_sensitive:
            continue
        v = getattr(r, metric)
        if np.isfinite(v) and (r.sensitive not in best or v > best[r.sensitive][0]):
            best[r.sensitive] = (v, r.feature)
    return {s: f for s, (_, f) in best.items()}


def proxy_rng(seed: int) -> np.random.Generator:
    """The proxy detection's random stream of ``audit_fairness(..., seed=seed)`` (binary and multiclass)."""
    return np.random.default_rng(np.random.SeedSequence(seed).spawn(3)[1])


def strongest_proxies_for(trained: TrainedModels, options: FairnessOptions | None, seed: int) -> dict[str, str]:
    """``audit_fairness(trained, options=options, seed=seed).strongest_proxies()``, computed alone.

    The robustness section's flip tests swap each sensitive column's strongest proxy. Finding
    it here, the same rows and the same random stream as the fairness section, lets robustness
    run beside fairness instead of after it (the pair was the audit's longest chain)."""
    opts = options or FairnessOptions()
    rows, _ = _proxies(trained, opts, proxy_rng(seed))
    return _strongest(rows, opts.proxy_metric)


def _proxies(trained: TrainedModels, opts: FairnessOptions, rng: np.random.Generator) -> tuple[tuple[ProxyRow, ...], int]:
    """Proxy scores on a sample of training rows; sensitive columns the model does not see are scored too."""
    ds = trained.dataset
    unseen = [s for s in ds.sensitive if s not in ds.features]
    X = trained.X_train
    if unseen:
        X = pd.concat([X, ds.frame.loc[trained.idx_train, unseen].reset_index(drop=True)], axis=1)
    n = len(X)
    idx = np.sort(rng.choice(n, opts.proxy_max_rows, replace=False)) if 0 < opts.proxy_max_rows < n else np.arange(n)
    rows = detect_proxies(X.iloc[idx].reset_index(drop=True), trained.groups_train.iloc[idx].reset_index(drop=True),
                          sensitive=ds.sensitive, metric=opts.proxy_metric, threshold=opts.proxy_threshold,
                          bins=opts.proxy_bins, rng=rng)
    return rows, len(idx)


def _group_samples(task: str, y: np.ndarray, pred: np.ndarray, score: np.ndarray, codes: np.ndarray, k: int):
    """Each group's metrics as a function of a block of weights; each group's score ties sorted once."""
    ties, sums = {}, group_sums_form(task, y, pred, codes, k)
    if task == "binary":
        for j in range(k):
            m = codes == j
            if 0 < y[m].sum() < m.sum():
                ties[j] = (m, Ties(y[m], score[m]))

    def samples(W: np.ndarray) -> dict[str, np.ndarray]:
        out = sums(W)
        if task == "binary":
            auc = np.full((W.shape[0], k), np.nan)
            for j, (m, t) in ties.items():
                auc[:, j] = t.auc(W[:, m])
            out["roc_auc"] = auc
        return out

    return samples
