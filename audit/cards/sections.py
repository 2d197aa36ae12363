"""Model card sections of Mitchell et al. (2019), built from a report's JSON dict.

Every accessor tolerates a missing or ``null`` section: the card must render for
a report with only models and performance as well as for a full audit, and for
reports written by older or newer versions of the tool.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from audit.cards.blocks import (
    Bar,
    BarChart,
    Block,
    Bullets,
    Facts,
    Heading,
    Paragraph,
    Section,
    StatusLine,
    as_text,
    ci,
    finite_or_none,
    num,
    pct,
    table,
)
from audit.cards.fairness import fairness_blocks, fairness_factors, fairness_findings, fairness_metric_names
from audit.cards.narrative import MODELCARD_FIELDS, Narrative
from audit.errors import AuditError

NOT_PROVIDED = "Not provided. Add it in the dashboard's model card form, or in the [modelcard] table of the CLI config."
METRIC_NOTES = {
    "accuracy": "share of correct predictions at the decision threshold",
    "balanced_accuracy": "mean of the true positive and true negative rates",
    "precision": "share of predicted positives that are positive",
    "recall": "share of actual positives that are predicted positive (true positive rate)",
    "f1": "harmonic mean of precision and recall",
    "roc_auc": "probability that a random positive is scored above a random negative (threshold-free)",
    "pr_auc": "average precision over all thresholds",
    "log_loss": "cross-entropy of the predicted probabilities (lower is better)",
    "brier": "mean squared error of the predicted probabilities (lower is better)",
    "ece": "expected calibration error: gap between predicted and observed rates (lower is better)",
    "mae": "mean absolute error (lower is better)",
    "rmse": "root mean squared error (lower is better)",
    "r2": "share of the target's variance explained",
}


def report_dict(report: Any) -> dict[str, Any]:
    """The report as its JSON dict: an :class:`~audit.report.AuditReport`, or a dict already."""
    if isinstance(report, Mapping):
        data = dict(report)
    elif hasattr(report, "to_dict"):
        data = report.to_dict()
    else:
        raise AuditError(f"expected an AuditReport or its JSON dict; found {type(report).__name__}")
    if not isinstance(data.get("manifest"), Mapping):
        raise AuditError("expected an audit report with a manifest; found none")
    return data


def g(d: Any, *path: Any, default: Any = None) -> Any:
    """``d[path[0]][path[1]]...``, or ``default`` when any step is missing or null."""
    for key in path:
        if isinstance(d, Mapping):
            d = d.get(key)
        elif isinstance(d, (list, tuple)) and isinstance(key, int) and -len(d) <= key < len(d):
            d = d[key]
        else:
            return default
        if d is None:
            return default
    return d


def verdict_block(section: Any) -> StatusLine:
    v = g(section, "verdict")
    if not isinstance(v, Mapping):
        return StatusLine("not run")
    return StatusLine(str(v.get("status", "not run")), tuple(str(r) for r in (v.get("reasons") or ())))


def not_run(name: str, report: Mapping[str, Any]) -> tuple[Block, ...]:
    """Why a section is missing, from the manifest's timings when they say."""
    why = ""
    for t in g(report, "manifest", "timings", default=()) or ():
        if isinstance(t, Mapping) and t.get("name") == name:
            why = f" ({t.get('status', '')}: {t.get('message', '')})".replace(": )", ")")
    return (StatusLine("not run"), Paragraph(f"The {name} audit was not run for this report{why}.", muted=True))


def narrative_items(items: tuple[str, ...], field: str) -> Block:
    if items:
        return Bullets(tuple(items))
    return Paragraph(f"{MODELCARD_FIELDS[field][0]}: {NOT_PROVIDED}", muted=True)


def model_details(r: Mapping[str, Any], n: Narrative, title: str, review: Mapping[str, Any] | None) -> Section:
    m, models = g(r, "manifest", default={}), g(r, "models", default={})
    task = g(m, "task", default=g(models, "task", default="unknown"))
    target = g(m, "target", default="?")
    pos = g(m, "positive_label")
    what = f"binary classification of {target!r}" + (f" (positive class {pos!r})" if pos is not None else "") if task == "binary" else f"{task} of {target!r}"
    scores = g(r, "scorecard", default={}) or {}
    statuses = [g(v, "status") for v in scores.values() if g(v, "status")]
    overall = max(statuses, key=["pass", "warn", "fail"].index) if statuses and all(s in ("pass", "warn", "fail") for s in statuses) else "n/a"
    pairs = [
        ("Model", title),
        ("Type", f"{g(models, 'selected_label', default='n/a')} ({what})"),
        ("Version", n.version or "not stated"),
        ("Audit date", str(g(m, "started_at", default="n/a"))),
        ("Owners", "; ".join(n.owners) or "not stated"),
        ("Licence", n.licence or "not stated"),
        ("Inputs", f"{len(g(models, 'features', default=g(m, 'features', default=())))} features "
                   f"({len(g(models, 'numeric_features', default=()))} numeric, {len(g(models, 'categorical_features', default=()))} categorical)"),
        ("Output", "probability of the positive class; predicted positive when it is at least "
                   f"{num(g(models, 'decision_threshold'))}" if task == "binary" else "a predicted value"),
        ("Overall audit status", overall),
        ("Review status", str(g(review, "status", default="not reviewed")).replace("_", " ")),
        ("Audit tool", f"rai-audit {g(m, 'tool_version', default='?')}, seed {g(m, 'seed', default='?')}, Python {g(m, 'python', default='?')}"),
    ]
    blocks: list[Block] = [Paragraph(n.overview) if n.overview else Paragraph(f"Overview: {NOT_PROVIDED}", muted=True), Facts(tuple(pairs))]
    board = g(models, "leaderboard", default=()) or ()
    if board:
        metric = g(models, "selection_metric", default="score")
        folds = int(g(models, "cv_folds", default=0) or 0)
        blocks.append(Heading("Training algorithm and model selection"))
        blocks.append(Paragraph(
            f"{len(board)} baseline models were fitted on the training split"
            + (f"; {folds}-fold cross-validation measured their stability" if folds >= 2 else "")
            + f", and the one with the best validation {metric} is audited. "
            "Numeric features are median-imputed (and standardised for linear models); categorical features are "
            "one-hot encoded, with categories rarer than 5 rows pooled."))
        rows = [(row.get("label", row.get("name", "?")), f"{num(row.get('cv_mean'))} ± {num(row.get('cv_std'))}" if folds >= 2 else "n/a",
                 num(row.get("val_score")), num(row.get("test_score")), "yes" if row.get("selected") else "")
                for row in board if isinstance(row, Mapping)]
        blocks.append(table(("Model", f"CV {metric}", f"Validation {metric}", f"Test {metric}", "Audited"), rows,
                            numeric=(False, True, True, True, False)))
    if n.references:
        blocks += [Heading("References"), Bullets(n.references)]
    return Section("model_details", "Model details", tuple(blocks))


def intended_use(r: Mapping[str, Any], n: Narrative) -> Section:
    name = g(r, "manifest", "dataset", "name", default="the audited data")
    return Section("intended_use", "Intended use", (
        Heading("Primary intended uses"), narrative_items(n.primary_uses, "primary_uses"),
        Heading("Primary intended users"), narrative_items(n.primary_users, "primary_users"),
        Heading("Out-of-scope uses"), narrative_items(n.out_of_scope_uses, "out_of_scope_uses"),
        Paragraph(f"The audit measured the model on held-out rows of {name}; its results say nothing about "
                  "people or settings that data does not represent."),
    ))


def factors(r: Mapping[str, Any], n: Narrative) -> Section:
    m = g(r, "manifest", default={})
    sens = tuple(g(m, "sensitive", default=()) or ())
    blocks: list[Block] = [Paragraph(
        "Groups: the audit disaggregates results by the sensitive attributes "
        + (", ".join(map(str, sens)) if sens else "(none named)")
        + (", one at a time and intersectionally." if len(sens) > 1 else "."))]
    # The fairness audit's representation tables (with base rates) supersede the bare group sizes.
    sizes = {} if g(r, "fairness", "representation") else g(m, "group_sizes", default={}) or {}
    min_group = int(g(m, "config", "data", "min_group_size", default=0) or 0)
    for col, groups in sizes.items():
        total = sum(groups.values()) or 1
        rows = [(grp, k, pct(k, total), "below the minimum group size: flagged, kept out of verdicts" if k < min_group else "")
                for grp, k in sorted(groups.items(), key=lambda kv: -kv[1])]
        blocks.append(table((str(col), "Rows", "Share", "Note"), rows, numeric=(False, True, True, False),
                            caption=f"Groups of {col} in the audited data"))
    blocks += fairness_factors(g(r, "fairness"))
    blocks.append(Heading("Other relevant factors"))
    blocks.append(Paragraph(n.factors) if n.factors else Paragraph(f"{MODELCARD_FIELDS['factors'][0]}: {NOT_PROVIDED}", muted=True))
    return Section("factors", "Factors", tuple(blocks))


def metrics(r: Mapping[str, Any]) -> Section:
    perf, models = g(r, "performance"), g(r, "models", default={})
    if perf is None:
        return Section("metrics", "Metrics", not_run("performance", r))
    names = list((g(perf, "metrics", default={}) or {}).keys())
    primary = g(perf, "primary_metric", default="?")
    blocks: list[Block] = [Paragraph(f"Model performance measures (primary: {primary}; model selection: "
                                     f"{g(models, 'selection_metric', default='?')}):"),
                           Bullets(tuple(f"{k}: {METRIC_NOTES.get(k, 'see the audit report')}" for k in names))]
    pairs = []
    if g(perf, "task") == "binary":
        pairs.append(("Decision threshold", f"{num(g(perf, 'decision_threshold'))} on the predicted probability"))
    pairs.append(("Uncertainty", f"{num(100 * (g(perf, 'confidence') or float('nan')), 0)}% percentile bootstrap intervals from "
                                 f"{num(g(perf, 'n_bootstrap'))} resamples of the {num(g(perf, 'n_test'))} test rows"))
    pairs.append(("Baseline", f"a dummy model scores {num(g(perf, 'baseline_primary'))} {primary} on the same rows"))
    blocks.append(Facts(tuple(pairs)))
    fm = fairness_metric_names(g(r, "fairness"))
    if fm:
        blocks += [Paragraph("Fairness measures, computed per group on the test split:"), Bullets(fm)]
    return Section("metrics", "Metrics", tuple(blocks))


def evaluation_data(r: Mapping[str, Any]) -> Section:
    m, models = g(r, "manifest", default={}), g(r, "models", default={})
    ds = g(m, "dataset", default={})
    pairs = [
        ("Dataset", f"{g(ds, 'name', default='?')} (sha256 {g(ds, 'sha256', default='?')})"),
        ("Test split", f"{num(g(models, 'n_test'))} rows held out from training and model selection"),
        ("Validation split", f"{num(g(models, 'n_val'))} rows, used to select the audited model"),
        ("Split", "random" + (", stratified by the label" if g(m, "task") == "binary" else "") + f", seed {g(m, 'seed', default='?')}"),
    ]
    cur = g(m, "current_dataset")
    if cur:
        pairs.append(("Data in use (drift)", f"{g(cur, 'name', default='?')}, {num(g(cur, 'rows'))} rows (sha256 {g(cur, 'sha256', default='?')})"))
    return Section("evaluation_data", "Evaluation data", (
        Facts(tuple(pairs)),
        Paragraph("The evaluation rows come from the same file as the training rows, so they share its population, "
                  "time period and collection process; see the datasheet."),
    ))


def training_data(r: Mapping[str, Any]) -> Section:
    m, models = g(r, "manifest", default={}), g(r, "models", default={})
    pairs = [
        ("Training split", f"{num(g(models, 'n_train'))} rows of {num(g(m, 'rows_used'))} used"
                           + (" (a seeded sample of the file)" if g(m, "sampled") else "")),
        ("Numeric features", ", ".join(map(str, g(models, "numeric_features", default=()))) or "none"),
        ("Categorical features", ", ".join(map(str, g(models, "categorical_features", default=()))) or "none"),
        ("Sensitive attributes", ", ".join(map(str, g(m, "sensitive", default=()))) or "none"),
        ("Sensitive attributes are model inputs", "yes" if g(m, "config", "data", "sensitive_as_features", default=True) else "no"),
    ]
    blocks: list[Block] = [Facts(tuple(pairs))]
    excluded = g(m, "excluded", default={}) or {}
    if excluded:
        blocks.append(table(("Excluded column", "Reason"), sorted(excluded.items(), key=lambda kv: str(kv[0])),
                            caption="Columns not given to the model"))
    return Section("training_data", "Training data", tuple(blocks))


def quantitative(r: Mapping[str, Any]) -> Section:
    perf = g(r, "performance")
    blocks: list[Block] = [Heading("Unitary results")]
    if perf is None:
        blocks += list(not_run("performance", r))
    else:
        blocks.append(verdict_block(perf))
        mets = g(perf, "metrics", default={}) or {}
        conf = num(100 * (g(perf, "confidence") or float("nan")), 0)
        blocks.append(table(("Metric", "Test", f"{conf}% CI", "Train"),
                            [(k, num(g(v, "value")), ci(g(v, "ci_low"), g(v, "ci_high")), num(g(v, "train"))) for k, v in mets.items()],
                            numeric=(False, True, True, True), caption=f"On the {num(g(perf, 'n_test'))} test rows"))
        bounded = [(k, v) for k, v in mets.items() if k in ("accuracy", "balanced_accuracy", "precision", "recall", "f1", "roc_auc", "pr_auc", "r2")]
        if bounded:
            blocks.append(BarChart(f"Test metrics with {conf}% confidence intervals",
                                   tuple(Bar(k, finite_or_none(g(v, "value")) or 0.0, finite_or_none(g(v, "ci_low")), finite_or_none(g(v, "ci_high"))) for k, v in bounded)))
        cm = g(perf, "confusion_matrix", default=()) or ()
        if len(cm) == 2 and all(len(row) == 2 for row in cm):
            (tn, fp), (fn, tp) = cm
            blocks.append(table(("", "Predicted negative", "Predicted positive"),
                                [("Actual negative", tn, fp), ("Actual positive", fn, tp)], numeric=(False, True, True),
                                caption=f"Confusion matrix at threshold {num(g(perf, 'decision_threshold'))}"))
    blocks.append(Heading("Disaggregated and intersectional results"))
    blocks += fairness_blocks(g(r, "fairness")) if g(r, "fairness") is not None else list(not_run("fairness", r))
    return Section("quantitative_analyses", "Quantitative analyses", tuple(blocks))


def ethics_findings(r: Mapping[str, Any]) -> tuple[str, ...]:
    """Ethical risks the audit itself found (the narrative adds the authors' own)."""
    m = g(r, "manifest", default={})
    found = []
    sens = ", ".join(map(str, g(m, "sensitive", default=()))) or "none"
    if g(m, "config", "data", "sensitive_as_features", default=True):
        found.append(f"The sensitive attributes ({sens}) are model inputs: predictions may depend on them directly.")
    for area in ("fairness", "privacy"):
        v = g(r, "scorecard", area)
        if v and v.get("status") in ("warn", "fail"):
            found += [f"{area.capitalize()} ({v['status']}): {reason}" for reason in v.get("reasons") or ()]
        elif g(r, area) is None:
            found.append(f"The {area} audit was not run: its risks are unmeasured.")
    found += fairness_findings(g(r, "fairness"))
    pii = [f"{c}: {why}" for c, why in (g(m, "excluded", default={}) or {}).items() if "personal" in str(why)]
    if pii:
        found.append("Personal identifiers found and excluded from the features: " + "; ".join(pii))
    return tuple(found)


def ethical(r: Mapping[str, Any], n: Narrative) -> Section:
    found = ethics_findings(r)
    return Section("ethical_considerations", "Ethical considerations", (
        narrative_items(n.ethical_considerations, "ethical_considerations"), Heading("From the audit"),
        Bullets(found) if found else Paragraph("The audit raised no fairness or privacy warning.")))


def caveat_findings(r: Mapping[str, Any]) -> tuple[str, ...]:
    """Limitations the audit itself found: data warnings, warnings of the technical areas, gaps."""
    m = g(r, "manifest", default={})
    found = [str(w) for w in g(m, "warnings", default=()) or ()]
    for area, v in (g(r, "scorecard", default={}) or {}).items():
        if area in ("performance", "robustness", "drift", "explanations") and g(v, "status") in ("warn", "fail"):
            found += [f"{area.capitalize()} ({v['status']}): {reason}" for reason in v.get("reasons") or ()]
    skipped = [t.get("name") for t in g(m, "timings", default=()) or () if isinstance(t, Mapping) and t.get("status") != "done"]
    if skipped:
        found.append("Not audited: " + ", ".join(map(str, skipped)) + ".")
    if g(m, "sampled"):
        found.append(f"The audit used a seeded sample of {num(g(m, 'rows_used'))} of {num(g(m, 'dataset', 'rows'))} rows.")
    return tuple(found)


def caveats(r: Mapping[str, Any], n: Narrative) -> Section:
    found = caveat_findings(r)
    return Section("caveats", "Caveats and recommendations", (
        Heading("Caveats"), narrative_items(n.caveats, "caveats"),
        Heading("Recommendations"), narrative_items(n.recommendations, "recommendations"),
        Heading("From the audit"),
        Bullets(found) if found else Paragraph("The audit raised no further caveat.")))


def scorecard(r: Mapping[str, Any]) -> Section:
    scores = g(r, "scorecard", default={}) or {}
    areas = ("data", "performance", "fairness", "explanations", "robustness", "drift", "privacy")
    rows = []
    for area in list(areas) + [a for a in scores if a not in areas]:
        v = scores.get(area)
        reasons = "; ".join(map(str, g(v, "reasons", default=()) or ())) if v else "the section was not run"
        rows.append((area, str(g(v, "status", default="not run")), reasons))
    return Section("scorecard", "Audit scorecard", (table(("Area", "Verdict", "Reasons"), rows),))


def review_section(review: Mapping[str, Any] | None) -> Section:
    if not review:
        return Section("review", "Review and sign-off", (
            StatusLine("not reviewed"),
            Paragraph("No review is recorded: this card was exported outside the review workflow, "
                      "or before anyone reviewed the audit.", muted=True)))
    status = str(review.get("status", "unknown"))
    blocks: list[Block] = [Facts((("Status", status.replace("_", " ")), ("Audit", f"#{review.get('audit_id', '?')}, run {review.get('run', '?')}"),
                                  ("Author", as_text(review.get("author")))))]
    decisions = [d for d in review.get("decisions") or () if isinstance(d, Mapping)]
    signed = [d for d in decisions if d.get("outcome") == "approved"]
    blocks.append(Heading("Sign-offs"))
    blocks.append(Bullets(tuple(f"Approved by {as_text(d.get('reviewer'))} on {str(d.get('date', '?'))[:10]} (run {d.get('run', '?')})" for d in signed))
                  if signed else Paragraph("No reviewer has approved this audit yet.", muted=True))
    if decisions:
        blocks.append(table(("Reviewer", "Decision", "Run", "Date", "Note"),
                            [(as_text(d.get("reviewer")), str(d.get("outcome", "?")).replace("_", " "), as_text(d.get("run")),
                              str(d.get("date", "?"))[:19], as_text(d.get("note") or "")) for d in decisions],
                            caption="Decisions, oldest first"))
    comments = [c for c in review.get("open_comments") or () if isinstance(c, Mapping)]
    blocks.append(Heading(f"Open comments ({len(comments)})"))
    if comments:
        blocks.append(table(("Author", "Section", "Date", "Comment"),
                            [(as_text(c.get("author")), as_text(c.get("section") or "general"), str(c.get("date", "?"))[:10], as_text(c.get("body"))) for c in comments]))
    else:
        blocks.append(Paragraph("None."))
    return Section("review", "Review and sign-off", tuple(blocks))

