"""Rendering helpers for the pages, one module per idea. They draw what the report holds; they compute nothing.

The names every page uses are re-exported here (``from dashboard.components import ...``
or ``components as ui``): ``text`` (escaping, badges, number formats), ``nav`` (page paths,
area names), ``page`` (verdict box, tables, charts, tabs, header, report guard),
``progress`` (running an audit with a progress board) and ``headlines`` (the overview's
numbers). The panels of single pages are imported from their own module: ``intake``
(New audit), ``datasheet`` (Data), ``auth`` (sign-in), ``reviews`` and ``history``.
"""

from dashboard.charts.base import metric_name
from dashboard.components.headlines import headlines
from dashboard.components.nav import OVERVIEW_PAGE, START_PAGE, area_label
from dashboard.components.page import (
    chart,
    header,
    lazy_tabs,
    require_report,
    require_section,
    section_timing,
    table,
    verdict,
    whole_json,
)
from dashboard.components.progress import run_audit_with_progress
from dashboard.components.text import badge, fmt, fmt_ci, md

__all__ = [
    "area_label", "OVERVIEW_PAGE", "START_PAGE", "badge", "chart", "fmt", "fmt_ci", "header", "headlines", "lazy_tabs",
    "md", "metric_name", "require_report", "require_section", "run_audit_with_progress", "section_timing", "table",
    "verdict", "whole_json",
]
