"""report.json from someone else (issue 17, items 13 and 18): caps on import, and the imported mark."""

from __future__ import annotations

import json
import sys

import pytest

from audit.config import AuditConfig, ModelOptions
from audit.errors import AuditError
from audit.pipeline import run_audit
from audit.report import MAX_REPORT_DEPTH, MAX_REPORT_MB, AuditReport

from conftest import make_synthetic


@pytest.fixture(scope="module")
def small_report() -> AuditReport:
    frame = make_synthetic(n=400, seed=3)
    config = AuditConfig(target="label", sensitive=("sex",), sections=("performance",),
                         models=ModelOptions(cv_folds=0), section_options={"performance": {"bootstrap": 50}})
    return run_audit(config, frame)


@pytest.mark.parametrize("depth", [100, sys.getrecursionlimit() + 10, 200_000])
def test_deeply_nested_report_is_refused_not_a_recursion_error(depth):
    text = '{"manifest": ' + "[" * depth + "]" * depth + "}"
    with pytest.raises(AuditError, match=rf"^not a valid audit report: nested deeper than {MAX_REPORT_DEPTH} levels$"):
        AuditReport.from_json(text)


def test_deep_nesting_inside_a_real_report_is_refused(small_report):
    data = json.loads(small_report.to_json())
    nested: object = 1
    for _ in range(MAX_REPORT_DEPTH + 5):
        nested = {"x": nested}
    data["manifest"]["config"]["deep"] = nested  # config is Mapping[str, Any]: any shape parses
    with pytest.raises(AuditError, match="nested deeper than"):
        AuditReport.from_json(json.dumps(data))


def test_oversized_report_is_refused_before_parsing():
    text = b" " * (MAX_REPORT_MB * 1024 * 1024 + 1)
    with pytest.raises(AuditError, match=rf"^not a valid audit report: 64.0 MB, over the {MAX_REPORT_MB} MB cap$"):
        AuditReport.from_json(text)


@pytest.mark.parametrize("text, message", [
    (b"\xff\xfe{", "not UTF-8"),
    ('{"manifest": []}', "expected an object for Manifest"),
    ('{"manifest": "x"}', "expected an object for Manifest"),
])
def test_hostile_shapes_give_one_line_errors(text, message):
    with pytest.raises(AuditError, match=message):
        AuditReport.from_json(text)


def test_a_real_report_is_within_the_caps_and_round_trips(small_report):
    text = small_report.to_json()
    assert AuditReport.from_json(text).to_json() == text
    assert "imported_from" not in json.loads(text)  # reports computed here keep their JSON unchanged


def test_import_marks_the_report_and_the_mark_survives_storage(small_report):
    data = json.loads(small_report.to_json())
    data["imported_from"] = None  # a crafted file cannot clear the mark
    back = AuditReport.from_json(json.dumps(data), imported_from="their_report.json")
    assert back.imported_from == "their_report.json" and small_report.imported_from is None
    again = AuditReport.from_json(back.to_json())  # as stored, then read back
    assert again.imported_from == "their_report.json"
    with pytest.raises(AuditError, match="imported_from must be a file name"):
        AuditReport.from_json(json.dumps({**data, "imported_from": 5}))
