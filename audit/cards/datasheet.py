"""A datasheet for the audited dataset (Gebru et al., "Datasheets for Datasets", 2021).

The composition questions are answered from the report's manifest (rows, columns,
types, missingness, groups and their sizes, label balance, excluded identifier
columns, the file's sha256); motivation, collection, preprocessing, uses,
distribution and maintenance are the editable answers of ``Narrative.datasheet``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from audit.cards.blocks import Block, Bullets, Document, Facts, Heading, Paragraph, Section, num, pct, table
from audit.cards.narrative import DATASHEET_FIELDS, DatasheetNarrative, Narrative, narrative_of
from audit.cards.sections import as_report
from audit.report import AuditReport
from audit.sections.fairness.metrics import RepresentationRow

NOT_ANSWERED = "Not answered yet. Add it in the dashboard's datasheet form, or in the [datasheet] table of the CLI config."
_CSV_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class DatasheetColumn:
    name: str
    kind: str
    role: str
    missing: int
    unique: int
    reason: str = ""


@dataclass(frozen=True)
class Datasheet(Document):
    """The datasheet: rendered sections plus the composition facts as plain values."""

    dataset_name: str = ""
    sha256: str = ""
    rows_in_file: int = 0
    rows_audited: int = 0
    target: str = ""
    task: str = ""
    positive_label: str | None = None
    columns: tuple[DatasheetColumn, ...] = ()
    group_sizes: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    label_counts: Mapping[str, int] = field(default_factory=dict)
    excluded: Mapping[str, str] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    answers: DatasheetNarrative = field(default_factory=DatasheetNarrative)

    def to_dict(self) -> dict[str, Any]:
        """The facts and answers as JSON-able values (the rendered sections are left out)."""
        out = {k: v for k, v in asdict(self).items() if k not in ("sections", "subtitle")}
        out["columns"] = [asdict(c) for c in self.columns]
        out["group_sizes"] = {k: dict(v) for k, v in self.group_sizes.items()}
        out["label_counts"] = dict(self.label_counts)
        out["excluded"] = dict(self.excluded)
        out["warnings"] = list(self.warnings)
        return out


def csv_safe(value: Any) -> Any:
    """A value safe to put in a CSV cell that a spreadsheet will open.

    Text starting with ``=``, ``+``, ``-``, ``@`` (or a tab / carriage return) would be
    run as a formula by Excel or LibreOffice; it gets a leading apostrophe, which
    spreadsheets show as text. Numbers and ``None`` are returned unchanged (``-0.5`` is data).
    """
    if value is None or isinstance(value, (bool, int, float)):
        return value
    text = str(value)
    return "'" + text if text.startswith(_CSV_TRIGGERS) else text


def datasheet_csv(sheet: Datasheet) -> str:
    """The column table of a datasheet as CSV text, every cell neutralised with :func:`csv_safe`."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["column", "kind", "role", "missing", "missing_share", "unique", "note"])
    for c in sheet.columns:
        share = round(c.missing / sheet.rows_in_file, 6) if sheet.rows_in_file else None
        w.writerow([csv_safe(v) for v in (c.name, c.kind, c.role, c.missing, share, c.unique, c.reason)])
    return buf.getvalue()


def datasheet(report: Any, *, narrative: Narrative | None = None) -> Datasheet:
    """The datasheet of the dataset an audit read.

    Parameters
    ----------
    report : AuditReport, or its ``to_dict()`` JSON dict (converted with ``AuditReport.from_dict``)
    narrative : Narrative, optional
        Its ``datasheet`` answers fill the motivation, collection, preprocessing, uses,
        distribution and maintenance sections; missing answers are shown as questions.
        Default: the ``[datasheet]`` table of the audit's own config, if any.

    Returns
    -------
    Datasheet
    """
    r = as_report(report)
    answers = (narrative_of(r) if narrative is None else narrative).datasheet
    m = r.manifest
    name = str(m.dataset.name)
    model = r.models.selected_label if r.models is not None else "a model"
    sheet = Datasheet(title=f"Datasheet: {name}", subtitle=f"The dataset behind the audit of {model}"
                      + (f" (imported from {r.imported_from}: not computed by this installation)" if r.imported_from else ""),
                      generated_at=str(m.started_at), sections=(), **_facts(r, answers))
    representation = r.fairness.representation if r.fairness is not None else {}
    sections = (
        _answer("motivation", answers.motivation),
        Section("composition", "Composition", tuple(_composition(sheet, int(m.data_options.min_group_size or 0), representation,
                                                                  r.fairness.worst_class if r.fairness is not None else ""))),
        _answer("collection", answers.collection),
        _answer("preprocessing", answers.preprocessing, auto=_preprocessing(sheet)),
        _answer("uses", answers.uses, auto=(_use_line(r, model, sheet.target),)),
        _answer("distribution", answers.distribution),
        _answer("maintenance", answers.maintenance),
    )
    return replace(sheet, sections=sections)


def _use_line(r: AuditReport, model: str, target: str) -> str:
    user = r.models.user_model if r.models is not None else None
    if user is None:
        return f"This audit used the dataset to train and evaluate {model} predicting {target!r}, on {r.manifest.started_at}."
    return (f"This audit used the dataset to evaluate {model} predicting {target!r} ({user.evaluated_rows} rows; the model was "
            f"not trained here) and to train reference baselines beside it, on {r.manifest.started_at}.")


def _facts(r: AuditReport, answers: DatasheetNarrative) -> dict[str, Any]:
    """The composition facts of the manifest, as the :class:`Datasheet` fields."""
    m = r.manifest
    columns = tuple(DatasheetColumn(str(c.name), str(c.kind), str(c.role), int(c.missing or 0), int(c.unique or 0), str(c.reason or ""))
                    for c in m.schema)
    return dict(
        dataset_name=str(m.dataset.name), sha256=str(m.dataset.sha256), rows_in_file=int(m.dataset.rows),
        rows_audited=int(m.rows_used), target=str(m.target), task=str(m.task), positive_label=m.positive_label, columns=columns,
        group_sizes={str(k): {str(gk): int(gv) for gk, gv in v.items()} for k, v in m.group_sizes.items()},
        label_counts={str(k): int(v) for k, v in m.label_counts.items()},
        excluded={str(k): str(v) for k, v in m.excluded.items()}, warnings=tuple(map(str, m.warnings)), answers=answers,
    )


def _answer(key: str, text: str, *, auto: tuple[str, ...] = ()) -> Section:
    title, question = DATASHEET_FIELDS[key]
    blocks: list[Block] = [Paragraph(question, muted=True) if text else Paragraph(f"{question} {NOT_ANSWERED}", muted=True)]
    if text:
        blocks.append(Paragraph(text))
    if auto:
        blocks += [Heading("Recorded by the audit"), Bullets(auto)]
    return Section(key, title, tuple(blocks))


def _base_rate(row: RepresentationRow | None) -> float | None:
    return None if row is None else row.base_rate


def _composition(s: Datasheet, min_group: int, representation: Mapping[str, tuple[RepresentationRow, ...]],
                 worst_class: str = "") -> list[Block]:
    n_file, n_used = s.rows_in_file, s.rows_audited
    kinds = {}
    for c in s.columns:
        kinds[c.kind] = kinds.get(c.kind, 0) + 1
    facts = [
        ("File", s.dataset_name),
        ("sha256", s.sha256 or "n/a"),
        ("Rows", f"{num(n_file)} in the file, {num(n_used)} audited"),
        ("Columns", f"{len(s.columns)} (" + ", ".join(f"{v} {k}" for k, v in sorted(kinds.items())) + ")"),
        ("Target", f"{s.target} ({s.task}" + (f", positive class {s.positive_label!r})" if s.positive_label is not None else ")")),
    ]
    blocks: list[Block] = [Facts(tuple(facts)), Heading("Columns")]
    blocks.append(table(("Column", "Type", "Role", "Missing", "Missing %", "Distinct", "Note"),
                        [(c.name, c.kind, c.role, c.missing, pct(c.missing, n_file), c.unique, c.reason) for c in s.columns],
                        numeric=(False, False, False, True, True, True, False)))
    blocks.append(Heading("Label balance"))
    labels = s.label_counts
    if labels:
        total = sum(labels.values())
        blocks.append(table(("Label", "Rows", "Share"),
                            [(k + (" (positive)" if k == s.positive_label else ""), v, pct(v, total)) for k, v in labels.items()],
                            numeric=(False, True, True)))
    else:
        blocks.append(Paragraph("Not recorded: the target is numeric (regression) or the report predates label counts.", muted=True))
    blocks.append(Heading("Sensitive groups"))
    # The fairness audit adds each group's label base rate, and the intersections of the attributes.
    rep = {str(k): {str(x.group): x for x in v} for k, v in representation.items()}
    sizes_by_key = dict(s.group_sizes)
    for key, rows in rep.items():
        if key not in sizes_by_key:
            sizes_by_key[key] = {grp: int(x.count or 0) for grp, x in rows.items()}
    if sizes_by_key:
        for col, sizes in sizes_by_key.items():
            total = sum(sizes.values())
            rates = rep.get(col, {})
            rows = [(grp, k, pct(k, total), *([num(_base_rate(rates.get(grp)))] if rates else []),
                     "below the minimum group size" if min_group and k < min_group else "")
                    for grp, k in sorted(sizes.items(), key=lambda kv: -kv[1])]
            # Multiclass: the fairness audit's representation is the share of its worst class.
            rate = f"Share labelled {worst_class}" if worst_class else "Positive label rate"
            cols = (col, "Rows", "Share", *([rate] if rates else []), "Note")
            blocks.append(table(cols, rows, numeric=[False] + [True] * (len(cols) - 2) + [False], caption=f"Groups of {col}"))
    else:
        blocks.append(Paragraph("Not recorded in this report (it predates group sizes): re-run the audit.", muted=True))
    blocks.append(Heading("Excluded columns"))
    if s.excluded:
        blocks.append(table(("Column", "Reason"), sorted(s.excluded.items())))
    else:
        blocks.append(Paragraph("None: every column other than the target is a feature or a sensitive attribute."))
    if s.warnings:
        blocks += [Heading("Data warnings"), Bullets(s.warnings)]
    return blocks


def _preprocessing(s: Datasheet) -> tuple[str, ...]:
    out = []
    if s.rows_audited != s.rows_in_file:
        out.append(f"{num(s.rows_in_file - s.rows_audited)} of {num(s.rows_in_file)} rows were not audited "
                   "(missing target or sampling; see the data warnings).")
    ids = [f"{c} ({why})" for c, why in s.excluded.items()]
    if ids:
        out.append("Columns excluded from the features: " + "; ".join(ids) + ".")
    out.append("Missing numeric values are imputed with the training median; missing categories become 'missing'.")
    return tuple(out)
