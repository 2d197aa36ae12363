"""Where things are: the pages the others link to and the display name of each report area."""

from __future__ import annotations

START_PAGE = "pages/start.py"
OVERVIEW_PAGE = "pages/overview.py"

AREA_LABELS = {
    "data": "Data", "models": "Models", "performance": "Performance", "fairness": "Fairness",
    "explanations": "Explanations", "robustness": "Robustness", "drift": "Drift", "privacy": "Privacy",
}
