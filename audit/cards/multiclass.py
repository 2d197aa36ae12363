"""Per-class views of a multiclass audit for the model card and its Model Card Toolkit JSON.

A multiclass report carries per-class numbers beside the overall ones (performance per
class, fairness one-vs-rest per class, SHAP importance per class); the card shows them as
tables with one row per class, and the MCT export lists them as metrics sliced by class.
"""

from __future__ import annotations

from audit.cards.blocks import Block, Heading, Paragraph, ci, finite_or_none, num, table
from audit.report import AuditReport

_TOP_FEATURES = 3


def is_multiclass(r: AuditReport) -> bool:
    return r.manifest.task == "multiclass"


def task_description(r: AuditReport) -> str:
    """``multiclass classification of 'y' (3 classes: a, b, c)``."""
    classes = r.models.classes if r.models is not None and r.models.classes else tuple(r.manifest.label_counts)
    shown = ", ".join(map(str, classes[:12])) + (" ..." if len(classes) > 12 else "")
    return f"multiclass classification of {r.manifest.target!r} ({len(classes)} classes: {shown})"


OUTPUT = "a probability for each class; the predicted class is the most probable one"

# What the overall metrics of a multiclass report mean (they share names with the binary ones).
METRIC_NOTES = {
    "accuracy": "share of rows whose predicted (most probable) class is right",
    "balanced_accuracy": "mean recall over the classes",
    "precision_macro": "precision of each class, averaged with equal weight",
    "recall_macro": "recall of each class, averaged with equal weight",
    "f1_macro": "F1 of each class, averaged with equal weight",
    "precision_weighted": "precision of each class, averaged weighted by its test rows",
    "recall_weighted": "recall of each class, averaged weighted by its test rows",
    "f1_weighted": "F1 of each class, averaged weighted by its test rows",
    "roc_auc": "one-vs-rest ROC AUC of each class, averaged with equal weight (threshold-free)",
    "log_loss": "cross-entropy of the probability given to the true class (lower is better)",
    "brier": "squared error of the probability vector against the true class, summed over classes (lower is better)",
    "ece": "top-label calibration error: gap between the predicted class's probability and how often it is right",
}


def performance_blocks(r: AuditReport) -> list[Block]:
    """Per-class precision / recall / F1 / one-vs-rest ROC AUC with intervals, and the k x k confusion matrix."""
    perf = r.performance
    if perf is None or not perf.classes:
        return []
    conf = num(100 * perf.confidence, 0)
    rows = []
    for lab in perf.classes:
        m = perf.per_class.get(lab, {})
        cells = [f"{num(m[k].value)} {ci(m[k].low, m[k].high)}" if k in m else "n/a" for k in ("precision", "recall", "f1", "roc_auc")]
        rows.append((lab, num(perf.class_support.get(lab)), *cells))
    out: list[Block] = [table(("Class", "Test rows", "Precision", "Recall", "F1", "ROC AUC (one-vs-rest)"), rows,
                              numeric=(False, True, True, True, True, True), caption=f"Per class, with {conf}% bootstrap intervals")]
    cm = perf.confusion_matrix
    if len(cm) == len(perf.classes):
        out.append(table(("Actual class", *perf.classes), [(lab, *map(num, row)) for lab, row in zip(perf.classes, cm)],
                         numeric=(False, *([True] * len(perf.classes))), caption="Confusion matrix (test rows; the predicted class is the most probable)"))
    out.append(Paragraph("Calibration is of the top label: the expected calibration error compares the predicted class's "
                         "probability with how often the predicted class is right."))
    return out


def fairness_blocks(r: AuditReport) -> list[Block]:
    """Disparities of every class, one-vs-rest, per grouping key, and accuracy per group."""
    fair = r.fairness
    if fair is None or not fair.per_class:
        return []
    rows = []
    for lab, c in fair.per_class.items():
        for key, d in c.disparities_adequate.items():
            dp, eo = d.get("demographic_parity_difference"), d.get("equalized_odds_difference")
            rows.append((lab + (" (worst)" if lab == fair.worst_class else ""), key,
                         f"{num(dp.value)} {ci(dp.low, dp.high)}" if dp else "n/a",
                         f"{num(eo.value)} {ci(eo.low, eo.high)}" if eo else "n/a", str(c.verdict.status)))
    out: list[Block] = [
        Heading("Per-class fairness (one-vs-rest)"),
        Paragraph(f"Each class is audited as 'predicted this class or not'; the group tables above are for the worst class, "
                  f"{fair.worst_class!r}. fairlearn's mitigations support binary targets only and were not run."),
        table(("Class", "Groups", "Demographic parity difference", "Equalized odds difference", "Verdict"), rows,
              numeric=(False, False, True, True, False), caption="Adequately sized groups only"),
    ]
    acc_rows = [(key, g.group, num(g.count), f"{num(g.metrics['accuracy'].value)} {ci(g.metrics['accuracy'].low, g.metrics['accuracy'].high)}")
                for key, groups in fair.group_accuracy.items() for g in groups]
    if acc_rows:
        out.append(table(("Groups", "Group", "Test rows", "Accuracy"), acc_rows, numeric=(False, False, True, True),
                         caption="Multiclass accuracy per group"))
    return out


def explanation_blocks(r: AuditReport) -> list[Block]:
    """The features that move each class's output most (mean |SHAP| per class)."""
    ex = r.explanations
    if ex is None or not ex.per_class:
        return []
    rows = [(lab, ", ".join(f"{fi.feature} ({num(fi.mean_abs_shap)})" for fi in c.importance[:_TOP_FEATURES]), num(c.max_abs_error, 2))
            for lab, c in ex.per_class.items()]
    return [Heading("Per-class explanations"),
            Paragraph("Global importance is summed over classes; per class, the top features by mean |SHAP| "
                      f"of that class's {ex.output_space} output:"),
            table(("Class", f"Top {_TOP_FEATURES} features (mean |SHAP|)", "Additivity error"), rows, numeric=(False, False, True))]


def metric_entries(r: AuditReport) -> list[tuple[str, float | None, float | None, float | None, str]]:
    """(metric, value, ci_low, ci_high, slice) per class, for the MCT JSON."""
    perf, fair = r.performance, r.fairness
    out = []
    if perf is not None:
        out += [(m, finite_or_none(v.value), finite_or_none(v.low), finite_or_none(v.high), f"class = {lab}")
                for lab, ms in perf.per_class.items() for m, v in ms.items()]
    if fair is not None:
        out += [(m, finite_or_none(v.value), finite_or_none(v.low), finite_or_none(v.high), f"class = {lab}, {key} (adequate groups)")
                for lab, c in fair.per_class.items() for key, d in c.disparities_adequate.items() for m, v in d.items()]
    return out
