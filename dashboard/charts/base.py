"""What every chart module shares: the palette, display names of metrics, layout and error bars.

Pure: no streamlit, no computation. A figure never shows a number the report does not contain.
Text from the user's data, columns, config or input goes into a figure through ``safe`` / ``safe_all``
(``layout`` escapes the title itself, so titles are passed as plain text).
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Sequence

import plotly.graph_objects as go

STATUS_COLOURS = {"pass": "#2e7d32", "warn": "#ed6c02", "fail": "#c62828"}
TRAIN_COLOUR, TEST_COLOUR, VAL_COLOUR = "#90a4ae", "#1565c0", "#6a1b9a"
SENSITIVE_COLOUR = "#c62828"
_FONT = dict(size=13)
METRIC_NAMES = {"roc_auc": "ROC AUC", "pr_auc": "PR AUC", "accuracy": "Accuracy", "balanced_accuracy": "Balanced accuracy",
                "f1": "F1", "precision": "Precision", "recall": "Recall", "r2": "R²", "mae": "MAE", "rmse": "RMSE",
                "log_loss": "Log loss", "brier": "Brier score", "ece": "ECE"}


def safe(text: object) -> str:
    """``text`` as plotly plain text.

    Plotly draws a subset of HTML (<b>, <a href>, <span style>, <br>, ...) in trace names, category
    and tick labels, hover text, annotations and titles, so a group label, column name, class or
    category from the user's data must not reach a figure raw. ``quote=False``: plotly decodes
    &amp; &lt; &gt; and numeric entities but shows &quot; literally, and with every "<" escaped no tag
    can open, so quotes are harmless and an ordinary label looks the same.
    """
    return html.escape(str(text), quote=False)


def safe_all(values: Iterable[object]) -> list:
    """``safe`` on every string of ``values``; numbers and None stay as they are (axes and hovers format them)."""
    return [safe(v) if isinstance(v, str) else v for v in values]


def metric_name(key: str) -> str:
    """Display name of a metric key of the report."""
    return METRIC_NAMES.get(key, key.replace("_", " "))


def finite(x: float | None) -> bool:
    """True for a real, finite number (plotly draws None as a gap; NaN would break hovers)."""
    return x is not None and isinstance(x, (int, float)) and math.isfinite(x)


def nan_to_none(values: Iterable[float | None]) -> list[float | None]:
    return [v if finite(v) else None for v in values]


def layout(fig: go.Figure, title: str, *, height: int = 380, **kw) -> go.Figure:
    """The house style: title on the left, legend below, tight margins.

    ``title`` is plain text (it often holds a column or group name): it is escaped here, once, so
    callers must not escape it themselves.
    """
    fig.update_layout(title=dict(text=safe(title), x=0, xanchor="left"), height=height, font=_FONT,
                      margin=dict(l=10, r=10, t=50, b=10), legend=dict(orientation="h", y=-0.2), **kw)
    return fig


def error_bars(values: Sequence[float], low: Sequence[float], high: Sequence[float]) -> dict:
    """Asymmetric error bars from interval bounds (missing bounds draw no bar)."""
    plus = [h - v if finite(h) and finite(v) else None for v, h in zip(values, high)]
    minus = [v - l if finite(l) and finite(v) else None for v, l in zip(values, low)]
    return dict(type="data", symmetric=False, array=plus, arrayminus=minus, thickness=1.5, width=6)
