"""Model card: sections, narrative, escaping, the four export formats, determinism."""

from __future__ import annotations

import html.parser
import io
import json
import re

import jsonschema
import numpy as np
import markdown
import pytest
from pypdf import PdfReader

from audit.config import config_from_mapping
from audit.errors import AuditError, ConfigError
from audit.cards.modelcard import (
    SECTION_TITLES,
    Narrative,
    build_model_card,
    csv_safe,
    export_files,
    load_narrative,
    render_html,
    render_markdown,
    render_pdf,
    to_model_card_toolkit,
)
from audit.pipeline import run_audit
from audit.sections import registry
from tests.conftest import make_synthetic

EVIL_COL = "<script>alert(1)</script>"
EVIL_VALUE = "<img src=x onerror=alert(2)>"
EVIL_REVIEWER = "<b onmouseover=alert(3)>mallory</b>"
FORMULA_COL = "=HYPERLINK(\"http://x\")"
SCHEMA = json.loads((__import__("pathlib").Path(__file__).resolve().parents[1] / "audit" / "cards" / "schemas" / "model_card.schema.v0.0.2.json").read_text())
FAST_SECTIONS = ("performance", "fairness")

NARRATIVE = Narrative(
    model_name="Synthetic <credit> model",
    overview="Scores applicants & flags [risky](javascript:alert(4)) ones.",
    version="1.2",
    owners=("Risk team <risk@example.org>", EVIL_REVIEWER),
    licence="Apache-2.0",
    references=("https://arxiv.org/abs/1810.03993", "Mitchell et al. 2019"),
    primary_uses=("Ranking applications for manual review",),
    primary_users=("Credit analysts",),
    out_of_scope_uses=("Automated rejection without human review", "</li><script>alert(5)</script>"),
    factors="Branch and application channel.",
    ethical_considerations=("Denies credit to protected groups. Mitigation: quarterly fairness audit",),
    caveats=("Trained on synthetic data",),
    recommendations=("Re-audit after retraining",),
)
REVIEW = {
    "audit_id": 7, "status": "approved", "run": 1, "author": "alice",
    "decisions": [
        {"reviewer": "bob", "outcome": "changes_requested", "note": "add caveats", "run": 1, "date": "2026-01-02T10:00:00+00:00"},
        {"reviewer": EVIL_REVIEWER, "outcome": "approved", "note": "=cmd|' /C calc'!A0", "run": 1, "date": "2026-01-03T10:00:00+00:00"},
    ],
    "open_comments": [{"id": 3, "author": "carol", "section": "fairness", "body": "<i>check</i> race groups", "parent_id": None,
                       "date": "2026-01-03T11:00:00+00:00"}],
}


def evil_frame(n: int = 600):
    """Synthetic data whose column names and category values carry markup and formulas."""
    df = make_synthetic(n, seed=3)
    df = df.rename(columns={"colour": EVIL_COL, "noise": FORMULA_COL})
    df.loc[df.index[: n // 3], EVIL_COL] = EVIL_VALUE
    df["sex"] = df["sex"].map({"F": "F & <u>co</u>", "M": "M"})
    return df


def small_config(sections=FAST_SECTIONS, **extra):
    raw = {"target": "label", "sensitive": ["sex"], "sections": list(sections),
           "models": {"cv_folds": 0, "models": ["dummy", "logistic"]}, "performance": {"bootstrap": 50, "learning_curve_sizes": [1.0]}}
    raw.update(extra)
    return config_from_mapping(raw)


@pytest.fixture(scope="module")
def report():
    return run_audit(small_config(), evil_frame(), workers=1)


@pytest.fixture(scope="module")
def card(report):
    return build_model_card(report, narrative=NARRATIVE, review=REVIEW)


class _Tags(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.attrs, self.text = [], [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attrs += [(tag, k, v) for k, v in attrs]

    def handle_data(self, data):
        self.text.append(data)


ALLOWED_TAGS = {"html", "head", "meta", "title", "style", "body", "header", "h1", "h2", "h3", "p", "nav", "ol", "ul", "li", "a",
                "section", "dl", "dt", "dd", "span", "table", "caption", "thead", "tbody", "tr", "th", "td", "figure", "figcaption",
                "svg", "g", "line", "rect", "text"}


def test_card_has_every_section_of_the_paper_and_the_tool(card, report):
    assert tuple(s.title for s in card.sections) == SECTION_TITLES
    assert card.title == "Synthetic <credit> model"
    assert card.generated_at == report.manifest.started_at  # dated by the audit, not the clock


def test_html_holds_every_section_and_no_user_markup(card):
    page = render_html(card)
    for title in SECTION_TITLES:
        assert f"<h2>{title}</h2>" in page
    p = _Tags()
    p.feed(page)
    assert set(p.tags) <= ALLOWED_TAGS, set(p.tags) - ALLOWED_TAGS
    assert not [a for a in p.attrs if a[1].startswith("on")]
    assert not [a for a in p.attrs if a[1] in ("src", "href") and not str(a[2]).startswith("#")]
    assert "<script" not in page.lower()
    text = "".join(p.text)
    for s in (EVIL_COL, "F & <u>co</u>", EVIL_REVIEWER, "</li><script>alert(5)</script>"):
        assert s in text  # shown as text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_html_is_self_contained(card):
    page = render_html(card)
    p = _Tags()
    p.feed(page)
    # Nothing that would fetch: no element with src / href / data outside the page, no CSS url() or @import.
    assert [a for a in p.attrs if a[1] in ("src", "href", "data", "srcset", "poster")] == [
        ("a", "href", f"#{s.key}") for s in card.sections]
    assert "link" not in p.tags and "url(" not in page and "@import" not in page
    assert "<svg" in page and "<rect" in page  # the charts are inline
    assert "default-src 'none'" in page


def test_markdown_renders_tables_and_escapes_markup(card):
    md = render_markdown(card)
    rendered = markdown.markdown(md, extensions=["tables"])
    assert "<script" not in rendered.lower() and "<img" not in rendered.lower()
    assert 'href="javascript' not in rendered
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in rendered
    tables = re.findall(r"<table>.*?</table>", rendered, flags=re.S)
    assert any("Predicted positive" in t for t in tables)
    for title in SECTION_TITLES:
        assert f"<h2>{title}</h2>" in rendered


def test_markdown_group_table_lists_every_group_with_intervals(card):
    rendered = markdown.markdown(render_markdown(card), extensions=["tables"])
    tables = [t for t in re.findall(r"<table>.*?</table>", rendered, flags=re.S) if "F &amp; &lt;u&gt;co&lt;/u&gt;" in t]
    assert tables, "no group table"
    assert any(re.search(r"\[\d\.\d{3}, \d\.\d{3}\]", t) for t in tables)
    assert "Demographic parity difference" in " ".join(tables) or "demographic_parity_difference" in rendered
    doc = to_model_card_toolkit(card)
    sliced = [m for m in doc["quantitative_analysis"]["performance_metrics"] if m.get("slice") == "sex = F & <u>co</u>"]
    assert {"selection_rate", "accuracy"} <= {m["type"] for m in sliced}
    assert all("confidence_interval" in m for m in sliced if m["type"] == "selection_rate")


def test_pdf_opens_and_holds_the_section_titles_as_text(card):
    data = render_pdf(card)
    reader = PdfReader(io.BytesIO(data))
    text = "\n".join(page.extract_text() for page in reader.pages)
    flat = " ".join(text.split())
    for title in SECTION_TITLES:
        assert title in flat
    assert EVIL_COL in flat and "mallory" in flat
    assert reader.metadata.title == "Synthetic <credit> model"


def test_same_report_gives_identical_files(report, tmp_path):
    a = export_files(report, tmp_path / "a", formats=["md", "html", "pdf", "json"], narrative=NARRATIVE, review=REVIEW)
    b = export_files(report, tmp_path / "b", formats=["md", "html", "pdf", "json"], narrative=NARRATIVE, review=REVIEW)
    assert [p.name for p in a] == ["model_card.md", "datasheet.md", "model_card.html", "datasheet.html",
                                   "model_card.pdf", "datasheet.pdf", "model_card.json", "datasheet.json"]
    for pa, pb in zip(a, b):
        assert pa.read_bytes() == pb.read_bytes(), pa.name


def test_json_validates_against_the_model_card_toolkit_schema(card):
    doc = to_model_card_toolkit(card)
    jsonschema.Draft7Validator(SCHEMA, format_checker=jsonschema.FormatChecker()).validate(doc)
    metrics = doc["quantitative_analysis"]["performance_metrics"]
    auc = next(m for m in metrics if m["type"] == "roc_auc" and "slice" not in m)
    assert float(auc["confidence_interval"]["lower_bound"]) <= float(auc["value"]) <= float(auc["confidence_interval"]["upper_bound"])
    assert doc["model_details"]["owners"][0] == {"name": "Risk team", "contact": "risk@example.org"}
    assert doc["model_details"]["licenses"] == [{"identifier": "Apache-2.0"}]
    assert doc["considerations"]["ethical_considerations"][0] == {
        "name": "Denies credit to protected groups", "mitigation_strategy": "quarterly fairness audit"}
    assert "Signed off by: " + EVIL_REVIEWER in doc["model_details"]["documentation"]


def test_json_of_a_bare_report_validates_too(report):
    doc = to_model_card_toolkit(build_model_card(report.to_dict()))
    jsonschema.Draft7Validator(SCHEMA, format_checker=jsonschema.FormatChecker()).validate(doc)


def test_review_shows_sign_offs_and_open_comments(card, report):
    md = render_markdown(card)
    review = md[md.index("## Review and sign-off"):]
    assert "Approved by &lt;b onmouseover=alert(3)&gt;mallory&lt;/b&gt; on 2026-01-03" in review
    assert "Open comments (1)" in review and "race groups" in review
    bare = render_markdown(build_model_card(report))
    assert "No review is recorded" in bare and "NOT REVIEWED" in bare


def test_missing_sections_render_as_not_run(report):
    data = report.to_dict()
    for name in ("performance", "fairness", "explanations", "robustness", "drift", "privacy"):
        data[name] = None
    card = build_model_card(data)
    md = render_markdown(card)
    assert md.count("**Verdict: NOT RUN**") >= 6
    assert "The performance audit was not run" in md
    render_pdf(card)  # draws without the sections too
    render_html(card)


def test_a_section_of_unknown_shape_is_refused_where_the_dict_is_read(report):
    data = report.to_dict()
    data["robustness"] = {
        "verdict": {"status": "warn", "reasons": ["accuracy drops 0.12 under noise"]},
        "attacks": [{"name": EVIL_VALUE, "accuracy": {"value": 0.7, "low": 0.6, "high": 0.8}}],
    }
    with pytest.raises(AuditError, match="not a valid audit report"):
        build_model_card(data)


def test_a_section_without_a_dedicated_renderer_is_rendered_generically_and_escaped(report):
    from audit.cards.blocks import Document
    from audit.cards.extras import _RENDERERS, extra_section

    assert "fairness" not in _RENDERERS  # drawn in the quantitative analyses, so the generic view applies here
    sec = extra_section("fairness", report)
    assert sec.title == "Fairness" and sec.blocks[0].status == report.fairness.verdict.status
    doc = Document("t", "", "now", (sec,))
    page, md = render_html(doc), render_markdown(doc)
    assert "<script" not in page.lower() and "<u>" not in page and "<u>" not in md
    assert "F &amp; &lt;u&gt;co&lt;/u&gt;" in page and "F &amp; &lt;u&gt;co&lt;/u&gt;" in md
    dpd = report.fairness.disparities["sex"]["demographic_parity_difference"]
    assert f"{dpd.value:.3f} [{dpd.low:.3f}, {dpd.high:.3f}]" in md  # an interval, as one cell


def test_narrative_round_trips_and_loads_from_toml_and_yaml(tmp_path):
    assert Narrative.from_dict(json.loads(json.dumps(NARRATIVE.to_dict()))) == NARRATIVE
    toml = tmp_path / "audit.toml"
    toml.write_text('target = "label"\n[data]\nmin_group_size = 10\n[modelcard]\nowners = ["A <a@x.org>"]\n'
                    'primary_uses = """Screening\nRanking"""\nlicence = "MIT"\n[datasheet]\nmotivation = "Built for tests."\n')
    n = load_narrative(toml)
    assert n.owners == ("A <a@x.org>",) and n.primary_uses == ("Screening", "Ranking") and n.licence == "MIT"
    assert n.datasheet.motivation == "Built for tests."
    yml = tmp_path / "narrative.yaml"
    yml.write_text("modelcard:\n  caveats:\n    - one\n    - two\n  overview: hi\n")
    assert load_narrative(yml) == Narrative(caveats=("one", "two"), overview="hi")
    plain = tmp_path / "plain.toml"
    plain.write_text('target = "label"\n')
    assert load_narrative(plain).is_empty


@pytest.mark.parametrize("raw, message", [
    ({"modelcard": {"owner": "x"}}, "unknown field 'owner' in [modelcard]: expected some of model_name"),
    ({"modelcard": {"owners": 3}}, "modelcard.owners must be a list of text items or text with one item per line; found int 3"),
    ({"modelcard": {"overview": ["a"]}}, "modelcard.overview must be text; found list"),
    ({"model_card": {}}, "unknown narrative table(s) 'model_card': expected modelcard and/or datasheet"),
    ({"datasheet": {"why": "x"}}, "unknown field 'why' in [datasheet]"),
])
def test_bad_narratives_say_what_was_expected(raw, message):
    with pytest.raises(ConfigError) as err:
        Narrative.from_dict(raw)
    assert message in str(err.value)


def test_bad_files_and_arguments_raise_audit_errors(tmp_path, report):
    with pytest.raises(ConfigError, match="narrative file not found"):
        load_narrative(tmp_path / "nope.toml")
    bad = tmp_path / "n.yaml"
    bad.write_text("overview: hi\n")
    with pytest.raises(ConfigError, match="has no modelcard or datasheet key"):
        load_narrative(bad)
    with pytest.raises(ConfigError, match="export formats must be among md, html, pdf, json"):
        export_files(report, tmp_path, formats=["docx"])
    with pytest.raises(AuditError, match="expected an AuditReport"):
        build_model_card(42)


def test_csv_safe_neutralises_formulas_only_in_text():
    assert csv_safe("=1+1") == "'=1+1"
    assert csv_safe("+A1") == "'+A1" and csv_safe("-2") == "'-2" and csv_safe("@SUM(A1)") == "'@SUM(A1)"
    assert csv_safe("\t=1") == "'\t=1"
    assert csv_safe("plain") == "plain" and csv_safe("a=b") == "a=b"
    assert csv_safe(-0.5) == -0.5 and csv_safe(3) == 3 and csv_safe(None) is None


def test_cli_exports_every_format_with_the_config_narrative(tmp_path):
    from audit.cli import main

    data = tmp_path / "data.csv"
    evil_frame(400).to_csv(data, index=False)
    cfg = tmp_path / "audit.toml"
    cfg.write_text('target = "label"\nsensitive = ["sex"]\nsections = ["performance"]\n[models]\ncv_folds = 0\nmodels = ["dummy", "logistic"]\n'
                   '[performance]\nbootstrap = 20\nlearning_curve_sizes = [1.0]\n'
                   '[modelcard]\nmodel_name = "CLI model"\nout_of_scope_uses = ["Hiring"]\n[datasheet]\ncollection = "Simulated."\n')
    assert main(["run", str(data), "--config", str(cfg), "--out", str(tmp_path / "out"), "--export", "md,html,pdf,json", "--quiet"]) == 0
    out = tmp_path / "out"
    for name in ("model_card.md", "model_card.html", "model_card.pdf", "model_card.json", "datasheet.md", "datasheet.json"):
        assert (out / name).stat().st_size > 0
    md = (out / "model_card.md").read_text()
    assert md.startswith("# CLI model") and "- Hiring" in md
    assert "Simulated." in (out / "datasheet.md").read_text()
    jsonschema.validate(json.loads((out / "model_card.json").read_text()), SCHEMA)


ALL_AVAILABLE = registry.active().names
DEDICATED = {"explanations": "Most influential features", "robustness": "Perturbations", "drift": "Features, drifted first",
             "privacy": "Strongest attack AUC"}


# Cheaper settings for the full audit; only the options the section modules of this build know.
CHEAP = {"robustness": {"attack_rows": 40, "repeats": 1, "hsj_max_eval": 50, "noise_levels": [0.0, 0.1, 0.5]},
         "privacy": {"target_epsilons": [1.0], "networks": ["logistic"], "bootstrap": 50, "epochs": 2, "attack_rows": 300},
         "explanations": {"permutation_repeats": 2, "n_clusters": 3}, "drift": {"performance_bootstrap": 50}}


def _cheap_options() -> dict:
    import dataclasses

    out = {}
    for name, opts in CHEAP.items():
        if name in ALL_AVAILABLE:
            known = {f.name for f in dataclasses.fields(registry.active()[name].options_type())}
            out[name] = {k: v for k, v in opts.items() if k in known}
    return out


@pytest.mark.slow
def test_full_audit_card_summarises_every_section_safely(tmp_path):
    cfg = small_config(ALL_AVAILABLE, **_cheap_options())
    # One worker: robustness and privacy both import ART lazily, and two threads importing it at
    # once can hit Python's import deadlock detector (reported to the lead).
    rep = run_audit(cfg, evil_frame(600), workers=1)
    card = build_model_card(rep, narrative=NARRATIVE, review=REVIEW)
    md = render_markdown(card)
    for name in ALL_AVAILABLE:
        sec = card.section("quantitative_analyses" if name in ("performance", "fairness") else name)
        statuses = [b.status for b in sec.blocks if hasattr(b, "status")]
        assert statuses and statuses[0 if name == "performance" else -1] != "not run", name
        if name in DEDICATED:
            assert DEDICATED[name] in md, name
    page = render_html(card)
    p = _Tags()
    p.feed(page)
    assert set(p.tags) <= ALLOWED_TAGS and not [a for a in p.attrs if a[1].startswith("on")]
    assert "<script" not in page.lower()
    jsonschema.Draft7Validator(SCHEMA, format_checker=jsonschema.FormatChecker()).validate(to_model_card_toolkit(card))
    text = " ".join(" ".join(pg.extract_text().split()) for pg in PdfReader(io.BytesIO(render_pdf(card))).pages)
    assert all(t in text for t in SECTION_TITLES)
    a = export_files(rep, tmp_path / "a", formats=["md", "html", "pdf", "json"], narrative=NARRATIVE)
    b = export_files(rep, tmp_path / "b", formats=["md", "html", "pdf", "json"], narrative=NARRATIVE)
    assert all(x.read_bytes() == y.read_bytes() for x, y in zip(a, b))


def test_the_audit_config_narrative_is_the_default(report):
    rep = run_audit(small_config(("performance",), modelcard={"model_name": "From the config", "caveats": ["c1"]},
                                 datasheet={"motivation": "Why not."}), evil_frame(300), workers=1)
    assert build_model_card(rep).title == "From the config"
    assert "Why not." in render_markdown(__import__("audit.cards.datasheet").cards.datasheet.datasheet(rep))
    assert build_model_card(rep, narrative=Narrative()).title != "From the config"  # an explicit narrative wins
    broken = rep.to_dict()
    broken["manifest"]["config"]["section_options"]["modelcard"] = {"owner": "typo"}
    assert build_model_card(broken).narrative == Narrative()  # an old or hand-edited report still exports


def test_cli_rejects_a_bad_narrative_before_running_the_audit(tmp_path, capsys):
    from audit.cli import main

    cfg = tmp_path / "audit.toml"
    cfg.write_text('target = "label"\nsensitive = ["sex"]\n[modelcard]\nowner = "typo"\n')
    data = tmp_path / "data.csv"
    evil_frame(300).to_csv(data, index=False)
    assert main(["run", str(data), "--config", str(cfg), "--out", str(tmp_path / "out"), "--export", "md"]) == 2
    assert not (tmp_path / "out" / "report.json").exists()  # failed before the audit ran
    assert "unknown field 'owner' in [modelcard]" in capsys.readouterr().err


def test_a_regression_audit_gets_a_card_too():
    df = evil_frame(400)
    df["label"] = 3 * df["x1"] + np.random.default_rng(0).normal(size=len(df))
    rep = run_audit(small_config(), df, workers=1)
    card = build_model_card(rep)
    md = render_markdown(card)
    assert "regression of 'label'" in md and "Decision threshold" not in md
    assert "| r2 |" in md
    render_html(card), render_pdf(card)
    jsonschema.Draft7Validator(SCHEMA, format_checker=jsonschema.FormatChecker()).validate(to_model_card_toolkit(card))
