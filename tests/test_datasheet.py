"""Datasheet: composition filled from the report matches the data; answers; CSV safety."""

from __future__ import annotations

import csv
import io

import numpy as np
import pytest
from pypdf import PdfReader

from audit.config import config_from_mapping
from audit.cards.modelcard import DatasheetNarrative, Narrative, datasheet, datasheet_csv, render_html, render_markdown, render_pdf
from audit.pipeline import run_audit
from tests.conftest import make_synthetic

EVIL_COL = "<script>alert(1)</script>"
FORMULA_COL = "=SUM(A1:A9)"


@pytest.fixture(scope="module")
def frame():
    df = make_synthetic(500, seed=5)
    df = df.rename(columns={"colour": EVIL_COL, "noise": FORMULA_COL})
    df["customer_id"] = [f"C{i:05d}" for i in range(len(df))]  # ID-like: must be excluded, with a reason
    df.loc[df.index[:40], "x2"] = np.nan
    df["sex"] = df["sex"].map({"F": "<b>F</b>", "M": "-M"})
    return df


@pytest.fixture(scope="module")
def report(frame):
    cfg = config_from_mapping({"target": "label", "sensitive": ["sex"], "sections": ["performance"],
                               "models": {"cv_folds": 0, "models": ["dummy", "logistic"]},
                               "performance": {"bootstrap": 20, "learning_curve_sizes": [1.0]}})
    return run_audit(cfg, frame, workers=1)


@pytest.fixture(scope="module")
def sheet(report):
    return datasheet(report, narrative=Narrative(datasheet=DatasheetNarrative(motivation="Made for <tests>.", uses="Testing only.")))


def test_composition_matches_the_data(sheet, frame, report):
    assert sheet.rows_in_file == len(frame) == sheet.rows_audited
    assert [c.name for c in sheet.columns] == list(frame.columns)
    by_name = {c.name: c for c in sheet.columns}
    assert by_name["x2"].missing == 40 and by_name["x1"].missing == 0
    assert by_name["x1"].kind == "numeric" and by_name[EVIL_COL].kind == "categorical"
    assert by_name["label"].role == "target" and by_name["sex"].role == "sensitive"
    assert by_name["customer_id"].role == "excluded" and "ID-like" in sheet.excluded["customer_id"]
    assert dict(sheet.group_sizes["sex"]) == frame["sex"].value_counts().to_dict()
    assert dict(sheet.label_counts) == {str(k): int(v) for k, v in frame["label"].value_counts().items()}
    assert sheet.sha256 == report.manifest.dataset.sha256 and len(sheet.sha256) == 64


def test_answers_and_questions_are_rendered(sheet):
    md = render_markdown(sheet)
    for title in ("Motivation", "Composition", "Collection process", "Preprocessing, cleaning, labelling", "Uses", "Distribution", "Maintenance"):
        assert f"## {title}" in md
    assert "Made for &lt;tests&gt;." in md
    assert "Not answered yet" in md  # collection was left empty
    assert "| customer\\_id | ID-like" in md or "customer_id" in md


def test_datasheet_html_and_pdf_escape_user_strings(sheet):
    page = render_html(sheet)
    assert "<script" not in page.lower() and "<b>F</b>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "&lt;b&gt;F&lt;/b&gt;" in page
    text = " ".join(p.extract_text() for p in PdfReader(io.BytesIO(render_pdf(sheet))).pages)
    assert EVIL_COL in " ".join(text.split()) and "Label balance" in text


def test_csv_neutralises_formula_like_cells(sheet):
    text = datasheet_csv(sheet)
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][:3] == ["column", "kind", "role"]
    names = [r[0] for r in rows[1:]]
    assert "'" + FORMULA_COL in names and FORMULA_COL not in names
    assert not any(cell.startswith(("=", "+", "-", "@")) for r in rows for cell in r)


def test_to_dict_is_plain_json(sheet):
    import json

    data = json.loads(json.dumps(sheet.to_dict()))
    assert data["group_sizes"]["sex"]["-M"] > 0 and data["answers"]["uses"] == "Testing only."
    assert "sections" not in data


def test_old_report_without_composition_fields_still_renders(report):
    data = report.to_dict()
    del data["manifest"]["group_sizes"], data["manifest"]["label_counts"]
    md = render_markdown(datasheet(data))
    assert "Not recorded in this report" in md
