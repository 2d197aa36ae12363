"""Model card sections of Mitchell et al. (2019), built from the typed audit report.

Sections that were not run are ``None`` in the report and are shown as "not run": the
card renders for a report with only models and performance as well as for a full audit.
A report's JSON dict is converted to :class:`~audit.report.AuditReport` once, by
:func:`as_report`; everything below reads its attributes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from audit.cards import multiclass as mcc
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
from audit.cards.review import Review, review_status
from audit.errors import AuditError
from audit.models.baselines import ModelsReport
from audit.report import AuditReport
from audit.sections import registry

_ORDER = ("pass", "warn", "fail")
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


def as_report(report: Any) -> AuditReport:
    """The typed report: an :class:`~audit.report.AuditReport`, or its JSON dict converted once, here."""
    if isinstance(report, AuditReport):
        return report
    if not isinstance(report, Mapping):
        raise AuditError(f"expected an AuditReport or its JSON dict; found {type(report).__name__}")
    if not isinstance(report.get("manifest"), Mapping):
        raise AuditError("expected an audit report with a manifest; found none")
    return AuditReport.from_dict(report)


def verdict_block(section: Any) -> StatusLine:
    if section is None:
        return StatusLine("not run")
    return StatusLine(str(section.verdict.status), tuple(map(str, section.verdict.reasons)))


def not_run(name: str, report: AuditReport) -> tuple[Block, ...]:
    """Why a section is missing, from the manifest's timings when they say."""
    why = ""
    for t in report.manifest.timings:
        if t.name == name:
            why = f" ({t.status}: {t.message})".replace(": )", ")")
    return (StatusLine("not run"), Paragraph(f"The {name} audit was not run for this report{why}.", muted=True))


def narrative_items(items: tuple[str, ...], field: str) -> Block:
    if items:
        return Bullets(tuple(items))
    return Paragraph(f"{MODELCARD_FIELDS[field][0]}: {NOT_PROVIDED}", muted=True)


def _overall(r: AuditReport) -> str:
    statuses = [v.status for v in r.scorecard.values() if v.status]
    return max(statuses, key=_ORDER.index) if statuses and all(s in _ORDER for s in statuses) else "n/a"


def model_details(r: AuditReport, n: Narrative, title: str, review: Review | None) -> Section:
    m, models = r.manifest, r.models
    task, target, pos = m.task, m.target, m.positive_label
    what = f"binary classification of {target!r}" + (f" (positive class {pos!r})" if pos is not None else "") if task == "binary" else f"{task} of {target!r}"
    if task == "multiclass":
        what = mcc.task_description(r)
    pairs = [
        ("Model", title),
        ("Type", f"{models.selected_label if models else 'n/a'} ({what})"),
        ("Version", n.version or "not stated"),
        ("Audit date", str(m.started_at)),
        ("Owners", "; ".join(n.owners) or "not stated"),
        ("Licence", n.licence or "not stated"),
        ("Inputs", f"{len(models.features if models else m.features)} features "
                   f"({len(models.numeric_features) if models else 0} numeric, {len(models.categorical_features) if models else 0} categorical)"),
        ("Output", "probability of the positive class; predicted positive when it is at least "
                   f"{num(models.decision_threshold if models else None)}" if task == "binary"
                   else mcc.OUTPUT if task == "multiclass" else "a predicted value"),
        ("Overall audit status", _overall(r)),
        ("Review status", review_status(review).replace("_", " ")),
        ("Audit tool", f"rai-audit {m.tool_version}, seed {m.seed}, Python {m.python}"),
    ]
    user = models.user_model if models is not None else None
    if user is not None:
        pairs[6:8] = _user_model_pairs(user, task)
    blocks: list[Block] = [Paragraph(n.overview) if n.overview else Paragraph(f"Overview: {NOT_PROVIDED}", muted=True), Facts(tuple(pairs))]
    if models is not None and models.leaderboard:
        blocks += _leaderboard(models)
    if n.references:
        blocks += [Heading("References"), Bullets(n.references)]
    return Section("model_details", "Model details", tuple(blocks))


def _user_model_pairs(u, task: str) -> list[tuple[str, str]]:
    """The user's own model in "Model details": what it is, where it came from, its inputs and outputs."""
    fmt = {"onnx": "ONNX graph run with onnxruntime", "skops": "scikit-learn estimator from a skops file",
           "predictions": "predictions supplied in a column of the data (no callable model)"}.get(u.kind, u.kind)
    if u.threshold is not None:
        out = f"a score on its own scale; predicted positive when it is at least {num(u.threshold)}"
    else:
        out = "probability of the positive class; predicted positive when it is at least 0.5" if task == "binary" else "a predicted value"
    pairs = [("Format", fmt), ("Producer", u.producer)]
    if u.file_name:
        pairs.append(("File", f"{u.file_name}, sha256 {u.sha256}"))
    pairs += [("Model inputs", "; ".join(u.inputs) or "n/a"), ("Model outputs", "; ".join(u.outputs) or "n/a"), ("Output", out),
              ("Evaluated on", f"{u.evaluated_rows} rows ({'every row of the table' if u.evaluate_on == 'all' else 'the test split'})")]
    return pairs


def _leaderboard(models: ModelsReport) -> list[Block]:
    board, metric, folds = models.leaderboard, models.selection_metric, int(models.cv_folds or 0)
    rows = [(row.label, f"{num(row.cv_mean)} ± {num(row.cv_std)}" if folds >= 2 else "n/a",
             num(row.val_score), num(row.test_score), "yes" if row.selected else "") for row in board]
    return [
        Heading("Training algorithm and model selection"),
        Paragraph((f"The audited model is the user's own ({models.selected_label}); {len(board) - 1} baseline models were fitted on "
                   f"the training split as references and all are scored on the same validation and test splits. "
                   if models.user_model is not None else
                   f"{len(board)} baseline models were fitted on the training split"
                   + (f"; {folds}-fold cross-validation measured their stability" if folds >= 2 else "")
                   + (f" (on a seeded sample of {models.cv_rows:,} of the {models.n_train:,} training rows)"
                      if 0 < models.cv_rows < models.n_train else "")
                   + f", and the one with the best validation {metric} is audited. ")
                  + "Numeric features are median-imputed (and standardised for linear models); categorical features are "
                  "one-hot encoded, with categories rarer than 5 rows pooled."),
        table(("Model", f"CV {metric}", f"Validation {metric}", f"Test {metric}", "Audited"), rows,
              numeric=(False, True, True, True, False)),
    ]


def intended_use(r: AuditReport, n: Narrative) -> Section:
    name = r.manifest.dataset.name
    return Section("intended_use", "Intended use", (
        Heading("Primary intended uses"), narrative_items(n.primary_uses, "primary_uses"),
        Heading("Primary intended users"), narrative_items(n.primary_users, "primary_users"),
        Heading("Out-of-scope uses"), narrative_items(n.out_of_scope_uses, "out_of_scope_uses"),
        Paragraph(f"The audit measured the model on held-out rows of {name}; its results say nothing about "
                  "people or settings that data does not represent."),
    ))


def factors(r: AuditReport, n: Narrative) -> Section:
    m = r.manifest
    sens = tuple(m.sensitive)
    blocks: list[Block] = [Paragraph(
        "Groups: the audit disaggregates results by the sensitive attributes "
        + (", ".join(map(str, sens)) if sens else "(none named)")
        + (", one at a time and intersectionally." if len(sens) > 1 else "."))]
    # The fairness audit's representation tables (with base rates) supersede the bare group sizes.
    sizes = {} if r.fairness is not None and r.fairness.representation else m.group_sizes
    min_group = int(m.data_options.min_group_size or 0)
    for col, groups in sizes.items():
        total = sum(groups.values()) or 1
        rows = [(grp, k, pct(k, total), "below the minimum group size: flagged, kept out of verdicts" if k < min_group else "")
                for grp, k in sorted(groups.items(), key=lambda kv: -kv[1])]
        blocks.append(table((str(col), "Rows", "Share", "Note"), rows, numeric=(False, True, True, False),
                            caption=f"Groups of {col} in the audited data"))
    blocks += fairness_factors(r.fairness)
    blocks.append(Heading("Other relevant factors"))
    blocks.append(Paragraph(n.factors) if n.factors else Paragraph(f"{MODELCARD_FIELDS['factors'][0]}: {NOT_PROVIDED}", muted=True))
    return Section("factors", "Factors", tuple(blocks))


def _percent(confidence: float) -> str:
    return num(100 * (confidence or float("nan")), 0)


def metrics(r: AuditReport) -> Section:
    perf, models = r.performance, r.models
    if perf is None:
        return Section("metrics", "Metrics", not_run("performance", r))
    primary = perf.primary_metric
    notes = {**METRIC_NOTES, **mcc.METRIC_NOTES} if perf.task == "multiclass" else METRIC_NOTES
    blocks: list[Block] = [Paragraph(f"Model performance measures (primary: {primary}; model selection: "
                                     f"{models.selection_metric if models else '?'}):"),
                           Bullets(tuple(f"{k}: {notes.get(k, 'see the audit report')}" for k in perf.metrics))]
    pairs = []
    if perf.task == "binary":
        pairs.append(("Decision threshold", f"{num(perf.decision_threshold)} on the predicted probability"))
    pairs.append(("Uncertainty", f"{_percent(perf.confidence)}% percentile bootstrap intervals from "
                                 f"{num(perf.n_bootstrap)} resamples of the {num(perf.n_test)} test rows"))
    pairs.append(("Baseline", f"a dummy model scores {num(perf.baseline_primary)} {primary} on the same rows"))
    blocks.append(Facts(tuple(pairs)))
    fm = fairness_metric_names(r.fairness)
    if fm:
        blocks += [Paragraph("Fairness measures, computed per group on the test split:"), Bullets(fm)]
    return Section("metrics", "Metrics", tuple(blocks))


def evaluation_data(r: AuditReport) -> Section:
    m, models = r.manifest, r.models
    ds = m.dataset
    pairs = [
        ("Dataset", f"{ds.name} (sha256 {ds.sha256})"),
        ("Test split", f"{num(models.n_test if models else None)} rows held out from training and model selection"),
        ("Validation split", f"{num(models.n_val if models else None)} rows, used to select the audited model"),
        ("Split", "random" + (", stratified by the label" if m.task != "regression" else "") + f", seed {m.seed}"),
    ]
    cur = m.current_dataset
    if cur is not None:
        pairs.append(("Data in use (drift)", f"{cur.name}, {num(cur.rows)} rows (sha256 {cur.sha256})"))
    return Section("evaluation_data", "Evaluation data", (
        Facts(tuple(pairs)),
        Paragraph("The evaluation rows come from the same file as the training rows, so they share its population, "
                  "time period and collection process; see the datasheet."),
    ))


def training_data(r: AuditReport) -> Section:
    m, models = r.manifest, r.models
    pairs = [
        ("Training split", f"{num(models.n_train if models else None)} rows of {num(m.rows_used)} used"
                           + (" (a seeded sample of the file)" if m.sampled else "")),
        ("Numeric features", ", ".join(map(str, models.numeric_features if models else ())) or "none"),
        ("Categorical features", ", ".join(map(str, models.categorical_features if models else ())) or "none"),
        ("Sensitive attributes", ", ".join(map(str, m.sensitive)) or "none"),
        ("Sensitive attributes are model inputs", "yes" if m.data_options.sensitive_as_features else "no"),
    ]
    blocks: list[Block] = [Facts(tuple(pairs))]
    if m.excluded:
        blocks.append(table(("Excluded column", "Reason"), sorted(m.excluded.items(), key=lambda kv: str(kv[0])),
                            caption="Columns not given to the model"))
    return Section("training_data", "Training data", tuple(blocks))


_BOUNDED = ("accuracy", "balanced_accuracy", "precision", "recall", "f1", "roc_auc", "pr_auc", "r2")


def quantitative(r: AuditReport) -> Section:
    perf = r.performance
    blocks: list[Block] = [Heading("Unitary results")]
    if perf is None:
        blocks += list(not_run("performance", r))
    else:
        blocks.append(verdict_block(perf))
        mets, conf = perf.metrics, _percent(perf.confidence)
        blocks.append(table(("Metric", "Test", f"{conf}% CI", "Train"),
                            [(k, num(v.value), ci(v.low, v.high), num(perf.train_metrics.get(k))) for k, v in mets.items()],
                            numeric=(False, True, True, True), caption=f"On the {num(perf.n_test)} test rows"))
        bounded = [(k, v) for k, v in mets.items() if k in _BOUNDED]
        if bounded:
            blocks.append(BarChart(f"Test metrics with {conf}% confidence intervals",
                                   tuple(Bar(k, finite_or_none(v.value) or 0.0, finite_or_none(v.low), finite_or_none(v.high)) for k, v in bounded)))
        cm = perf.confusion_matrix
        if len(cm) == 2 and all(len(row) == 2 for row in cm):
            (tn, fp), (fn, tp) = cm
            blocks.append(table(("", "Predicted negative", "Predicted positive"),
                                [("Actual negative", tn, fp), ("Actual positive", fn, tp)], numeric=(False, True, True),
                                caption=f"Confusion matrix at threshold {num(perf.decision_threshold)}"))
        blocks += mcc.performance_blocks(r)
    blocks.append(Heading("Disaggregated and intersectional results"))
    blocks += fairness_blocks(r.fairness) if r.fairness is not None else list(not_run("fairness", r))
    blocks += mcc.fairness_blocks(r) + mcc.explanation_blocks(r)
    return Section("quantitative_analyses", "Quantitative analyses", tuple(blocks))


def ethics_findings(r: AuditReport) -> tuple[str, ...]:
    """Ethical risks the audit itself found (the narrative adds the authors' own)."""
    m = r.manifest
    found = []
    sens = ", ".join(map(str, m.sensitive)) or "none"
    if m.data_options.sensitive_as_features:
        found.append(f"The sensitive attributes ({sens}) are model inputs: predictions may depend on them directly.")
    for area in ("fairness", "privacy"):
        v = r.scorecard.get(area)
        if v is not None and v.status in ("warn", "fail"):
            found += [f"{area.capitalize()} ({v.status}): {reason}" for reason in v.reasons]
        elif getattr(r, area) is None:
            found.append(f"The {area} audit was not run: its risks are unmeasured.")
    found += fairness_findings(r.fairness)
    pii = [f"{c}: {why}" for c, why in m.excluded.items() if "personal" in str(why)]
    if pii:
        found.append("Personal identifiers found and excluded from the features: " + "; ".join(pii))
    return tuple(found)


def ethical(r: AuditReport, n: Narrative) -> Section:
    found = ethics_findings(r)
    return Section("ethical_considerations", "Ethical considerations", (
        narrative_items(n.ethical_considerations, "ethical_considerations"), Heading("From the audit"),
        Bullets(found) if found else Paragraph("The audit raised no fairness or privacy warning.")))


def caveat_findings(r: AuditReport) -> tuple[str, ...]:
    """Limitations the audit itself found: data warnings, warnings of the technical areas, gaps."""
    m = r.manifest
    found = [str(w) for w in m.warnings]
    for area, v in r.scorecard.items():
        if area in ("performance", "robustness", "drift", "explanations") and v.status in ("warn", "fail"):
            found += [f"{area.capitalize()} ({v.status}): {reason}" for reason in v.reasons]
    skipped = [t.name for t in m.timings if t.status != "done"]
    if skipped:
        found.append("Not audited: " + ", ".join(map(str, skipped)) + ".")
    if m.sampled:
        found.append(f"The audit used a seeded sample of {num(m.rows_used)} of {num(m.dataset.rows)} rows.")
    return tuple(found)


def caveats(r: AuditReport, n: Narrative) -> Section:
    found = caveat_findings(r)
    return Section("caveats", "Caveats and recommendations", (
        Heading("Caveats"), narrative_items(n.caveats, "caveats"),
        Heading("Recommendations"), narrative_items(n.recommendations, "recommendations"),
        Heading("From the audit"),
        Bullets(found) if found else Paragraph("The audit raised no further caveat.")))


def scorecard(r: AuditReport) -> Section:
    scores = r.scorecard
    areas = registry.active().scorecard_areas
    missing = r.missing()
    rows = []
    for area in list(areas) + [a for a in scores if a not in areas]:
        v = scores.get(area)
        if v is not None:
            rows.append((area, str(v.status), "; ".join(map(str, v.reasons))))
        else:
            status, why = missing.get(area, ("not run", "the section was not run"))
            rows.append((area, status, why))
    return Section("scorecard", "Audit scorecard", (table(("Area", "Verdict", "Reasons"), rows),))


def review_section(review: Review | None) -> Section:
    if review is None:
        return Section("review", "Review and sign-off", (
            StatusLine("not reviewed"),
            Paragraph("No review is recorded: this card was exported outside the review workflow, "
                      "or before anyone reviewed the audit.", muted=True)))
    status = "unknown" if review.status is None else str(review.status)
    blocks: list[Block] = [Facts((("Status", status.replace("_", " ")),
                                  ("Audit", f"#{_or_unknown(review.audit_id)}, run {_or_unknown(review.run)}"),
                                  ("Author", as_text(review.author))))]
    signed, decisions = review.approvals, review.decisions
    blocks.append(Heading("Sign-offs"))
    blocks.append(Bullets(tuple(f"Approved by {as_text(d.reviewer)} on {d.date[:10]} (run {_or_unknown(d.run)})" for d in signed))
                  if signed else Paragraph("No reviewer has approved this audit yet.", muted=True))
    if decisions:
        blocks.append(table(("Reviewer", "Decision", "Run", "Date", "Note"),
                            [(as_text(d.reviewer), d.outcome.replace("_", " "), as_text(d.run), d.date[:19], as_text(d.note or ""))
                             for d in decisions],
                            caption="Decisions, oldest first"))
    comments = review.open_comments
    blocks.append(Heading(f"Open comments ({len(comments)})"))
    if comments:
        blocks.append(table(("Author", "Section", "Date", "Comment"),
                            [(as_text(c.author), as_text(c.section or "general"), c.date[:10], as_text(c.body)) for c in comments]))
    else:
        blocks.append(Paragraph("None."))
    return Section("review", "Review and sign-off", tuple(blocks))


def _or_unknown(v: Any) -> Any:
    return "?" if v is None else v
