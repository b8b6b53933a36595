"""Plotly figures of the cluster pages, rendered server-side; each sits beside a table."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import plotly.graph_objects as go

_LAYOUT = {
    "margin": {"l": 50, "r": 20, "t": 40, "b": 50},
    "height": 320,
    "template": "plotly_white",
    "font": {"size": 12},
    "legend": {"orientation": "h", "y": -0.2},
}


def capacity_history_chart(
    points: Sequence[tuple[datetime, int, int]], *, title: str, div_id: str = "capacity-chart"
) -> str:
    """Allocatable and requested GPUs per hour, from ``(hour, allocatable, requested)``."""
    if not points:
        return ""
    hours = [hour for hour, _, _ in points]
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=hours,
            y=[allocatable for _, allocatable, _ in points],
            mode="lines+markers",
            name="allocatable",
            line={"shape": "hv"},
        )
    )
    fig.add_trace(
        go.Scatter(
            x=hours,
            y=[requested for _, _, requested in points],
            mode="lines+markers",
            name="requested",
            line={"shape": "hv"},
        )
    )
    fig.update_layout(title=title, yaxis_title="GPUs", yaxis_rangemode="tozero", **_LAYOUT)
    return str(
        fig.to_html(
            full_html=False,
            include_plotlyjs=False,
            div_id=div_id,
            config={"displaylogo": False, "responsive": True},
        )
    )
