"""Explanations of the audited model: SHAP, permutation importance, a surrogate tree, error cohorts.

SHAP values are computed on a stratified sample of the test split with the fastest exact
explainer that fits the model (see :mod:`audit.sections.explanations.shap_values`), in the model's raw output
(log-odds for logistic regression and gradient boosting), and summed back to the original
features. From them come the global importance, beeswarm and dependence data, SHAP by
sensitive group and the local explanation of any explained row. Permutation importance
(scikit-learn), a shallow surrogate tree (:mod:`audit.sections.explanations.surrogate`) and error cohorts
(:mod:`audit.sections.explanations.error_analysis`) complete the section.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np

from audit.sections.explanations.error_analysis import Cohort, ErrorAnalysis, error_cohorts
from audit.sections.explanations.multiclass import ClassShap, multiclass_views
from audit.sections.explanations.permutation import PermutationFeature, PermutationImportance, permutation_scores, sample_rows
from audit.serial import ReportMixin
from audit.stats import derived_seed
from audit.sections.explanations.shap_summary import (
    Dependence,
    DependenceBin,
    FeatureImportance,
    FeatureValues,
    GapContribution,
    GroupGap,
    GroupShap,
    dependence,
    group_shap,
    importance,
)
from audit.sections.explanations.shap_values import EXPLAINERS, FeatureCodec, compute_shap, pick_explainer
from audit.sections.explanations.surrogate import ReadableEncoder, SurrogateRule, SurrogateTree, fit_surrogate
from audit.bounds import bounded
from audit.errors import ConfigError
from audit.models.baselines import TrainedModels
from audit.verdict import Verdict, decide
from audit.threads import one_thread

_COMPARED_WITH = {"log_odds": "decision_function", "decision_function": "decision_function", "logits": "decision_function",
                  "probability": "predict_proba", "raw": "predict"}
SUPPORTS_MULTICLASS = True  # SHAP per class, summed, and for the predicted class (multiclass.py)


@bounded("explanations")
@dataclass(frozen=True)
class ExplanationOptions(ReportMixin):
    """Options and thresholds of the explanations section.

    Parameters
    ----------
    sample_size : test rows explained with SHAP (stratified on the label).
    explainer : ``auto`` (tree / linear / permutation by model type) or one of them.
    background_size : background rows of the model-agnostic (permutation) explainer.
    agnostic_max_rows : cap on the rows the permutation explainer explains (it costs
        ~(2 x features + 1) x permutations x background model calls per row).
    agnostic_permutations : forward-and-back permutations per row of the permutation explainer.
    top_k : warn when a sensitive attribute is among the top-k features by mean |SHAP| (0 = never).
    dependence_features : how many top features get dependence data.
    dependence_bins : quantile bins of a numeric feature's dependence curve.
    additivity_tolerance : largest accepted |base + sum of SHAP - model output|, in output units.
    permutation_sample : test rows used by permutation importance (stratified).
    permutation_repeats : shuffles per feature.
    surrogate_depth : depth of the surrogate tree.
    surrogate_sample : training rows the surrogate is fitted on (a random sample when the split is larger).
    warn_fidelity : warn when the surrogate's fidelity on test (agreement, or R² for regression) is below this.
    error_tree_depth : depth of the error-analysis tree (0 = no tree).
    min_cohort_size : smallest leaf of the error tree; clusters are capped so they average at least this.
    n_clusters : k-means clusters of the test rows.
    cluster_max_rows : k-means is fitted on at most this many test rows (a seeded sample, stated in
        the report as ``errors.n_cluster_fit``), then labels every test row (0 = fit on all).
    confidence : width of the cohorts' confidence intervals.
    """

    sample_size: int = 2000
    explainer: str = "auto"
    background_size: int = 100
    agnostic_max_rows: int = 300
    agnostic_permutations: int = 5
    top_k: int = 5
    dependence_features: int = 5
    dependence_bins: int = 10
    additivity_tolerance: float = 1e-4
    permutation_sample: int = 2000
    permutation_repeats: int = 5
    surrogate_depth: int = 3
    surrogate_sample: int = 10000
    warn_fidelity: float = 0.9
    error_tree_depth: int = 3
    min_cohort_size: int = 50
    n_clusters: int = 6
    cluster_max_rows: int = 50_000
    confidence: float = 0.95

    def __post_init__(self) -> None:
        positive = ("sample_size", "background_size", "agnostic_max_rows", "agnostic_permutations", "dependence_bins",
                    "permutation_sample", "permutation_repeats", "surrogate_depth", "surrogate_sample", "min_cohort_size")
        for name in positive:
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ConfigError(f"explanations.{name} must be a whole number of at least 1, got {v!r}")
        for name in ("top_k", "dependence_features", "error_tree_depth", "n_clusters", "cluster_max_rows"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise ConfigError(f"explanations.{name} must be a whole number of 0 or more, got {v!r}")
        if self.n_clusters == 1:
            raise ConfigError("explanations.n_clusters must be 0 (no clustering) or at least 2, got 1")
        if self.explainer not in EXPLAINERS:
            raise ConfigError(f"explanations.explainer must be one of {', '.join(EXPLAINERS)}; got {self.explainer!r}")
        if not self.additivity_tolerance > 0:
            raise ConfigError(f"explanations.additivity_tolerance must be above 0, got {self.additivity_tolerance}")
        if not 0 <= self.warn_fidelity <= 1:
            raise ConfigError(f"explanations.warn_fidelity must be in [0, 1], got {self.warn_fidelity}")
        if not 0.5 <= self.confidence < 1:
            raise ConfigError(f"explanations.confidence must be in [0.5, 1), got {self.confidence}")


@dataclass(frozen=True)
class AdditivityCheck(ReportMixin):
    """base value + sum of contributions against the model's own output, on every explained row."""

    compared_with: str
    tolerance: float
    max_abs_error: float
    mean_abs_error: float
    n_rows: int
    passed: bool


@dataclass(frozen=True)
class FeatureContribution(ReportMixin):
    feature: str
    value: str
    contribution: float


@dataclass(frozen=True)
class LocalExplanation(ReportMixin):
    """One explained row: base value + contributions (largest |contribution| first) = output.

    ``output`` is the sum of the stored (rounded) values; ``model_output`` is what the model
    computed; ``prediction`` is P(positive) for a binary task or the predicted value.
    """

    row_index: int
    test_row: int
    data_row: int
    output_space: str
    base_value: float
    contributions: tuple[FeatureContribution, ...]
    output: float
    model_output: float
    prediction: float
    label: float


@dataclass(frozen=True)
class ExplanationReport(ReportMixin):
    """The ``explanations`` section. Row-level arrays are in explained-row order.

    ``explainer`` is ``tree``, ``linear`` or ``permutation`` (model-agnostic); SHAP values
    are in ``output_space``: ``log_odds`` (the decision function of logistic regression and
    gradient boosting), ``probability`` or ``raw`` (regression). ``base_value`` is the mean
    output over ``background``; base value + a row's contributions = its output.
    ``n_explained`` test rows (of ``n_test``, drawn as ``sample_strategy``) are explained.
    ``rows`` are their positions in the test split and ``data_rows`` rows of the data set;
    ``outputs`` the model's raw outputs, ``predictions`` P(positive) or the prediction,
    ``labels`` the true labels. ``timings`` are wall seconds per part.
    """

    task: str
    model: str
    explainer: str
    output_space: str
    n_test: int
    n_explained: int
    sample_strategy: str
    n_background: int
    background: str
    n_permutations: int
    explainer_seconds: float
    features: tuple[str, ...]
    sensitive: tuple[str, ...]
    base_value: float
    importance: tuple[FeatureImportance, ...]
    beeswarm: tuple[FeatureValues, ...]
    dependence: tuple[Dependence, ...]
    rows: tuple[int, ...]
    data_rows: tuple[int, ...]
    outputs: tuple[float, ...]
    predictions: tuple[float, ...]
    labels: tuple[float, ...]
    additivity: AdditivityCheck
    by_group: tuple[GroupShap, ...]
    group_gaps: tuple[GroupGap, ...]
    permutation: PermutationImportance
    surrogate: SurrogateTree
    errors: ErrorAnalysis
    top_k: int
    sensitive_in_top_k: tuple[str, ...]
    timings: Mapping[str, float]
    verdict: Verdict
    # Multiclass only: the row-level fields (beeswarm, dependence, by_group, outputs, local)
    # explain each row's predicted class (``predicted_classes``), whose base value is in
    # ``row_base_values``; ``importance`` is summed over classes; ``per_class`` has each
    # class's base value, importance and additivity; ``additivity`` covers every class.
    classes: tuple[str, ...] = ()
    predicted_classes: tuple[str, ...] = ()
    row_base_values: tuple[float, ...] = ()
    per_class: Mapping[str, ClassShap] = field(default_factory=dict)

    def local(self, row_index: int) -> LocalExplanation:
        """The local explanation of explained row ``row_index`` (see :func:`local_explanation`)."""
        return local_explanation(self, row_index)


def local_explanation(report: ExplanationReport, row_index: int) -> LocalExplanation:
    """Base value, per-feature contributions and prediction of one explained row.

    Parameters
    ----------
    report : a finished explanations section.
    row_index : position among the explained rows, ``0 <= row_index < report.n_explained``
        (``report.rows[row_index]`` is its position in the test split).

    Returns
    -------
    LocalExplanation
    """
    n = report.n_explained
    if isinstance(row_index, bool) or not isinstance(row_index, (int, np.integer)) or not 0 <= row_index < n:
        raise ConfigError(f"row_index must be a whole number in [0, {n}) (the explained rows); got {row_index!r}")
    i = int(row_index)
    contribs = [FeatureContribution(feature=b.feature, value=b.display(i), contribution=b.shap[i]) for b in report.beeswarm]
    contribs.sort(key=lambda c: -abs(c.contribution))
    base = report.row_base_values[i] if report.row_base_values else report.base_value
    return LocalExplanation(
        row_index=i, test_row=report.rows[i], data_row=report.data_rows[i], output_space=report.output_space,
        base_value=base, contributions=tuple(contribs),
        output=float(base + sum(c.contribution for c in contribs)), model_output=report.outputs[i],
        prediction=report.predictions[i], label=report.labels[i],
    )


def _sig(values, digits: int = 6) -> tuple[float, ...]:
    """Round to ``digits`` significant digits: report.json stays small, and 1e-6 relative is plenty to draw."""
    return tuple(float(f"{v:.{digits}g}") for v in np.asarray(values, dtype=np.float64).ravel().tolist())


def explain_model(
    trained: TrainedModels,
    *,
    options: ExplanationOptions | None = None,
    seed: int = 0,
    progress: Callable[[float, str], None] | None = None,
) -> ExplanationReport:
    """Explain the audited model on its test split.

    Parameters
    ----------
    trained : fitted baselines and splits; the selected pipeline is explained.
    options : sample sizes, explainer choice, depths and thresholds.
    seed : drives every sample, shuffle, tree and clustering.
    progress : called with (fraction done, message).

    Returns
    -------
    ExplanationReport
    """
    opts = options or ExplanationOptions()
    # HGB predictions and k-means: one OpenMP thread (audit.threads).
    with one_thread("openmp"):
        return _explain(trained, opts, seed, progress or (lambda f, m: None))


def _additivity(err: np.ndarray, output_space: str, tolerance: float) -> AdditivityCheck:
    """Do the SHAP values of each row add up to its model output (within ``tolerance``)?"""
    return AdditivityCheck(compared_with=_COMPARED_WITH[output_space], tolerance=tolerance,
                           max_abs_error=float(err.max()) if len(err) else 0.0,
                           mean_abs_error=float(err.mean()) if len(err) else 0.0, n_rows=len(err),
                           passed=bool(len(err) == 0 or err.max() <= tolerance))


def _explain(trained: TrainedModels, opts: ExplanationOptions, seed: int, say: Callable[[float, str], None]) -> ExplanationReport:
    t_all = time.perf_counter()
    timings: dict[str, float] = {}
    ds, task = trained.dataset, trained.task
    clf = task != "regression"
    pipe, est = trained.model, trained.model.named_steps["model"]
    features = tuple(ds.features)
    X_test, y_test = trained.X_test, trained.y_test
    n_test = len(X_test)

    kind, trees, why_not = pick_explainer(trained, est, opts.explainer, seed)
    size = min(opts.sample_size, opts.agnostic_max_rows) if kind == "permutation" else opts.sample_size
    rows = sample_rows(n_test, size, y_test, clf, seed)
    strategy = ("all test rows" if len(rows) == n_test else
                "stratified on the label" if clf else "simple random sample")
    X_s = X_test.iloc[rows].reset_index(drop=True)
    say(0.02, f"SHAP ({kind} explainer) on {len(rows)} of {n_test} test rows")
    codec = FeatureCodec(features, ds.categorical, [trained.X_train, X_test])
    sh = compute_shap(pipe, task=task, X=X_s, X_background=trained.X_train, encoded_to_original=trained.encoded_to_original(),
                      features=features, explainer=opts.explainer, n_background=opts.background_size,
                      n_permutations=opts.agnostic_permutations, seed=seed, onnx_trees=trees, trees_not_used=why_not)
    timings["shap"] = sh.seconds
    additivity = _additivity(sh.additivity_error, sh.output_space, opts.additivity_tolerance)
    multi: dict = {}
    if task == "multiclass":
        pred_s = trained.predict(X_s)
        sh, imp_summed, per_class, row_base = multiclass_views(sh, pred_s, trained.classes, features, ds.sensitive)
        multi = dict(classes=trained.classes, predicted_classes=tuple(trained.classes[c] for c in pred_s),
                     row_base_values=_sig(row_base, 10), per_class=per_class)
    C = codec.encode(X_s)
    beeswarm = tuple(
        FeatureValues(feature=f, kind="categorical" if f in codec.categories else "numeric", shap=_sig(sh.values[:, j]),
                      values=_sig(C[:, j]), categories=codec.categories.get(f, ()))
        for j, f in enumerate(features))
    imp = imp_summed if multi else importance(sh.values, features, ds.sensitive)
    t = time.perf_counter()
    dep = dependence(sh.values, C, codec, imp[: opts.dependence_features], opts.dependence_bins, seed)
    groups, gaps = group_shap(sh.values, sh.outputs, trained.groups_test.iloc[rows].reset_index(drop=True), features,
                              ds.options.min_group_size)
    timings["summaries"] = time.perf_counter() - t

    say(0.35, f"permutation importance on {min(opts.permutation_sample, n_test)} test rows")
    t = time.perf_counter()
    perm = permutation_scores(trained, sample=opts.permutation_sample, repeats=opts.permutation_repeats, seed=derived_seed(seed, 1))
    timings["permutation"] = time.perf_counter() - t

    say(0.6, "surrogate tree")
    t = time.perf_counter()
    sur_rows = sample_rows(len(trained.X_train), opts.surrogate_sample, trained.y_train, clf, derived_seed(seed, 2))
    X_sur = trained.X_train.iloc[sur_rows]
    encoder = ReadableEncoder(ds.numeric, ds.categorical).fit(X_sur)
    pred_test = trained.predict(X_test)
    positive = ds.positive_label if ds.positive_label is not None else "positive"
    surrogate = fit_surrogate(encoder, X_sur, trained.predict(X_sur), X_test, pred_test, task=task,
                              max_depth=opts.surrogate_depth, positive_name=str(positive), seed=seed,
                              class_names=trained.classes if task == "multiclass" else ())
    timings["surrogate"] = time.perf_counter() - t

    say(0.75, "error analysis: error tree and k-means cohorts")
    t = time.perf_counter()
    errors = error_cohorts(trained, encoder, pred_test, max_depth=opts.error_tree_depth, min_cohort_size=opts.min_cohort_size,
                           n_clusters=opts.n_clusters, confidence=opts.confidence, seed=seed,
                           cluster_max_rows=opts.cluster_max_rows)
    timings["errors"] = time.perf_counter() - t

    top = tuple(fi.feature for fi in imp[: opts.top_k] if fi.sensitive)
    predictions = trained.score(X_s)
    timings["total"] = time.perf_counter() - t_all
    say(1.0, "explanations done")
    return ExplanationReport(
        task=task, model=trained.selected, explainer=sh.explainer, output_space=sh.output_space, n_test=n_test,
        n_explained=len(rows), sample_strategy=strategy, n_background=sh.n_background, background=sh.background,
        n_permutations=sh.n_permutations,
        explainer_seconds=sh.seconds, features=features, sensitive=tuple(ds.sensitive), base_value=float(f"{sh.base_value:.10g}"),
        importance=imp, beeswarm=beeswarm, dependence=dep, rows=tuple(int(r) for r in rows),
        data_rows=tuple(int(trained.idx_test[r]) for r in rows), outputs=_sig(sh.outputs), predictions=_sig(predictions),
        labels=tuple(float(v) for v in y_test[rows]), additivity=additivity, by_group=groups, group_gaps=gaps,
        permutation=perm, surrogate=surrogate, errors=errors, top_k=opts.top_k, sensitive_in_top_k=top,
        timings=timings, verdict=_verdict(imp, top, additivity, surrogate, opts, sh.output_space), **multi,
    )


def _verdict(imp: tuple[FeatureImportance, ...], top: tuple[str, ...], add: AdditivityCheck, sur: SurrogateTree,
             opts: ExplanationOptions, space: str) -> Verdict:
    warns, passes = [], []
    rank = {fi.feature: fi.rank for fi in imp}
    if top:
        named = ", ".join(f"{f} (rank {rank[f]})" for f in top)
        warns.append(f"sensitive attribute among the top {opts.top_k} features by mean |SHAP|: {named}; "
                     "the model leans on it directly")
    elif opts.top_k:
        passes.append(f"no sensitive attribute among the top {opts.top_k} features by mean |SHAP|")
    if not add.passed:
        warns.append(f"SHAP additivity fails: base + contributions differ from the model's {add.compared_with} by up to "
                     f"{add.max_abs_error:.3g} ({space}; tolerance {opts.additivity_tolerance:g})")
    else:
        passes.append(f"SHAP additivity holds on {add.n_rows} rows (max error {add.max_abs_error:.2g} <= {opts.additivity_tolerance:g})")
    if sur.fidelity_metric == "agreement" or np.isfinite(sur.fidelity):
        if not sur.fidelity >= opts.warn_fidelity:
            warns.append(f"the depth-{sur.max_depth} surrogate tree agrees with the model only {sur.fidelity:.3f} "
                         f"({sur.fidelity_metric}, below {opts.warn_fidelity}): its rules are a rough summary")
        else:
            passes.append(f"the depth-{sur.max_depth} surrogate tree reproduces the model ({sur.fidelity_metric} "
                          f"{sur.fidelity:.3f} >= {opts.warn_fidelity})")
    return decide([], warns, passes)


__all__ = ["explain_model", "local_explanation", "ExplanationOptions", "ExplanationReport", "LocalExplanation",
           "FeatureImportance", "FeatureValues", "Dependence", "DependenceBin", "GroupShap", "GroupGap", "GapContribution",
           "AdditivityCheck", "PermutationImportance", "PermutationFeature", "FeatureContribution", "SurrogateTree",
           "SurrogateRule", "ErrorAnalysis", "Cohort", "ClassShap"]
