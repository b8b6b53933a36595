"""Plotly figure of the team quota page, rendered server-side; a table beside it holds
the same numbers."""

from __future__ import annotations

from collections.abc import Sequence

import plotly.graph_objects as go

from apps.quotas.selectors import HistoryPoint

_LAYOUT = {
    "margin": {"l": 50, "r": 20, "t": 40, "b": 50},
    "height": 320,
    "template": "plotly_white",
    "font": {"size": 12},
}


def history_chart(points: Sequence[HistoryPoint], *, div_id: str = "quota-history") -> str:
    """Granted GPUs (a step line) and the day's peak GPUs in use (bars), per day."""
    if not points:
        return ""
    days = [p.day.isoformat() for p in points]
    fig = go.Figure()
    fig.add_trace(go.Bar(x=days, y=[p.in_use for p in points], name="in use (daily peak)"))
    fig.add_trace(
        go.Scatter(
            x=days,
            y=[p.granted for p in points],
            name="granted",
            mode="lines",
            line={"shape": "hv", "width": 3},
        )
    )
    fig.update_layout(
        title="GPUs granted and in use, last 30 days",
        yaxis_title="GPUs",
        legend={"orientation": "h", "y": -0.2},
        **_LAYOUT,
    )
    return str(
        fig.to_html(
            full_html=False,
            include_plotlyjs=False,
            div_id=div_id,
            config={"displaylogo": False, "responsive": True},
        )
    )
