"""Performance of the audited model with bootstrap confidence intervals.

Point estimates come from scikit-learn's metric functions. The bootstrap uses
resampling *weights* (how often each test row is drawn) and weighted, vectorised
forms of the same metrics, so 1,000 resamples of ~10,000 rows take well under a
second; a test checks the weighted forms equal scikit-learn's with unit weights.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
from sklearn.base import clone
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    balanced_accuracy_score,
    brier_score_loss,
    confusion_matrix,
    f1_score,
    log_loss,
    mean_absolute_error,
    mean_squared_error,
    precision_score,
    r2_score,
    recall_score,
    roc_auc_score,
)
from sklearn.model_selection import train_test_split

from audit.serial import ReportMixin
from audit.bounds import bounded
from audit.stats import Estimate, Ties, bootstrap_estimate, bootstrap_weights
from audit.errors import ConfigError
from audit.models.baselines import TrainedModels, metric_value
from audit.models.fast_scoring import predict_proba
from audit.models.multiclass import class_proba
from audit.sections import performance_multiclass as mc
from audit.verdict import Verdict, decide

_EPS = 1e-15
SUPPORTS_MULTICLASS = True  # the pipeline runs only sections that handle multiclass targets


@bounded("performance")
@dataclass(frozen=True)
class PerformanceOptions(ReportMixin):
    """Options and thresholds of the performance audit.

    Parameters
    ----------
    bootstrap : resamples for the confidence intervals.
    confidence : width of the intervals.
    calibration_bins : equal-width bins of the reliability curve and ECE.
    learning_curve_sizes : fractions of the training split for the learning curve.
    learning_curve_max_rows : on a training split larger than this, the refitted points are
        these fractions of this many rows (seeded samples; default 50,000; 0 = of the whole
        split); the point at 1.0 is always the audited model on the whole split. Each point
        states its size; a 1M-row table's refits on 60,000 to 300,000 rows cost more than
        the rest of the section.
    warn_gap : warn when the train score exceeds the test score by more than this.
    warn_ece : warn when the expected calibration error exceeds this.
    """

    bootstrap: int = 1000
    confidence: float = 0.95
    calibration_bins: int = 10
    learning_curve_sizes: tuple[float, ...] = (0.1, 0.25, 0.5, 1.0)
    learning_curve_max_rows: int = 50_000
    warn_gap: float = 0.05
    warn_ece: float = 0.05

    def __post_init__(self) -> None:
        if self.bootstrap < 0:
            raise ConfigError(f"performance.bootstrap must be 0 or more, got {self.bootstrap}")
        if not 0.5 <= self.confidence < 1:
            raise ConfigError(f"performance.confidence must be in [0.5, 1), got {self.confidence}")
        if self.calibration_bins < 2:
            raise ConfigError(f"performance.calibration_bins must be at least 2, got {self.calibration_bins}")
        if any(not 0 < f <= 1 for f in self.learning_curve_sizes):
            raise ConfigError(f"performance.learning_curve_sizes must be fractions in (0, 1], got {self.learning_curve_sizes}")
        if self.learning_curve_max_rows < 0:
            raise ConfigError(f"performance.learning_curve_max_rows must be 0 or more, got {self.learning_curve_max_rows}")


@dataclass(frozen=True)
class ReliabilityBin(ReportMixin):
    lower: float
    upper: float
    count: int
    mean_predicted: float
    observed_rate: float


@dataclass(frozen=True)
class LearningCurvePoint(ReportMixin):
    train_size: int
    train_score: float
    val_score: float


@dataclass(frozen=True)
class PerformanceReport(ReportMixin):
    """The ``performance`` section."""

    task: str
    model: str
    primary_metric: str
    metrics: Mapping[str, Estimate]  # on the test split, with bootstrap intervals
    train_metrics: Mapping[str, float]  # the same metrics on the training split
    n_test: int
    n_bootstrap: int
    confidence: float
    decision_threshold: float
    confusion_matrix: tuple[tuple[int, ...], ...]  # [[tn, fp], [fn, tp]]; k x k (true x predicted) multiclass; empty for regression
    reliability: tuple[ReliabilityBin, ...]
    learning_curve: tuple[LearningCurvePoint, ...]
    learning_curve_metric: str
    baseline_primary: float  # the dummy model's primary metric on test
    train_test_gap: float
    verdict: Verdict
    # Multiclass only: class labels (code order, the confusion matrix's order), per-class
    # precision / recall / F1 / one-vs-rest ROC AUC with intervals, and test rows per class.
    # ``reliability`` is then the top-label curve (confidence vs share right).
    classes: tuple[str, ...] = ()
    per_class: Mapping[str, Mapping[str, Estimate]] = field(default_factory=dict)
    train_per_class: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    class_support: Mapping[str, int] = field(default_factory=dict)


def binary_weighted_form(y: np.ndarray, p: np.ndarray, thr: float, bins: int) -> Callable[[np.ndarray], dict[str, np.ndarray]]:
    """The binary metrics as a function of a block of weight rows, with everything that does not
    depend on the weights computed once: one product of the block with an (n x (6 + 3 bins))
    matrix gives the confusion counts, the log-loss and Brier sums and the calibration bins' sums
    (one pass over the block instead of nine), and the score's tie groups are sorted once."""
    pred = (p >= thr).astype(np.float64)
    pc = np.clip(p, _EPS, 1 - _EPS)
    onehot = np.eye(bins)[_bin_index(p, bins)]
    cols = np.column_stack([pred * y, pred * (1 - y), (1 - pred) * y, (1 - pred) * (1 - y),
                            -(y * np.log(pc) + (1 - y) * np.log(1 - pc)), (p - y) ** 2,
                            onehot, onehot * p[:, None], onehot * y[:, None]])
    ties = Ties(y, p)

    def weighted(W: np.ndarray) -> dict[str, np.ndarray]:
        S = W @ cols
        tp, fp, fn, tn = S[:, 0], S[:, 1], S[:, 2], S[:, 3]
        n = W.sum(axis=1)
        auc, ap = ties.auc_and_ap(W)
        with np.errstate(invalid="ignore", divide="ignore"):
            prec = np.where(tp + fp > 0, tp / (tp + fp), 0.0)
            rec = np.where(tp + fn > 0, tp / (tp + fn), np.nan)
            spec = np.where(tn + fp > 0, tn / (tn + fp), np.nan)
            f1 = np.where(2 * tp + fp + fn > 0, 2 * tp / (2 * tp + fp + fn), 0.0)
            return {
                "accuracy": (tp + tn) / n,
                "balanced_accuracy": (rec + spec) / 2,
                "precision": prec,
                "recall": rec,
                "f1": f1,
                "roc_auc": auc,
                "pr_auc": ap,
                "log_loss": S[:, 4] / n,
                "brier": S[:, 5] / n,
                "ece": _ece_from_sums(S[:, 6 : 6 + bins], S[:, 6 + bins : 6 + 2 * bins], S[:, 6 + 2 * bins :]),
            }

    return weighted


def _binary_weighted(y: np.ndarray, p: np.ndarray, W: np.ndarray, thr: float, bins: int) -> dict[str, np.ndarray]:
    return binary_weighted_form(y, p, thr, bins)(W)


def _bin_index(p: np.ndarray, bins: int) -> np.ndarray:
    return np.clip((p * bins).astype(int), 0, bins - 1)


def _ece_from_sums(cnt: np.ndarray, sp: np.ndarray, sy: np.ndarray) -> np.ndarray:
    """ECE of each weight row from its bins' weighted counts, predicted sums and observed sums (b x bins each)."""
    n = cnt.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        gap = np.where(cnt > 0, np.abs(sp - sy) / np.maximum(cnt, 1), 0.0)
    return np.sum(gap * cnt / n, axis=1)


def _weighted_ece(y: np.ndarray, p: np.ndarray, W: np.ndarray, bins: int) -> np.ndarray:
    onehot = np.eye(bins)[_bin_index(p, bins)]  # n x bins
    return _ece_from_sums(W @ onehot, W @ (onehot * p[:, None]), W @ (onehot * y[:, None]))


def expected_calibration_error(y: np.ndarray, p: np.ndarray, *, bins: int = 10) -> float:
    """ECE with equal-width bins: the count-weighted mean |observed rate - mean predicted|."""
    return float(_weighted_ece(y.astype(float), p, np.ones((1, len(y))), bins)[0])


def _binary_point(y: np.ndarray, p: np.ndarray, thr: float, bins: int) -> dict[str, float]:
    pred = (p >= thr).astype(int)
    two = len(np.unique(y)) == 2
    return {
        "accuracy": accuracy_score(y, pred),
        "balanced_accuracy": balanced_accuracy_score(y, pred) if two else float("nan"),
        "precision": precision_score(y, pred, zero_division=0),
        "recall": recall_score(y, pred, zero_division=0),
        "f1": f1_score(y, pred, zero_division=0),
        "roc_auc": roc_auc_score(y, p) if two else float("nan"),
        "pr_auc": average_precision_score(y, p) if two else float("nan"),
        "log_loss": log_loss(y, np.clip(p, _EPS, 1 - _EPS), labels=[0, 1]),
        "brier": brier_score_loss(y, p),
        "ece": expected_calibration_error(y, p, bins=bins),
    }


def _regression_weighted(y: np.ndarray, p: np.ndarray, W: np.ndarray) -> dict[str, np.ndarray]:
    n = W.sum(axis=1)
    err = p - y
    mean_y = (W @ y) / n
    sst = W @ (y**2) - n * mean_y**2
    sse = W @ (err**2)
    with np.errstate(invalid="ignore", divide="ignore"):
        return {"mae": W @ np.abs(err) / n, "rmse": np.sqrt(sse / n), "r2": 1 - sse / sst}


def _regression_point(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    return {"mae": mean_absolute_error(y, p), "rmse": float(np.sqrt(mean_squared_error(y, p))), "r2": r2_score(y, p)}


def _metric_forms(trained: TrainedModels, y: np.ndarray, p: np.ndarray, thr: float, bins: int) -> tuple[dict, dict, Callable, str]:
    """The task's metrics on test and train, their weighted (bootstrap) form on test, and the primary metric."""
    task = trained.task
    p_tr = trained.score(trained.X_train)
    if task == "binary":
        point = _binary_point(trained.y_test, p, thr, bins)
        train_point = _binary_point(trained.y_train, p_tr, thr, bins)
        return point, train_point, binary_weighted_form(y, p, thr, bins), "roc_auc"
    if task == "multiclass":
        classes = trained.classes
        P, yc = trained.proba(trained.X_test), trained.y_test
        point = mc.multiclass_point(yc, P, classes, bins)
        train_point = mc.multiclass_point(trained.y_train, trained.proba(trained.X_train), classes, bins)
        return point, train_point, mc.multiclass_weighted_form(yc, P, classes, bins), "roc_auc"
    point = _regression_point(y, p)
    train_point = _regression_point(trained.y_train.astype(float), p_tr)
    return point, train_point, lambda W: _regression_weighted(y, p, W), "r2"


def _binary_tables(y_int: np.ndarray, y: np.ndarray, p: np.ndarray, thr: float, bins: int) -> tuple[tuple, tuple]:
    """The confusion matrix at the threshold and the reliability curve on equal-width bins."""
    cm = tuple(tuple(int(x) for x in row) for row in confusion_matrix(y_int, (p >= thr).astype(int), labels=[0, 1]))
    b = _bin_index(p, bins)
    rel = []
    for i in range(bins):
        m = b == i
        rel.append(ReliabilityBin(lower=i / bins, upper=(i + 1) / bins, count=int(m.sum()),
                                  mean_predicted=float(p[m].mean()) if m.any() else float("nan"),
                                  observed_rate=float(y[m].mean()) if m.any() else float("nan")))
    return cm, tuple(rel)


def audit_performance(
    trained: TrainedModels,
    *,
    options: PerformanceOptions | None = None,
    seed: int = 0,
    progress: Callable[[float, str], None] | None = None,
) -> PerformanceReport:
    """Evaluate the audited model on the test split.

    Parameters
    ----------
    trained : fitted baselines and splits.
    options : bootstrap size, confidence, calibration bins, learning curve, thresholds.
    seed : seeds the bootstrap and the learning-curve subsamples.
    progress : called with (fraction done, message).

    Returns
    -------
    PerformanceReport
    """
    opts = options or PerformanceOptions()
    rng = np.random.default_rng(seed)
    task = trained.task
    y = trained.y_test.astype(np.float64)
    p = trained.score(trained.X_test)
    thr = trained.report.decision_threshold
    point, train_point, weighted, primary = _metric_forms(trained, y, p, thr, opts.calibration_bins)
    if task == "multiclass":
        classes, P, yc = trained.classes, trained.proba(trained.X_test), trained.y_test
    if progress:
        progress(0.1, f"bootstrapping {opts.bootstrap} resamples of {len(y)} test rows")
    samples: dict[str, list[np.ndarray]] = {k: [] for k in point}
    for W in bootstrap_weights(len(y), opts.bootstrap, rng):
        for k, v in weighted(W).items():
            samples[k].append(v)
    metrics = {k: bootstrap_estimate(v, samples[k], level=opts.confidence, n=len(y), resamples=opts.bootstrap) for k, v in point.items()}
    train_metrics = {k: float(v) for k, v in train_point.items()}

    cm, reliability = _binary_tables(trained.y_test, y, p, thr, opts.calibration_bins) if task == "binary" else ((), ())
    per_class: dict = {}
    train_per_class: dict = {}
    if task == "multiclass":
        metrics, per_class = mc.split_per_class(metrics)
        train_metrics, train_per_class = mc.split_per_class(train_metrics)
        cm = mc.multiclass_confusion(yc, P, len(classes))
        reliability = tuple(ReliabilityBin(*b) for b in mc.top_label_reliability(yc, P, opts.calibration_bins))

    if progress:
        progress(0.4, "learning curve")
    lc_metric = trained.report.selection_metric
    # The user's model cannot be refitted on subsets: no learning curve for it.
    curve = (_learning_curve(trained, opts.learning_curve_sizes, lc_metric, rng, opts.learning_curve_max_rows)
             if trained.refittable else ())
    base = float("nan")
    if "dummy" in trained.pipelines:
        dummy = trained.proba(trained.X_test, "dummy") if task == "multiclass" else trained.score(trained.X_test, "dummy")
        base = metric_value(primary, trained.y_test, dummy)
    gap = train_metrics[primary] - metrics[primary].value
    verdict = _verdict(metrics, primary, base, gap, opts, task)
    if progress:
        progress(1.0, "performance done")
    return PerformanceReport(
        task=task, model=trained.selected, primary_metric=primary, metrics=metrics, train_metrics=train_metrics, n_test=len(y),
        n_bootstrap=opts.bootstrap, confidence=opts.confidence, decision_threshold=thr,
        confusion_matrix=cm, reliability=reliability, learning_curve=curve, learning_curve_metric=lc_metric,
        baseline_primary=base, train_test_gap=float(gap), verdict=verdict,
        **({} if task != "multiclass" else dict(
            classes=classes, per_class=per_class, train_per_class=train_per_class,
            class_support={lab: int((yc == c).sum()) for c, lab in enumerate(classes)})),
    )


def _learning_curve(trained: TrainedModels, sizes: tuple[float, ...], metric: str, rng: np.random.Generator,
                    max_rows: int = 0) -> tuple[LearningCurvePoint, ...]:
    """Train and validation score of the selected pipeline refitted on growing training subsets
    (fractions of ``max_rows`` rows when the split is larger; the point at 1.0 is the audited model)."""
    out = []
    n = len(trained.y_train)
    base = min(n, max_rows) if max_rows else n
    strat = trained.y_train if trained.task != "regression" else None
    for frac in sorted(set(sizes)):
        if frac >= 1.0:
            pipe, Xs, ys = trained.model, trained.X_train, trained.y_train
        else:
            k = min(max(int(round(frac * base)), 20), n)
            try:
                idx, _ = train_test_split(np.arange(n), train_size=k, random_state=int(rng.integers(2**31)), stratify=strat)
                Xs, ys = trained.X_train.iloc[idx], trained.y_train[idx]
                # A rare class can be too small at this size for the model's own validation split.
                pipe = clone(trained.model).fit(Xs, ys)
            except ValueError:
                continue  # too few rows of a class at this size: the point is left out
        if frac >= 1.0:  # the audited model on its own splits: the scores every section shares (cached)
            score = (lambda X: trained.proba(X)) if trained.task == "multiclass" else trained.score
        elif trained.task == "multiclass":
            score = lambda X, _p=pipe: class_proba(_p, X, len(trained.classes))  # noqa: E731
        else:
            # fast_scoring: the pipeline's own probabilities (checked), binned for a gradient boosting.
            score = (lambda X, _p=pipe: predict_proba(_p, X)[:, 1]) if trained.task == "binary" else pipe.predict
        out.append(LearningCurvePoint(train_size=len(ys), train_score=metric_value(metric, ys, score(Xs)), val_score=metric_value(metric, trained.y_val, score(trained.X_val))))
    return tuple(out)


def _verdict(metrics: Mapping[str, Estimate], primary: str, base: float, gap: float, opts: PerformanceOptions, task: str) -> Verdict:
    fails, warns, passes = [], [], []
    m = metrics[primary]
    if np.isfinite(base) and np.isfinite(m.low) and m.low <= base:
        fails.append(f"{primary} {m.value:.3f} (CI low {m.low:.3f}) is not better than the dummy baseline ({base:.3f})")
    else:
        passes.append(f"{primary} {m.text()} beats the dummy baseline ({base:.3f})")
    if gap > opts.warn_gap:
        warns.append(f"train {primary} exceeds test by {gap:.3f} (> {opts.warn_gap}): possible overfitting")
    if task != "regression":
        ece = metrics["ece"].value
        if ece > opts.warn_ece:
            warns.append(f"expected calibration error {ece:.3f} exceeds {opts.warn_ece}: scores are poorly calibrated")
    return decide(fails, warns, passes)
