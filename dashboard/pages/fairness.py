"""Fairness: rendered from the report's `fairness` section."""

from dashboard import components as ui

report = ui.require_report()
ui.header(report, "Fairness", "fairness")
sec = ui.require_section(report, "fairness")
ui.verdict(sec.verdict)
ui.whole_json(sec)
