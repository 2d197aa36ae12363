"""Drift: rendered from the report's `drift` section."""

from dashboard import components as ui

report = ui.require_report()
ui.header(report, "Drift", "drift")
sec = ui.require_section(report, "drift")
ui.verdict(sec.verdict)
ui.whole_json(sec)
