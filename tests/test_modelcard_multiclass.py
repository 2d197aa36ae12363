"""Model card of a multiclass audit: per-class tables, escaping, Model Card Toolkit JSON still valid."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from audit.cards.modelcard import build_model_card, render_html, render_markdown, to_model_card_toolkit
from audit.config import AuditConfig, ModelOptions
from audit.pipeline import run_audit
from conftest import make_multiclass

SCHEMA = json.loads((Path(__file__).resolve().parents[1] / "audit" / "cards" / "schemas" / "model_card.schema.v0.0.2.json").read_text())
EVIL = "<img src=x onerror=alert(1)>"


@pytest.fixture(scope="module")
def report():
    frame = make_multiclass(900, seed=1)
    frame["decision"] = frame["decision"].replace({"decline": EVIL})
    cfg = AuditConfig(target="decision", sensitive=("group",), sections=("performance", "fairness", "explanations", "population"),
                      models=ModelOptions(cv_folds=0, models=("dummy", "logistic")),
                      section_options={"performance": {"bootstrap": 50, "learning_curve_sizes": [1.0]}, "fairness": {"bootstrap": 50},
                                       "explanations": {"sample_size": 100, "permutation_sample": 100},
                                       "population": {"bootstrap": 20}})
    return run_audit(cfg, frame, workers=1)


def test_card_shows_each_class(report):
    md = render_markdown(build_model_card(report))
    assert "multiclass classification of 'decision' (3 classes" in md
    assert "| Class | Test rows | Precision | Recall | F1 | ROC AUC (one-vs-rest) |" in md
    for lab in ("approve", "refer"):  # the third label is checked escaped in the HTML test
        assert f"| {lab} | {report.performance.class_support[lab]} |" in md
    assert "- f1_macro: F1 of each class, averaged with equal weight" in md
    assert "| Actual class |" in md and "Per-class fairness (one-vs-rest)" in md and "Per-class explanations" in md
    assert report.fairness.worst_class in ("approve", "refer") and f"worst class {report.fairness.worst_class!r}" in md


def test_card_has_the_every_row_gaps_of_each_class(report):
    po = report.population
    md = render_markdown(build_model_card(report))
    assert "Every-row selection-rate gaps per class (one-vs-rest)" in md
    assert f"Every row by group, class {po.worst_class} one-vs-rest" in md
    gap = po.per_class_gaps["approve"]["group"]["selection_rate"]
    assert f"| approve{' (worst)' if po.worst_class == 'approve' else ''} | {gap:.3f} |" in md
    assert "the most probable class predicted" in md and "at threshold" not in md.split("Every row")[-1]


def test_class_labels_are_escaped_in_html(report):
    page = render_html(build_model_card(report))
    assert EVIL not in page and "&lt;img src=x onerror=alert(1)&gt;" in page


def test_model_card_toolkit_json_stays_valid_with_per_class_slices(report):
    doc = to_model_card_toolkit(build_model_card(report))
    jsonschema.Draft7Validator(SCHEMA, format_checker=jsonschema.FormatChecker()).validate(doc)
    slices = {m.get("slice") for m in doc["quantitative_analysis"]["performance_metrics"]}
    for lab in report.performance.classes:
        assert f"class = {lab}" in slices
        assert f"class = {lab}, group (adequate groups)" in slices


def test_datasheet_lists_every_class_and_the_worst_class_share(report):
    from audit.cards.datasheet import datasheet
    from audit.cards.modelcard import render_markdown

    md = render_markdown(datasheet(report))
    for lab in ("approve", "refer"):
        assert f"| {lab} | {report.manifest.label_counts[lab]} |" in md
    assert f"Share labelled {report.fairness.worst_class}" in md
