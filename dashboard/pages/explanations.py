"""Explanations: rendered from the report's `explanations` section."""

from dashboard import components as ui

report = ui.require_report()
ui.header(report, "Explanations", "explanations")
sec = ui.require_section(report, "explanations")
ui.verdict(sec.verdict)
ui.whole_json(sec)
