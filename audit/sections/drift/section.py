"""Data drift: does the data met in use still look like the data the model learned from?

Per feature, a two-sample test (Kolmogorov-Smirnov for numeric columns, chi-square
for categorical ones) with a Benjamini-Hochberg correction across features, and
effect sizes (PSI, Wasserstein distance in reference standard deviations,
Jensen-Shannon distance). A feature counts as drifted only when the corrected test
is significant AND its effect size reaches a threshold, so a million rows do not
flag a shift nobody would care about. A domain classifier (can a model tell the
two samples apart?) catches drift in the joint distribution, and the model's
scores, the labels and the model's performance are compared when available.

Reference = the training split (or ``reference``); current = ``current``, or a
simulated shift of it or of the held-out test split (``options.simulate_shift``,
grammar in :mod:`audit.sections.drift.shift`). With neither, the training split is compared
with the test split: a sanity check that should flag nothing.
"""

from __future__ import annotations

import dataclasses

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pandas as pd

from audit.sections.drift import multiclass as mcd
from audit.sections.drift.domain import DomainClassifier, SeparatingFeature, domain_classifier
from audit.sections.drift.every_row import every_row_features, every_row_outputs
from audit.sections.drift.stats import (
    FeatureDrift,
    benjamini_hochberg,
    categorical_drift,
    count_categories,
    decide_drift,
    numeric_drift,
    single_test,
    summarise_numeric,
)
from audit.serial import ReportMixin
from audit.sections.drift.performance import PerformanceShift, labels_of, measure_performance, take
from audit.sections.drift.prediction import model_outputs
from audit.sections.drift.shift import apply_shift, code_labels, parse_shift, split_frame
from audit.bounds import bounded
from audit.errors import ConfigError, DataError
from audit.models.baselines import TrainedModels
from audit.verdict import Verdict, decide

SUPPORTS_MULTICLASS = True  # predicted-class and label drift over classes (multiclass.py)

Progress = Callable[[float, str], None] | None


@bounded("drift")
@dataclass(frozen=True)
class DriftOptions(ReportMixin):
    """Options and thresholds of the drift audit (TOML table ``[drift]``).

    Parameters
    ----------
    simulate_shift : a drift scenario applied to the current data (or the test split),
        e.g. ``"age:+1sd; race:White=0.5; sex=Female:x2"``; see :mod:`audit.sections.drift.shift`.
    alpha : false discovery rate of the Benjamini-Hochberg-corrected feature tests.
    wasserstein_threshold : smallest Wasserstein distance, in reference standard
        deviations, for a numeric feature to count as drifted.
    jensen_shannon_threshold : smallest Jensen-Shannon distance (base 2) for a
        categorical feature (or the labels) to count as drifted.
    psi_bins : reference-quantile bins of the PSI and the numeric histograms.
    quantiles : quantiles per side summarising a column with more distinct values
        than the exact Wasserstein distance handles quickly (200,000).
    dataset_drift_share : the data as a whole drifted (verdict fail) when at least
        this share of the features drifted.
    domain_classifier : train a classifier to tell reference from current rows.
    domain_sample : rows sampled per side for the domain classifier.
    domain_folds : cross-validation folds of the domain classifier (2: the folds are
        fitted side by side, one per core, and every row still gets an out-of-fold score).
    domain_max_iter : boosting iterations of the domain classifier.
    domain_auc_warn : warn when the domain classifier's AUC reaches this and its
        interval excludes 0.5.
    importance_rows, importance_repeats : held-out rows (shared out between the folds)
        and repeats of the permutation importance naming the separating features.
    min_importance : AUC drop from permuting a feature for it to count as separating.
    confidence : width of the confidence intervals.
    score_rows : rows per side scored by the model for prediction drift and performance.
    performance_bootstrap : resamples of the R^2 interval (regression; AUC uses DeLong,
        accuracy the Wilson interval).
    max_performance_drop : fail when the primary metric on labelled current data falls
        this far below the reference and the current interval lies below it.
    """

    simulate_shift: str = ""
    alpha: float = 0.05
    wasserstein_threshold: float = 0.1
    jensen_shannon_threshold: float = 0.1
    psi_bins: int = 10
    quantiles: int = 1000
    dataset_drift_share: float = 0.5
    domain_classifier: bool = True
    domain_sample: int = 50_000
    domain_folds: int = 2
    domain_max_iter: int = 50
    domain_auc_warn: float = 0.6
    importance_rows: int = 10_000
    importance_repeats: int = 3
    min_importance: float = 0.01
    confidence: float = 0.95
    score_rows: int = 100_000
    performance_bootstrap: int = 200
    max_performance_drop: float = 0.05

    def __post_init__(self) -> None:
        def need(ok: bool, name: str, what: str) -> None:
            if not ok:
                raise ConfigError(f"drift.{name} must be {what}, got {getattr(self, name)!r}")

        need(0 < self.alpha < 1, "alpha", "between 0 and 1")
        need(self.wasserstein_threshold >= 0, "wasserstein_threshold", "0 or more")
        need(0 <= self.jensen_shannon_threshold <= 1, "jensen_shannon_threshold", "between 0 and 1")
        need(self.psi_bins >= 2, "psi_bins", "at least 2")
        need(self.quantiles >= 10, "quantiles", "at least 10")
        need(0 < self.dataset_drift_share <= 1, "dataset_drift_share", "in (0, 1]")
        need(self.domain_sample >= 50, "domain_sample", "at least 50")
        need(self.domain_folds >= 2, "domain_folds", "at least 2")
        need(self.domain_max_iter >= 1, "domain_max_iter", "at least 1")
        need(0.5 <= self.domain_auc_warn <= 1, "domain_auc_warn", "between 0.5 and 1")
        need(self.importance_rows >= 10, "importance_rows", "at least 10")
        need(self.importance_repeats >= 1, "importance_repeats", "at least 1")
        need(self.min_importance >= 0, "min_importance", "0 or more")
        need(0.5 <= self.confidence < 1, "confidence", "in [0.5, 1)")
        need(self.score_rows >= 10, "score_rows", "at least 10")
        need(self.performance_bootstrap >= 0, "performance_bootstrap", "0 or more")
        need(self.max_performance_drop >= 0, "max_performance_drop", "0 or more")
        parse_shift(self.simulate_shift)  # a bad spec fails before any work


@dataclass(frozen=True)
class DatasetDrift(ReportMixin):
    """Per-feature drift and the multivariate (domain classifier) check of two frames."""

    n_reference: int
    n_current: int
    features: tuple[FeatureDrift, ...]
    n_features: int
    n_drifted: int
    share_drifted: float
    drifted_features: tuple[str, ...]
    dataset_drift: bool  # share_drifted >= dataset_drift_share
    dataset_drift_share: float
    alpha: float
    correction: str
    domain: DomainClassifier | None
    domain_note: str


@dataclass(frozen=True)
class DriftReport(ReportMixin):
    """The ``drift`` section."""

    comparison: str
    reference_source: str
    current_source: str
    simulated_shift: str
    shift_applied: tuple[str, ...]
    n_reference: int
    n_current: int
    data: DatasetDrift
    prediction: FeatureDrift | None  # the model's scores (or the user's predictions column); None: see prediction_note
    prediction_reference: str
    labels: FeatureDrift | None
    performance: tuple[PerformanceShift, ...]  # empty when not measured (see performance_note)
    performance_note: str
    options: DriftOptions
    verdict: Verdict
    prediction_note: str = ""  # why prediction drift is null (a predictions column the current rows lack)


def compare_frames(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    *,
    numeric: tuple[str, ...] | list[str],
    categorical: tuple[str, ...] | list[str],
    options: DriftOptions | None = None,
    seed: int = 0,
    progress: Progress = None,
) -> DatasetDrift:
    """Per-feature and multivariate drift between two frames; no model needed.

    Parameters
    ----------
    reference, current : frames holding at least the listed columns. Categorical
        columns may be strings or pandas categoricals (faster); numeric ones numbers.
    numeric, categorical : the columns to compare.
    options : thresholds, bins and the domain classifier's sample sizes.
    seed : drives the domain classifier's sampling, folds and permutations.
    progress : called with (fraction done, message).

    Returns
    -------
    DatasetDrift
    """
    opts = options or DriftOptions()
    numeric, categorical = tuple(numeric), tuple(categorical)
    cols = numeric + categorical
    if not cols:
        raise ConfigError("compare_frames needs at least one numeric or categorical column, got none")
    for name, frame in (("reference", reference), ("current", current)):
        missing = [c for c in cols if c not in frame.columns]
        if missing:
            raise DataError(f"the {name} data lacks the columns {', '.join(map(str, missing))}")
        if len(frame) == 0:
            raise DataError(f"the {name} data has no rows; expected at least one")
        for c in numeric:
            if not (pd.api.types.is_numeric_dtype(frame[c]) or pd.api.types.is_bool_dtype(frame[c])):
                raise DataError(f"column {c!r} is compared as numeric but the {name} data holds {frame[c].dtype} values")
    if progress:
        progress(0.0, f"testing {len(cols)} features on {len(reference)} reference and {len(current)} current rows")

    def one(c: str) -> FeatureDrift:
        if c in numeric:
            return numeric_drift(c, summarise_numeric(reference[c]), summarise_numeric(current[c]), bins=opts.psi_bins,
                                 quantiles=opts.quantiles, threshold=opts.wasserstein_threshold)
        return categorical_drift(c, count_categories(reference[c]), count_categories(current[c]), threshold=opts.jensen_shannon_threshold)

    # Two threads: sorting, hashing and counting release the GIL.
    with ThreadPoolExecutor(max_workers=2) as pool:
        raw = list(pool.map(one, cols))
    domain, note = None, "not requested (drift.domain_classifier = false)"
    if opts.domain_classifier:
        if progress:
            progress(0.4, f"domain classifier on up to {opts.domain_sample} rows per side")
        domain = domain_classifier(
            reference, current, numeric=numeric, categorical=categorical, sample=opts.domain_sample,
            folds=opts.domain_folds, max_iter=opts.domain_max_iter, importance_rows=opts.importance_rows,
            importance_repeats=opts.importance_repeats, min_importance=opts.min_importance,
            confidence=opts.confidence, seed=seed,
        )
        note = "" if domain else f"skipped: a side has fewer than {max(10, 2 * opts.domain_folds)} rows"
    return assemble_drift(raw, len(reference), len(current), opts, domain=domain, domain_note=note)


def assemble_drift(raw: list[FeatureDrift], n_reference: int, n_current: int, opts: DriftOptions, *,
                   domain=None, domain_note: str = "") -> DatasetDrift:
    """The per-feature tests, corrected for multiplicity (Benjamini-Hochberg) and decided, as one result."""
    q = benjamini_hochberg(np.array([f.p_value for f in raw]))
    feats = tuple(decide_drift(f, qi, opts.alpha) for f, qi in zip(raw, q))
    drifted = tuple(f.feature for f in feats if f.drifted)
    share = len(drifted) / len(feats)
    return DatasetDrift(
        n_reference=n_reference, n_current=n_current, features=feats, n_features=len(feats),
        n_drifted=len(drifted), share_drifted=share, drifted_features=drifted,
        dataset_drift=bool(drifted) and share >= opts.dataset_drift_share, dataset_drift_share=opts.dataset_drift_share,
        alpha=opts.alpha, correction="Benjamini-Hochberg", domain=domain, domain_note=domain_note,
    )


def audit_drift(
    trained: TrainedModels,
    *,
    options: DriftOptions | None = None,
    seed: int = 0,
    progress: Progress = None,
    current: pd.DataFrame | None = None,
    reference: pd.DataFrame | None = None,
    every_row: tuple | None = None,
) -> DriftReport:
    """Compare the reference data with the current data, feature by feature and as a whole.

    Parameters
    ----------
    trained : fitted baselines and splits.
    options : thresholds, sample sizes and the simulated shift.
    seed : drives the shift's thinning, the samples and the domain classifier.
    progress : called with (fraction done, message).
    current : data met in use, aligned to the training schema
        (:func:`audit.data.align_current`); default the held-out test split.
    reference : data to compare against, aligned likewise; default the training split.
    every_row : (``ClusterRows`` of the table, the current table's path) on a cluster: the
        feature tests then cover every row of both; ``current`` is a sample for the rest.

    Returns
    -------
    DriftReport
    """
    opts = options or DriftOptions()
    say = progress or (lambda f, m: None)
    rng = np.random.default_rng(seed)
    ds = trained.dataset
    steps = parse_shift(opts.simulate_shift)
    ref, ref_src = (code_labels(reference, ds), "reference data") if reference is not None else (split_frame(trained, "train"), "training split")
    cur, cur_src = (code_labels(current, ds), "current data") if current is not None else (split_frame(trained, "test"), "held-out test split")
    shift_applied: tuple[str, ...] = ()
    if steps:
        say(0.02, f"simulating the shift {opts.simulate_shift!r}")
        cur, shift_applied = apply_shift(cur, steps, reference=ref, numeric=ds.numeric, categorical=ds.categorical, seed=seed)
        cur_src = f"simulated shift ({opts.simulate_shift}) of the {cur_src}"
    data = compare_frames(ref, cur, numeric=ds.numeric, categorical=ds.categorical, options=opts, seed=seed,
                          progress=lambda f, m: say(0.05 + 0.7 * f, m))
    everywhere = every_row is not None and reference is None and not steps
    if everywhere:
        say(0.6, "feature drift over every row on the cluster")
        data, ref_src = every_row_features(every_row, ds, opts, data)

    say(0.8, "prediction and label drift")
    if reference is None:
        # Training rows get in-sample (over-confident) scores; the validation split's
        # scores are what the model gives data it never saw.
        pred_ref, pred_src = split_frame(trained, "val"), "validation split (rows the model did not train on)"
    else:
        pred_ref, pred_src = ref, "reference data"
    pred_ref, cur_scored = take(pred_ref, opts.score_rows, rng), take(cur, opts.score_rows, rng)
    out = model_outputs(trained, pred_ref, cur_scored, opts, simulated=bool(steps), sides=(pred_src, cur_src))
    prediction = out.prediction
    labels = _label_drift(ref, cur, trained, opts)
    if everywhere:
        say(0.85, "prediction and label drift over every row on the cluster")
        prediction, labels, cur_src = every_row_outputs(every_row, trained, out, labels, opts, data, len(cur))

    say(0.9, "performance on current data")
    performance, perf_note = measure_performance(trained, cur_scored, pred_ref, out, opts, rng,
                                                 current_given=current is not None, reference_given=reference is not None,
                                                 simulated=bool(steps))
    verdict = _verdict(data, prediction, labels, performance, opts)
    say(1.0, "drift done")
    return DriftReport(
        comparison=f"{ref_src} vs {cur_src}", reference_source=ref_src, current_source=cur_src,
        simulated_shift=opts.simulate_shift, shift_applied=shift_applied, n_reference=len(ref), n_current=len(cur),
        data=data, prediction=prediction, prediction_reference=out.reference_source, prediction_note=out.note, labels=labels,
        performance=performance, performance_note=perf_note, options=opts, verdict=verdict,
    )


def _label_drift(ref: pd.DataFrame, cur: pd.DataFrame, trained: TrainedModels, opts: DriftOptions) -> FeatureDrift | None:
    t = trained.dataset.target
    yr, yc = labels_of(ref, t), labels_of(cur, t)
    if yr is None or yc is None:
        return None
    yr, yc = yr[np.isfinite(yr)], yc[np.isfinite(yc)]
    if trained.task == "multiclass":
        f = mcd.class_drift(t, yr, yc, trained.classes, opts.jensen_shannon_threshold)
    elif trained.task == "binary":
        pos = str(trained.dataset.positive_label)
        neg = next((v for v in trained.dataset.frame[t].dropna().astype(str).unique() if v != pos), "negative")
        names = lambda y: pd.Series(np.where(y == 1, pos, neg)).value_counts()  # noqa: E731
        f = categorical_drift(t, names(yr), names(yc), threshold=opts.jensen_shannon_threshold)
    else:
        f = numeric_drift(t, summarise_numeric(yr), summarise_numeric(yc), bins=opts.psi_bins, quantiles=opts.quantiles,
                          threshold=opts.wasserstein_threshold)
    return single_test(f, opts.alpha)


def _verdict(data: DatasetDrift, prediction: FeatureDrift | None, labels: FeatureDrift | None,
             perf: tuple[PerformanceShift, ...], opts: DriftOptions) -> Verdict:
    fails, warns, passes = [], [], []
    rule = (f"BH-adjusted p < {opts.alpha} and Wasserstein >= {opts.wasserstein_threshold} sd (numeric) "
            f"or Jensen-Shannon >= {opts.jensen_shannon_threshold} (categorical)")
    names = ", ".join(data.drifted_features[:8]) + (" ..." if data.n_drifted > 8 else "")
    if data.dataset_drift:
        fails.append(f"dataset drift: {data.n_drifted} of {data.n_features} features drifted ({data.share_drifted:.0%}, "
                     f"threshold {opts.dataset_drift_share:.0%}): {names}")
    elif data.n_drifted:
        warns.append(f"{data.n_drifted} of {data.n_features} features drifted ({rule}): {names}")
    else:
        passes.append(f"no feature drifted: 0 of {data.n_features} ({rule})")
    dom = data.domain
    if dom is not None:
        auc = f"AUC {dom.auc.text()} on {dom.n_reference} + {dom.n_current} rows"
        if dom.auc.value >= opts.domain_auc_warn and dom.auc.low > 0.5:
            top = ", ".join(dom.separating[:5]) or "no single feature"
            warns.append(f"a classifier tells current from reference rows: {auc} (>= {opts.domain_auc_warn}); most separating: {top}")
        else:
            passes.append(f"a domain classifier barely tells the samples apart: {auc} (< {opts.domain_auc_warn} or interval includes 0.5)")
    for f, what in ((prediction, "the model's score distribution" if prediction is None or prediction.kind != "categorical"
                     else "the predicted class distribution"), (labels, "the label distribution")):
        if f is not None:
            desc = f"{f.effect_metric} {f.effect_size:.3f}, p {f.p_value:.2g}"
            (warns if f.drifted else passes).append(f"{what} {'drifted' if f.drifted else 'is stable'} ({desc})")
    for p in perf:
        desc = (f"{p.metric} {p.current.text()} on {p.current.n} current rows "
                f"vs {p.reference.value:.3f} on the {p.reference_source}")
        if p.drop > opts.max_performance_drop and p.current.high < p.reference.value:
            fails.append(f"performance fell by {p.drop:.3f} (> {opts.max_performance_drop}): {desc}")
        else:
            passes.append(f"performance held: {desc}")
    return decide(fails, warns, passes)


__all__ = ["audit_drift", "compare_frames", "DriftOptions", "DriftReport", "DatasetDrift", "FeatureDrift",
           "DomainClassifier", "SeparatingFeature", "PerformanceShift"]
