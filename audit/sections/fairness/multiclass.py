"""Fairness of a multiclass model: every class one-vs-rest, the verdict on the worst class.

For each class c the binary machinery of :mod:`audit.sections.fairness.section` runs on
the indicators ``y == c`` and ``predicted == c`` (fairlearn's ``MetricFrame`` for the
points, the paired bootstrap for intervals): per group, the selection rate of c and the
one-vs-rest TPR / FPR; per class, demographic parity and equalized odds differences with
intervals and the four-fifths rule. The worst class (the worst verdict, ties broken by the
largest demographic parity difference) fills the report's top-level group fields, so
every reader of a binary report reads a multiclass one the same way; ``per_class`` holds
all classes. Accuracy per group is the multiclass accuracy (predicted class right).

fairlearn's ExponentiatedGradient and ThresholdOptimizer support binary targets only:
they are reported as skipped, never run on a recoded target.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from fairlearn.metrics import MetricFrame
from sklearn.metrics import accuracy_score

from audit.models.baselines import MODEL_LABELS, TrainedModels, make_pipeline
from audit.models.multiclass import class_proba
from audit.sections.fairness.group_sums import group_sums_form
from audit.sections.fairness.metrics import (
    GroupRow,
    RepresentationRow,
    Resampler,
    encode,
    group_labels,
    keyed_disparities,
    representation,
)
from audit.sections.fairness.mitigation import ModelVariant, _LABELS, skipped
from audit.sections.fairness.rules import fairness_verdict
from audit.serial import ReportMixin
from audit.stats import Estimate, Ties
from audit.verdict import Verdict

_RANK = {"fail": 2, "warn": 1, "pass": 0}
_BINARY_ONLY = {
    "expgrad_dp": "fairlearn's ExponentiatedGradient supports binary targets only; not run for a multiclass target",
    "expgrad_eo": "fairlearn's ExponentiatedGradient supports binary targets only; not run for a multiclass target",
    "threshold_dp": "fairlearn's ThresholdOptimizer supports binary targets only; not run for a multiclass target",
    "threshold_eo": "fairlearn's ThresholdOptimizer supports binary targets only; not run for a multiclass target",
    "reweighing": "reweighing is implemented for binary targets only; not run for a multiclass target",
}


@dataclass(frozen=True)
class ClassFairness(ReportMixin):
    """One class, one-vs-rest: per-group rates (``selection_rate`` = share predicted this class,
    ``tpr`` / ``fpr`` one-vs-rest, ``base_rate`` = share truly this class) and disparities,
    keyed like ``FairnessReport.groups``; the verdict this class alone would get."""

    label: str
    groups: Mapping[str, tuple[GroupRow, ...]]
    disparities: Mapping[str, Mapping[str, Estimate]]
    disparities_adequate: Mapping[str, Mapping[str, Estimate]]
    verdict: Verdict


def audit_multiclass(trained: TrainedModels, opts, seed: int, say: Callable[[float, str], None]):
    """The fairness report of a multiclass model (see the module docstring)."""
    from audit.sections.fairness import section as sec

    ss = np.random.SeedSequence(seed).spawn(3)
    ds = trained.dataset
    classes = trained.classes
    min_size = int(ds.options.min_group_size)
    keys = sec.grouping_keys(ds.sensitive, opts.intersections)
    y = trained.y_test
    P = trained.proba(trained.X_test)
    pred = P.argmax(axis=1)
    rs = Resampler(len(y), opts.bootstrap, int(ss[0].generate_state(1)[0]), opts.confidence)

    results, verdicts = {}, {}
    for c, lab in enumerate(classes):
        say(0.02 + 0.5 * c / len(classes), f"class {lab!r} one-vs-rest: group metrics on {len(y)} test rows")
        yc, pc = (y == c).astype(float), (pred == c).astype(float)
        results[lab] = sec._group_results("binary", yc, pc, P[:, c], trained.groups_test, keys, rs, min_size, opts)
        g = results[lab]
        verdicts[lab] = fairness_verdict("binary", keys, g["disparities_adequate"], g["four_fifths"], g["excluded_groups"],
                                     g["adequate"], 0.0, opts)
    worst = max(classes, key=lambda lab: (_RANK[verdicts[lab].status], _largest_parity_gap(results[lab])))
    w = results[worst]
    say(0.55, "accuracy per group")
    accuracy = _group_accuracy(y, pred, trained.groups_test, keys, rs, min_size)
    groups = {key: tuple(_with_accuracy(r, a) for r, a in zip(rows, accuracy[key])) for key, rows in w["groups"].items()}
    overall = dict(w["overall"], accuracy=float(accuracy_score(y, pred)))
    say(0.6, "representation and proxy detection")
    rep, gap = _representation(trained, keys, min_size, classes.index(worst))
    proxies, n_proxy = sec._proxies(trained, opts, sec.proxy_rng(seed))
    say(0.7, "retraining without the sensitive features")
    wc = classes.index(worst)
    variants = (_variant(trained, w, rs, "unmitigated", pred, P, wc, detail="the audited model as fitted", seconds=0.0),)
    unaware = (_unaware(trained, w, rs, wc) if opts.unawareness
               else skipped("unaware", "turned off (fairness.unawareness = false)"))
    variants += tuple(skipped(n, _BINARY_ONLY[n]) for n in opts.mitigations)
    say(1.0, "fairness done")
    return sec.FairnessReport(
        task="multiclass", model=trained.selected, sensitive=tuple(ds.sensitive), keys=keys, n_test=len(y),
        n_bootstrap=opts.bootstrap, confidence=opts.confidence, min_group_size=min_size,
        decision_threshold=float("nan"), overall=overall, groups=groups, disparities=w["disparities"],
        disparities_adequate=w["disparities_adequate"], excluded_groups=w["excluded_groups"], four_fifths=w["four_fifths"],
        n_data=ds.n_rows, representation=rep, base_rate_gap=gap, proxy_metric=opts.proxy_metric,
        proxy_threshold=opts.proxy_threshold, n_proxy_rows=n_proxy, proxies=proxies, unawareness=unaware,
        mitigations=variants, verdict=_combined_verdict(classes, worst, verdicts),
        thresholds={"demographic_parity_difference": opts.warn_parity_difference,
                    "equalized_odds_difference": opts.warn_equalized_odds_difference,
                    "demographic_parity_ratio": opts.four_fifths},
        classes=classes, worst_class=worst, group_accuracy=accuracy,
        per_class={lab: ClassFairness(label=lab, groups={k: tuple(_without_ovr_accuracy(r) for r in rows) for k, rows in g["groups"].items()},
                                      disparities=g["disparities"], disparities_adequate=g["disparities_adequate"],
                                      verdict=verdicts[lab]) for lab, g in results.items()},
        four_fifths_per_class={lab: g["four_fifths"] for lab, g in results.items()},
    )


def _largest_parity_gap(g: dict) -> float:
    vals = [d["demographic_parity_difference"].value for d in g["disparities_adequate"].values()]
    vals = [v for v in vals if np.isfinite(v)]
    return max(vals) if vals else -1.0


def _combined_verdict(classes: tuple[str, ...], worst: str, verdicts: Mapping[str, Verdict]) -> Verdict:
    """The worst class's verdict, named, followed by the other classes that did not pass."""
    v = verdicts[worst]
    reasons = [f"worst class {worst!r} (of {len(classes)}, one-vs-rest): {r}" for r in v.reasons]
    for lab in classes:
        if lab != worst and verdicts[lab].status != "pass":
            reasons += [f"class {lab!r}: {r}" for r in verdicts[lab].reasons if "minimum group size" not in r]
    return Verdict(v.status, tuple(reasons))


def _group_accuracy(y: np.ndarray, pred: np.ndarray, groups_test: pd.DataFrame, keys: Mapping[str, tuple[str, ...]],
                    rs: Resampler, min_size: int) -> dict[str, tuple[GroupRow, ...]]:
    """Multiclass accuracy per group: MetricFrame point, paired bootstrap interval."""
    right = (pred == y).astype(float)
    out = {}
    for key, cols in keys.items():
        labels = group_labels(groups_test, cols)
        codes, names = encode(labels)
        mf = MetricFrame(metrics=accuracy_score, y_true=y, y_pred=pred, sensitive_features=pd.Series(labels, name="group"))
        point = mf.by_group.reindex(list(names)).to_numpy(dtype=float)
        # The share of right predictions is the "base rate" of the indicator ``right``.
        sums = group_sums_form("binary", right, right, codes, len(names))
        samples = rs.stack(lambda W, f=sums: {"acc": f(W)["base_rate"]})
        counts = np.bincount(codes, minlength=len(names))
        out[key] = tuple(GroupRow(group=n, count=int(counts[i]), share=float(counts[i] / len(y)), adequate=bool(counts[i] >= min_size),
                                  metrics={"accuracy": rs.estimate(float(point[i]), samples["acc"][:, i], int(counts[i]))})
                         for i, n in enumerate(names))
    return out


def _with_accuracy(row: GroupRow, acc: GroupRow) -> GroupRow:
    return GroupRow(group=row.group, count=row.count, share=row.share, adequate=row.adequate,
                    metrics={**row.metrics, "accuracy": acc.metrics["accuracy"]})


def _without_ovr_accuracy(row: GroupRow) -> GroupRow:
    # One-vs-rest accuracy of a single class is not the model's accuracy; group_accuracy holds that.
    return GroupRow(group=row.group, count=row.count, share=row.share, adequate=row.adequate,
                    metrics={k: v for k, v in row.metrics.items() if k != "accuracy"})


def _representation(trained: TrainedModels, keys, min_size: int, code: int) -> tuple[dict, dict]:
    """Group shares and the share of the worst class in each group's labels (whole data)."""
    ds = trained.dataset
    rep, gap = {}, {}
    is_c = (ds.y == code).astype(float)
    for key, cols in keys.items():
        rows: tuple[RepresentationRow, ...] = representation(group_labels(ds.groups, cols), is_c,
                                                             group_labels(trained.groups_train, cols), group_labels(trained.groups_test, cols))
        rep[key] = rows
        rates = np.array([r.base_rate for r in rows if r.count >= min_size])
        gap[key] = {"difference": float(rates.max() - rates.min()) if len(rates) > 1 else np.nan,
                    "ratio": float(rates.min() / rates.max()) if len(rates) > 1 and rates.max() > 0 else np.nan}
    return rep, gap


def _variant(trained: TrainedModels, w: dict, rs: Resampler, name: str, pred: np.ndarray, P: np.ndarray, code: int, *,
             detail: str, seconds: float) -> ModelVariant:
    """A model scored on the test split: multiclass accuracy, and the worst class's one-vs-rest
    selection rate, ROC AUC and disparities (paired resamples)."""
    y = trained.y_test
    right = (pred == y).astype(float)
    yc, pc = (y == code).astype(float), (pred == code).astype(float)
    zero = np.zeros(len(y), dtype=int)
    ties = Ties(yc, P[:, code])
    acc, sel = group_sums_form("binary", right, right, zero, 1), group_sums_form("binary", pc, pc, zero, 1)

    def fn(W):
        return {"accuracy": acc(W)["base_rate"][:, 0],
                "selection_rate": sel(W)["base_rate"][:, 0],
                "roc_auc": ties.auc(W)}

    point, samples = fn(np.ones((1, len(y)))), rs.stack(fn)
    metrics = {m: rs.estimate(float(point[m][0]), samples[m], len(y)) for m in point}
    disp = keyed_disparities("binary", yc, pc, w["coded"], w["adequate"], rs)
    return ModelVariant(name=name, label=_LABELS[name], status="done",
                        detail=f"{detail}; selection rate, ROC AUC and disparities are for class {trained.classes[code]!r} one-vs-rest",
                        estimator=MODEL_LABELS.get(trained.selected, trained.selected), fit_split="train",
                        fit_rows=len(trained.y_train), seconds=float(seconds), metrics=metrics, disparities=disp)


def _unaware(trained: TrainedModels, w: dict, rs: Resampler, code: int) -> ModelVariant:
    """Refit the audited model's kind without the sensitive features."""
    ds = trained.dataset
    dropped = [s for s in ds.sensitive if s in ds.features]
    if not dropped:
        return skipped("unaware", "the audited model already excludes the sensitive features (sensitive_as_features = false)")
    if trained.selected not in MODEL_LABELS:
        return skipped("unaware", f"the audited model ({trained.selected}) cannot be refitted here")
    feats = [f for f in ds.features if f not in ds.sensitive]
    t0 = time.perf_counter()
    pipe = make_pipeline(trained.selected, "multiclass", tuple(c for c in ds.numeric if c in feats),
                         tuple(c for c in ds.categorical if c in feats), seed=trained.seed)
    pipe.fit(trained.X_train[feats], trained.y_train)
    P = class_proba(pipe, trained.X_test[feats], len(trained.classes))
    return _variant(trained, w, rs, "unaware", P.argmax(axis=1), P, code,
                    detail=f"dropped {', '.join(dropped)}; {len(feats)} features remain", seconds=time.perf_counter() - t0)
