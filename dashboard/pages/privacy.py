"""Privacy: rendered from the report's `privacy` section."""

from dashboard import components as ui

report = ui.require_report()
ui.header(report, "Privacy", "privacy")
sec = ui.require_section(report, "privacy")
ui.verdict(sec.verdict)
ui.whole_json(sec)
