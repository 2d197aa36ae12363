"""Where things are: the pages the others link to and the display name of each report area."""

from __future__ import annotations

from audit.sections import registry

START_PAGE = "views/start.py"
OVERVIEW_PAGE = "views/overview.py"

def area_label(area: str) -> str:
    """How a scorecard area or section is named on screen (section titles come from the registry)."""
    reg = registry.active()
    return reg[area].title if area in reg else {"data": "Data", "models": "Models"}.get(area, area)
