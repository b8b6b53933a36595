"""Plotly figures of the registry pages, rendered server-side into HTML fragments.

Figures are plotly figure dicts rendered by ``plotly.io.to_html`` without validation:
building the same multi-panel figure with ``make_subplots`` and validated graph
objects costs ~40 ms a page, this costs well under one. Every chart sits beside a
table of the same numbers (the templates show both).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import plotly.io as pio

_FONT = {"size": 12}
_COLOURS = ["#1f4e79", "#1b6e3a", "#a4161a", "#7a4f01", "#5b3f8c"]


def _html(figure: dict[str, Any], div_id: str) -> str:
    return str(
        pio.to_html(
            figure,
            full_html=False,
            include_plotlyjs=False,
            div_id=div_id,
            config={"displaylogo": False, "responsive": True},
            validate=False,
        )
    )


def _panels(
    titles: Sequence[str], traces: Sequence[dict[str, Any]], *, panel_height: int
) -> dict[str, Any]:
    """A grid of small panels (up to four a row), one trace each, each with its own y axis:
    metrics have different scales (accuracy near 1, latency in hundreds of ms)."""
    cols = min(len(titles), 4)
    rows = (len(titles) + cols - 1) // cols
    gap_x, gap_y = 0.06, 0.18 / rows
    width = (1 - gap_x * (cols - 1)) / cols
    height = (1 - gap_y * (rows - 1)) / rows
    layout: dict[str, Any] = {
        "height": panel_height * rows + 40,
        "margin": {"l": 50, "r": 20, "t": 40, "b": 40},
        "font": _FONT,
        "showlegend": False,
        "plot_bgcolor": "white",
        "annotations": [],
    }
    data = []
    for i, (title, trace) in enumerate(zip(titles, traces, strict=True)):
        row, col = divmod(i, cols)
        suffix = "" if i == 0 else str(i + 1)
        x0 = col * (width + gap_x)
        y1 = 1 - row * (height + gap_y)
        layout[f"xaxis{suffix}"] = {"domain": [x0, x0 + width], "anchor": f"y{suffix}"}
        layout[f"yaxis{suffix}"] = {
            "domain": [y1 - height, y1],
            "anchor": f"x{suffix}",
            "gridcolor": "#e5e5e5",
            "zeroline": True,
            "rangemode": "tozero",
        }
        layout["annotations"].append(
            {
                "text": title,
                "x": x0 + width / 2,
                "y": y1,
                "xref": "paper",
                "yref": "paper",
                "xanchor": "center",
                "yanchor": "bottom",
                "showarrow": False,
                "font": {"size": 13},
            }
        )
        data.append({**trace, "xaxis": f"x{suffix}", "yaxis": f"y{suffix}"})
    return {"data": data, "layout": layout}


def eval_bar_chart(rows: Sequence[tuple[str, str, float]], *, div_id: str = "eval-chart") -> str:
    """One small panel per (metric, dataset) with the version's latest value."""
    if not rows:
        return ""
    titles = [f"{metric} · {dataset}" if dataset else metric for metric, dataset, _ in rows]
    traces = [
        {
            "type": "bar",
            "x": ["value"],
            "y": [value],
            "text": [f"{value:.4g}"],
            "marker": {"color": _COLOURS[0]},
        }
        for _, _, value in rows
    ]
    return _html(_panels(titles, traces, panel_height=200), div_id)


def compare_chart(
    metrics: Sequence[str],
    versions: Sequence[int],
    values: dict[tuple[str, int], float | None],
    *,
    div_id: str = "compare-chart",
) -> str:
    """One panel per metric, one bar per version."""
    if not metrics:
        return ""
    labels = [f"v{n}" for n in versions]
    colours = [_COLOURS[i % len(_COLOURS)] for i in range(len(versions))]
    traces = [
        {
            "type": "bar",
            "x": labels,
            "y": [values.get((metric, n)) for n in versions],
            "marker": {"color": colours},
        }
        for metric in metrics
    ]
    return _html(_panels(metrics, traces, panel_height=220), div_id)


def trend_chart(
    points: Sequence[tuple[int, float]], *, metric: str, div_id: str = "trend-chart"
) -> str:
    """A metric's latest value for each version, in version order."""
    if not points:
        return ""
    figure = {
        "data": [
            {
                "type": "scatter",
                "mode": "lines+markers",
                "x": [f"v{number}" for number, _ in points],
                "y": [value for _, value in points],
                "name": metric,
                "line": {"color": _COLOURS[0]},
            }
        ],
        "layout": {
            "title": {"text": f"{metric} across versions"},
            "xaxis": {"title": {"text": "version"}, "type": "category"},
            "yaxis": {"title": {"text": metric}, "gridcolor": "#e5e5e5"},
            "height": 340,
            "margin": {"l": 60, "r": 20, "t": 50, "b": 50},
            "font": _FONT,
            "plot_bgcolor": "white",
        },
    }
    return _html(figure, div_id)
