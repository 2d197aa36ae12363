"""Robustness: rendered from the report's `robustness` section."""

from dashboard import components as ui

report = ui.require_report()
ui.header(report, "Robustness", "robustness")
sec = ui.require_section(report, "robustness")
ui.verdict(sec.verdict)
ui.whole_json(sec)
