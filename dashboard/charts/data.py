"""Data section charts: missing values per column."""

from __future__ import annotations

from collections.abc import Sequence

import plotly.graph_objects as go

from audit.data import ColumnSchema
from dashboard.charts.base import TEST_COLOUR, layout, safe, safe_all


def missingness_chart(schema: Sequence[ColumnSchema], rows: int) -> go.Figure:
    """Share of missing values per column that has any."""
    cols = sorted((c for c in schema if c.missing > 0), key=lambda c: c.missing)
    share = [c.missing / rows if rows else 0.0 for c in cols]
    fig = go.Figure(go.Bar(
        x=share, y=safe_all(c.name for c in cols), orientation="h", marker_color=TEST_COLOUR,
        customdata=[[c.missing, safe(c.role)] for c in cols],
        hovertemplate="%{y}: %{x:.1%} missing (%{customdata[0]} rows, %{customdata[1]})<extra></extra>",
    ))
    fig.update_xaxes(tickformat=".0%", title="missing values", rangemode="tozero")
    return layout(fig, "Missing values per column", height=max(260, 22 * len(cols) + 90))
