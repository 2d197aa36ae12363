"""Model card: edit the narrative the data cannot tell, preview the card, download it (md / html / pdf / json)."""

import json

import streamlit as st

from audit.cards.modelcard import DATASHEET_FIELDS, MODELCARD_FIELDS, Narrative, datasheet_csv, render_html, render_markdown, render_pdf, to_model_card_toolkit
from audit.errors import AuditError
from dashboard import components as ui
from dashboard import state
from dashboard.components import reviews

report = ui.require_report()
ui.header(report, "Model card")
key = state.current_key() or "report"
opts = report.manifest.section_options
current = state.narrative_fields(key) or {t: dict(opts.get(t, {})) for t in ("modelcard", "datasheet")}
try:
    narrative = Narrative.from_dict(current)
except AuditError as exc:  # a bad [modelcard] table in the audit's config
    st.error(ui.md(exc))
    narrative = Narrative()
review = reviews.review_summary_for(key)
bundle = state.model_card(key, json.dumps(narrative.to_dict(), sort_keys=True), json.dumps(review or {}, sort_keys=True), report)
card, sheet = bundle.card, bundle.sheet

# Files are rendered only when their button is clicked (the PDF takes a moment).
c = st.columns(4)
c[0].download_button("Markdown", lambda: bundle.markdown, "model_card.md", "text/markdown", icon=":material/download:", on_click="ignore")
c[1].download_button("HTML", lambda: render_html(card), "model_card.html", "text/html", icon=":material/download:", on_click="ignore")
c[2].download_button("PDF", lambda: render_pdf(card), "model_card.pdf", "application/pdf", icon=":material/download:", on_click="ignore")
c[3].download_button("Model Card Toolkit JSON", lambda: json.dumps(to_model_card_toolkit(card), indent=2, ensure_ascii=False),
                     "model_card.json", "application/json", icon=":material/download:", on_click="ignore")
d = st.columns(4)
d[0].download_button("Datasheet (Markdown)", lambda: render_markdown(sheet), "datasheet.md", "text/markdown", on_click="ignore")
d[1].download_button("Datasheet (HTML)", lambda: render_html(sheet), "datasheet.html", "text/html", on_click="ignore")
d[2].download_button("Datasheet (PDF)", lambda: render_pdf(sheet), "datasheet.pdf", "application/pdf", on_click="ignore")
d[3].download_button("Datasheet columns (CSV)", lambda: datasheet_csv(sheet), "datasheet_columns.csv", "text/csv", on_click="ignore")


def edit() -> None:
    empty = Narrative()
    with st.form("narrative"):
        st.markdown("The audit fills in the numbers; these fields say what only people can. List fields take one item per line.")
        values: dict = {"modelcard": {}, "datasheet": {}}
        for table, fields, blank in (("modelcard", MODELCARD_FIELDS, empty), ("datasheet", DATASHEET_FIELDS, empty.datasheet)):
            st.markdown("**Model card**" if table == "modelcard" else "**Datasheet**")
            for name, (label, question) in fields.items():
                v = current.get(table, {}).get(name, getattr(blank, name))
                text = "\n".join(v) if isinstance(v, (list, tuple)) else str(v or "")
                k = f"nar_{key[:12]}_{table}_{name}"
                if isinstance(getattr(blank, name), tuple) or table == "datasheet" or name in ("overview", "factors"):
                    values[table][name] = st.text_area(label, text, help=question, key=k, height=80)
                else:
                    values[table][name] = st.text_input(label, text, help=question, key=k)
        submitted = st.form_submit_button("Update the card", icon=":material/edit:")
    if submitted:
        try:
            state.set_narrative_fields(key, Narrative.from_dict(values).to_dict())
        except AuditError as exc:
            st.error(ui.md(exc))
        else:
            st.rerun()


def preview() -> None:
    with st.container(border=True):
        st.markdown(bundle.markdown)


ui.lazy_tabs({"Narrative": edit, "Preview": preview}, key="card_tab")
