"""Model cards (Mitchell et al., 2019) and datasheets from an audit report.

``build_model_card`` turns a report (plus the human-written :class:`Narrative`
and the store's review summary) into a :class:`ModelCard`: plain sections of
plain-text blocks. ``render_markdown`` / ``render_html`` / ``render_pdf`` draw any
such document (a :class:`~audit.cards.datasheet.Datasheet` too), escaping every string
for their format; ``to_model_card_toolkit`` maps the card onto the Model Card
Toolkit JSON schema v0.0.2; ``export_files`` writes the chosen formats.

The card is dated with the audit's start time, not the export time, so the same
report always gives byte-identical files.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from audit.cards import sections as cs
from audit.cards.blocks import Document, finite_or_none, num, render_markdown_document
from audit.cards.extras import extra_section, privacy_tradeoffs
from audit.cards.fairness import fairness_metric_entries, fairness_tradeoffs
from audit.cards.multiclass import metric_entries as mc_metric_entries
from audit.cards.review import Review, review_status
from audit.cards.narrative import DATASHEET_FIELDS, MODELCARD_FIELDS, DatasheetNarrative, Narrative, load_narrative, narrative_of
from audit.cards.datasheet import Datasheet, csv_safe, datasheet, datasheet_csv
from audit.errors import AuditError, ConfigError
from audit.report import AuditReport
from audit.sections import registry
from audit.sections.performance import PerformanceReport

FORMATS = ("md", "html", "pdf", "json")
# The card's sections for the built-in sections: the body, one appendix per registered
# section that has one (registry order), then the scorecard and the sign-off.
SECTION_TITLES = (
    "Model details", "Intended use", "Factors", "Metrics", "Evaluation data", "Training data",
    "Quantitative analyses", "Ethical considerations", "Caveats and recommendations",
    *(s.title for s in registry.BUILTIN if s.card_appendix), "Audit scorecard", "Review and sign-off",
)


@dataclass(frozen=True)
class CardMetric:
    """One number of the quantitative analysis; ``slice`` is empty for the whole test split."""

    name: str
    value: float | None
    ci_low: float | None = None
    ci_high: float | None = None
    slice: str = ""


@dataclass(frozen=True)
class ModelCard(Document):
    """A model card: the rendered sections plus the structured facts the Model Card Toolkit export needs."""

    model_name: str = ""
    date: str = ""
    task: str = ""
    architecture: str = ""
    narrative: Narrative = field(default_factory=Narrative)
    metrics: tuple[CardMetric, ...] = ()
    datasets: tuple[tuple[str, str, tuple[str, ...]], ...] = ()  # (name, description, sensitive columns)
    limitations: tuple[str, ...] = ()
    risks: tuple[str, ...] = ()
    tradeoffs: tuple[str, ...] = ()
    scorecard: tuple[tuple[str, str], ...] = ()  # (area, status)
    review_status: str = "not reviewed"
    signoffs: tuple[str, ...] = ()  # "reviewer (date, run N)" of each approval


def build_model_card(report: Any, *, narrative: Narrative | None = None, review: Review | Mapping[str, Any] | None = None) -> ModelCard:
    """Assemble the model card of an audit.

    Parameters
    ----------
    report : AuditReport, or its ``to_dict()`` JSON dict (converted once with ``AuditReport.from_dict``)
        Sections that were not run (``None``) are shown as "not run".
    narrative : Narrative, optional
        The human-written fields; missing ones are shown as placeholders asking for them.
        Default: the ``[modelcard]`` / ``[datasheet]`` tables of the audit's own config, if any.
    review : dict or Review, optional
        ``AuditStore.review_summary(audit_id)``: status, decisions (sign-offs) and open comments
        (read once with :meth:`Review.from_summary`).

    Returns
    -------
    ModelCard
    """
    r = cs.as_report(report)
    n = narrative_of(r) if narrative is None else narrative
    if not isinstance(n, Narrative):
        raise AuditError(f"narrative must be a Narrative (see Narrative.from_dict); found {type(n).__name__}")
    rv = Review.from_summary(review)
    m, models, perf = r.manifest, r.models, r.performance
    label = models.selected_label if models is not None else "Model"
    title = n.model_name or f"{label} for {m.target}"
    sections = (
        cs.model_details(r, n, title, rv), cs.intended_use(r, n), cs.factors(r, n), cs.metrics(r),
        cs.evaluation_data(r), cs.training_data(r), cs.quantitative(r), cs.ethical(r, n), cs.caveats(r, n),
        *(extra_section(s.name, r) for s in registry.active() if s.card_appendix),
        cs.scorecard(r), cs.review_section(rv),
    )
    metrics = [CardMetric(k, finite_or_none(v.value), finite_or_none(v.low), finite_or_none(v.high))
               for k, v in (perf.metrics if perf is not None else {}).items()]
    metrics += [CardMetric(*e) for e in fairness_metric_entries(r.fairness)]
    metrics += [CardMetric(*e) for e in mc_metric_entries(r)]  # per-class slices (multiclass only)
    started = str(m.started_at)
    return ModelCard(
        title=title,
        subtitle=f"Model card from the responsible-AI audit of {m.dataset.name}" + _imported(r),
        generated_at=started or "unknown",
        sections=sections,
        model_name=title,
        date=started[:10],
        task=str(m.task),
        architecture=f"{label}; inputs: {', '.join(map(str, models.features if models is not None else ()))}",
        narrative=n,
        metrics=tuple(metrics),
        datasets=_datasets(r),
        limitations=(*([_imported(r).strip(" ()")] if r.imported_from else []), *n.caveats, *n.recommendations,
                     *cs.caveat_findings(r)),
        risks=(*n.ethical_considerations, *cs.ethics_findings(r)),
        scorecard=tuple((str(k), str(v.status)) for k, v in r.scorecard.items()),
        tradeoffs=(*_tradeoffs(perf), *fairness_tradeoffs(r.fairness), *privacy_tradeoffs(r)),
        review_status=review_status(rv),
        signoffs=tuple(f"{_or(d.reviewer)} ({d.date[:10]}, run {_or(d.run)})" for d in rv.approvals) if rv else (),
    )


def _imported(r: AuditReport) -> str:
    """The mark of a report read from someone's file: its verdicts were not computed by this installation."""
    if r.imported_from is None:
        return ""
    return f" (imported from {r.imported_from}: its numbers and verdicts were not computed by this installation)"


def _datasets(r: AuditReport) -> tuple[tuple[str, str, tuple[str, ...]], ...]:
    m, models = r.manifest, r.models
    name, sha, sens = m.dataset.name, m.dataset.sha256, tuple(map(str, m.sensitive))
    n_train, n_test = (models.n_train, models.n_test) if models is not None else ("?", "?")
    return (
        (f"{name} (training split)", f"{n_train} rows used to fit the model; sha256 {sha}", sens),
        (f"{name} (test split)", f"{n_test} held-out rows the audit evaluated on; sha256 {sha}", sens),
    )


def _or(v: Any) -> Any:
    return "?" if v is None else v


def _tradeoffs(perf: PerformanceReport | None) -> tuple[str, ...]:
    if perf is None or "precision" not in perf.metrics or "recall" not in perf.metrics:
        return ()
    p, rec = finite_or_none(perf.metrics["precision"].value), finite_or_none(perf.metrics["recall"].value)
    if p is None or rec is None:
        return ()
    return (f"At the decision threshold {num(perf.decision_threshold)} the model has precision {num(p)} and "
            f"recall {num(rec)}; a lower threshold finds more positives at the cost of more false alarms, a higher one the reverse.",)


def render_markdown(card: Document) -> str:
    """The card (or a datasheet) as Markdown; user text is escaped so it renders as text."""
    return render_markdown_document(card)


def render_html(card: Document) -> str:
    """One self-contained HTML page: inline CSS and SVG charts, no script, no network access."""
    from audit.cards.html import render_html_document

    return render_html_document(card)


def render_pdf(card: Document) -> bytes:
    """A PDF drawn with reportlab; deterministic for a given card."""
    from audit.cards.pdf import render_pdf_document

    return render_pdf_document(card)


def to_model_card_toolkit(card: ModelCard) -> dict[str, Any]:
    """The card as a Model Card Toolkit v0.0.2 JSON object (validates against its schema)."""
    from audit.cards.mct import to_mct

    return to_mct(card)


def export_files(report: Any, out_dir: str | Path, *, formats: Iterable[str], narrative: Narrative | None = None,
                 review: Mapping[str, Any] | None = None) -> list[Path]:
    """Write the model card and the datasheet in each format to ``out_dir``.

    Parameters
    ----------
    report : AuditReport or its JSON dict
    out_dir : directory, created if missing
    formats : some of ``md``, ``html``, ``pdf``, ``json`` (Model Card Toolkit JSON for the
        card, plain JSON for the datasheet), and ``csv`` (the datasheet's column table).
    narrative, review : as for :func:`build_model_card`.

    Returns
    -------
    list of Path
        The files written, model card first within each format.
    """
    fmts = list(dict.fromkeys(f.strip().lower() for f in formats))
    bad = [f for f in fmts if f not in (*FORMATS, "csv")]
    if bad:
        raise ConfigError(f"export formats must be among {', '.join(FORMATS)}, csv; found {', '.join(map(repr, bad))}")
    card = build_model_card(report, narrative=narrative, review=review)
    sheet = datasheet(report, narrative=narrative)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []

    def put(name: str, data: str | bytes) -> None:
        path = out / name
        path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
        written.append(path)

    for f in fmts:
        if f == "md":
            put("model_card.md", render_markdown(card))
            put("datasheet.md", render_markdown(sheet))
        elif f == "html":
            put("model_card.html", render_html(card))
            put("datasheet.html", render_html(sheet))
        elif f == "pdf":
            put("model_card.pdf", render_pdf(card))
            put("datasheet.pdf", render_pdf(sheet))
        elif f == "json":
            put("model_card.json", json.dumps(to_model_card_toolkit(card), indent=2, ensure_ascii=False) + "\n")
            put("datasheet.json", json.dumps(sheet.to_dict(), indent=2, ensure_ascii=False) + "\n")
        elif f == "csv":
            put("datasheet_columns.csv", datasheet_csv(sheet))
    return written


__all__ = [
    "Narrative", "DatasheetNarrative", "MODELCARD_FIELDS", "DATASHEET_FIELDS", "load_narrative",
    "ModelCard", "CardMetric", "build_model_card", "render_markdown", "render_html", "render_pdf",
    "to_model_card_toolkit", "export_files", "csv_safe", "datasheet", "Datasheet", "datasheet_csv", "FORMATS", "SECTION_TITLES",
]
