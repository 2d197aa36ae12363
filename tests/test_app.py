"""The dashboard under streamlit.testing.v1.AppTest: every page, uploads, bad input, the cache.

The report is produced in a session fixture by the real pipeline on small synthetic
data (tests/conftest.py ``make_synthetic``), never a committed hand-written JSON.
"""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from audit.config import config_from_mapping
from audit.pipeline import run_audit
from audit.report import AuditReport
from dashboard import forms, state
from dashboard.charts import base
from dashboard.charts import fairness as fair_charts
from tests.conftest import ROOT, make_synthetic

APP = str(ROOT / "dashboard" / "app.py")
PAGES = ("overview", "datasheet", "performance", "fairness", "explanations", "robustness", "drift", "privacy",
         "population", "model_card", "reviews", "history")
SECTION_PAGES = ("performance", "fairness", "explanations", "robustness", "drift", "privacy", "population")
# Pages with lazy tabs (only the open tab runs): page -> (tabs key, labels).
TABS = {
    "performance": ("perf_tab", ("Metrics and errors", "Calibration and learning curve", "Baselines")),
    "explanations": ("explain_tab", ("Global", "Beeswarm", "One row", "Dependence", "Groups", "Surrogate and errors")),
    "robustness": ("robust_tab", ("Perturbations", "Evasion attacks", "Flip tests", "Edge cases")),
    "model_card": ("card_tab", ("Narrative", "Preview")),
    "drift": ("drift_tab", ("Per feature", "Domain classifier", "Predictions, labels, performance")),
}
TIMEOUT = 120


def _config(sections):
    raw = {"target": "label", "sensitive": ["sex"], "sections": list(sections), "seed": 0}
    for section, values in forms.quick_overlay().items():
        raw[section] = dict(values)
    return config_from_mapping(raw)


@pytest.fixture(scope="session")
def app_report() -> AuditReport:
    """A full report (every section this build has) from the real pipeline, via its JSON round trip."""
    frame = make_synthetic(800, seed=2)
    current = make_synthetic(400, seed=3)
    current["x1"] = current["x1"] + 1.5  # a shift the drift section can show
    rep = run_audit(_config(forms.available_sections()), frame, current=current, workers=2)
    return AuditReport.from_json(rep.to_json())


def _app() -> AppTest:
    return AppTest.from_file(APP, default_timeout=TIMEOUT)


def _with_report(report: AuditReport) -> AppTest:
    at = _app()
    at.session_state[state.REPORT] = report
    at.session_state[state.REPORT_KEY] = "test"
    return at.run()


def _texts(at: AppTest) -> str:
    parts = []
    for kind in ("markdown", "caption", "info", "warning", "error", "success", "title", "header", "subheader", "text"):
        parts += [str(e.value) for e in getattr(at, kind)]
    parts += [f"{m.label} {m.value}" for m in at.metric]
    return "\n".join(parts)


def _no_exception(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def test_start_page_offers_the_sample_and_an_upload():
    at = _app().run()
    _no_exception(at)
    assert [b.label for b in at.button] == ["Run the sample audit"]
    assert len(at.file_uploader) >= 2
    assert "Try the embedded sample" in _texts(at)


@pytest.mark.parametrize("page", PAGES)
def test_every_page_without_a_report_says_so(page):
    at = _app().run()
    at.switch_page(f"views/{page}.py").run()
    _no_exception(at)
    if page not in ("reviews", "history"):
        assert any("No audit yet" in i.value for i in at.info)


def _open_tab(at: AppTest, page: str, label: str) -> AppTest:
    at.session_state[TABS[page][0]] = label
    return at.run()


@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders_the_report(app_report, page):
    at = _with_report(app_report)
    at.switch_page(f"views/{page}.py").run()
    _no_exception(at)
    text = _texts(at)
    if page in TABS and getattr(app_report, page, True) is not None:
        for label in TABS[page][1]:
            _open_tab(at, page, label)
            _no_exception(at)
    if page in SECTION_PAGES:
        sec = getattr(app_report, page)
        if sec is None:
            assert any("was not computed" in i.value for i in at.info)
        else:
            assert f"Verdict: {sec.verdict.status.upper()}" in text


def test_overview_shows_scorecard_and_headline_numbers(app_report):
    at = _with_report(app_report)
    at.switch_page("views/overview.py").run()
    _no_exception(at)
    text = _texts(at)
    perf = app_report.performance
    assert f"{perf.metrics[perf.primary_metric].value:.3f}" in text
    for area, v in app_report.scorecard.items():
        assert v.status.upper() in text
    assert f"{app_report.manifest.rows_used:,}" in text


def test_performance_page_values_and_charts(app_report):
    at = _with_report(app_report)
    at.switch_page("views/performance.py").run()
    _no_exception(at)
    perf = app_report.performance
    assert any(m.value == f"{perf.baseline_primary:.3f}" for m in at.metric)
    table = at.dataframe[0].value
    assert table["metric"].tolist()[0] == base.metric_name(next(iter(perf.metrics)))
    assert len(at.get("plotly_chart")) == 2  # the open tab only: CI chart and confusion matrix
    _open_tab(at, "performance", "Calibration and learning curve")
    assert len(at.get("plotly_chart")) == 2
    _open_tab(at, "performance", "Baselines")
    assert len(at.get("plotly_chart")) == 1
    assert at.dataframe[1].value["model"].tolist() == [r.label for r in app_report.models.leaderboard]
    assert not at.json  # the section's JSON is sent only when its expander opens
    at.session_state["json_PerformanceReport"] = True
    at.run()
    assert at.json[0].value and '"primary_metric"' in at.json[0].value


def test_datasheet_lists_the_schema(app_report):
    at = _with_report(app_report)
    at.switch_page("views/datasheet.py").run()
    _no_exception(at)
    schema = at.dataframe[0].value
    assert set(schema["column"]) == {c.name for c in app_report.manifest.schema}


# -- uploads and bad input ----------------------------------------------------------------


def _upload(at: AppTest, name: str, data: bytes, index: int = 0) -> AppTest:
    at.file_uploader[index].upload(name, data, "text/csv")
    return at.run()


@pytest.mark.parametrize(
    "name, data, message",
    [
        ("empty.csv", b"", "empty"),
        ("binary.csv", b"\x00\x01\x02\x03" * 100, "not a table"),
        ("old.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, ".xls"),
    ],
)
def test_bad_upload_shows_the_core_message_not_a_traceback(name, data, message):
    at = _upload(_app().run(), name, data)
    _no_exception(at)
    assert any(message in e.value for e in at.error), [e.value for e in at.error]
    assert [b.label for b in at.button] == ["Run the sample audit"]  # the page stays usable


@pytest.mark.parametrize("fmt", ["csv.gz", "parquet", "xlsx"])
def test_parquet_excel_and_gzip_uploads_reach_the_schema(fmt, tmp_path):
    frame = make_synthetic(120, seed=17)
    path = tmp_path / f"data.{fmt}"
    if fmt == "parquet":
        frame.to_parquet(path)
    elif fmt == "xlsx":
        frame.to_excel(path, index=False)
    else:
        frame.to_csv(path, index=False, compression="gzip")
    at = _upload(_app().run(), path.name, path.read_bytes())
    _no_exception(at)
    assert not at.error
    assert set(at.data_editor[0].value["column"]) == set(frame.columns)


def test_bad_choice_shows_an_error():
    frame = make_synthetic(200, seed=4)
    frame["label"] = 1  # one class: no model can be trained
    at = _upload(_app().run(), "one_class.csv", frame.to_csv(index=False).encode())
    _no_exception(at)
    assert any("single value" in e.value for e in at.error)


def test_upload_shows_the_inferred_schema_and_options():
    frame = make_synthetic(300, seed=5)
    frame["customer_id"] = range(len(frame))
    at = _upload(_app().run(), "synthetic.csv", frame.to_csv(index=False).encode())
    _no_exception(at)
    assert at.selectbox[0].value == "label"
    assert at.multiselect[0].value == ["sex"]
    editor = at.data_editor[0].value
    row = editor.set_index("column").loc["customer_id"]
    assert row["role"] == "excluded" and "ID-like" in row["note"]
    assert "binary classification" in _texts(at)


@pytest.mark.slow
def test_upload_run_and_cache_hit():
    frame = make_synthetic(400, seed=6)
    raw = frame.to_csv(index=False).encode()

    def run_once() -> AppTest:
        at = _upload(_app().run(), "synthetic.csv", raw)
        at.multiselect(key="opt_sections").set_value(["performance"])
        at.number_input(key="opt_cv").set_value(0)
        at.button(key="FormSubmitter:audit_options-Run audit").click()
        return at.run()

    at = run_once()
    _no_exception(at)
    first = at.session_state[state.REPORT]
    assert first.performance is not None and first.fairness is None
    assert first.manifest.dataset.name == "synthetic.csv"
    assert any("ROC AUC" in m.label for m in at.metric)  # switched to the overview
    at2 = run_once()
    _no_exception(at2)
    assert at2.session_state[state.REPORT] is first  # same content hash: served from the cache


def test_open_a_saved_report(app_report):
    at = _app().run()
    at.file_uploader(key="upload_report").upload("report.json", app_report.to_json().encode(), "application/json")
    at.run()
    at.button(key="open_report").click().run()
    _no_exception(at)
    opened = at.session_state[state.REPORT]  # the same report, marked as opened from a file
    assert opened.imported_from == "report.json"
    assert opened == AuditReport.from_json(app_report.to_json(), imported_from="report.json")
    at2 = _app().run()
    at2.file_uploader(key="upload_report").upload("report.json", b'{"not": "a report"}', "application/json")
    at2.run()
    _no_exception(at2)
    assert any("not a valid audit report" in e.value for e in at2.error)


def test_audit_key_depends_on_data_current_and_config():
    c1, c2 = _config(["performance"]), _config(["performance", "fairness"])
    k = state.audit_key("a" * 64, c1)
    assert k == state.audit_key("a" * 64, _config(["performance"]))
    assert len({k, state.audit_key("b" * 64, c1), state.audit_key("a" * 64, c2), state.audit_key("a" * 64, c1, "c" * 64)}) == 4


def test_markdown_escaping_of_user_text():
    from dashboard.components import md

    assert md("**bold** [x](http://e) $x$ :red[y] <b>") == r"\*\*bold\*\* \[x\]\(http\://e\) \$x\$ \:red\[y\] \<b\>"


# -- model card ---------------------------------------------------------


def test_model_card_narrative_and_downloads(app_report):
    at = _with_report(app_report)
    at.switch_page("views/model_card.py").run()
    _no_exception(at)
    assert len(at.get("download_button")) == 8
    at.text_input(key="nar_test_modelcard_model_name").set_value("Income model *v2* <b>")
    at.text_area(key="nar_test_modelcard_owners").set_value("Risk team <risk@example.org>\nAudit team")
    at.button(key="FormSubmitter:narrative-Update the card").click().run()
    _no_exception(at)
    _open_tab(at, "model_card", "Preview")
    preview = next(m.value for m in at.markdown if m.value.startswith("# Income model"))
    assert r"\*v2\*" in preview  # the core escaped the user's markdown
    saved = at.session_state[state.NARRATIVE]["test"]["modelcard"]
    assert list(saved["owners"]) == ["Risk team <risk@example.org>", "Audit team"]



def _run_upload(raw: bytes, *, sections: list[str], current: bytes | None = None) -> AppTest:
    at = _upload(_app().run(), "synthetic.csv", raw)
    if current is not None:
        at.file_uploader(key="upload_current").upload("current.csv", current, "text/csv")
        at.run()
    at.multiselect(key="opt_sections").set_value(sections)
    at.number_input(key="opt_cv").set_value(0)
    at.button(key="FormSubmitter:audit_options-Run audit").click()
    return at.run()


def test_a_bad_current_file_stops_the_run_with_the_core_message():
    train = make_synthetic(300, seed=12).to_csv(index=False).encode()
    current = make_synthetic(100, seed=13).drop(columns=["x2"]).to_csv(index=False).encode()
    at = _run_upload(train, sections=["performance"], current=current)
    _no_exception(at)
    assert any("lacks feature columns" in e.value and "x2" in e.value for e in at.error)
    assert state.REPORT not in at.session_state  # no report, and the form is still there
    assert at.button(key="FormSubmitter:audit_options-Run audit") is not None


@pytest.mark.slow
def test_current_file_feeds_the_drift_section():
    train = make_synthetic(400, seed=14)
    current = make_synthetic(300, seed=15)
    current["x1"] = current["x1"] + 2.0
    at = _run_upload(train.to_csv(index=False).encode(), sections=["drift"], current=current.to_csv(index=False).encode())
    _no_exception(at)
    rep = at.session_state[state.REPORT]
    assert rep.manifest.current_dataset.name == "current.csv"
    assert "x1" in rep.drift.data.drifted_features


@pytest.fixture(scope="module")
def regression_report() -> AuditReport:
    import numpy as np

    frame = make_synthetic(600, seed=16)
    frame["label"] = 3 * frame["x1"] + frame["x2"] + (frame["sex"] == "M") + np.random.default_rng(0).normal(size=len(frame))
    return run_audit(_config(forms.available_sections()), frame, workers=2)


@pytest.mark.slow
@pytest.mark.parametrize("page", PAGES[:9])
def test_every_page_renders_a_regression_report(regression_report, page):
    assert regression_report.manifest.task == "regression"
    at = _with_report(regression_report)
    at.switch_page(f"views/{page}.py").run()
    _no_exception(at)
    for label in TABS.get(page, (None, ()))[1]:
        _open_tab(at, page, label)
        _no_exception(at)
    if page == "fairness" and regression_report.fairness is not None:
        held = fair_charts.group_metric_names(regression_report.fairness, "sex")
        assert at.multiselect(key="fair_metrics_sex").value == held[:3]
        assert not any(m in held for m in ("selection_rate", "tpr"))  # regression metrics, not rates
