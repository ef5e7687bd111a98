"""Plotly figure specs as plain dicts (rendered in the page by plotly.js).

Every string that comes from data goes through :func:`esc`: plotly renders a
small HTML subset in labels, so ``<script>`` must arrive as ``&lt;script&gt;``
to be drawn as text. The page embeds these dicts as escaped JSON.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

PALETTE = ["#3b5bdb", "#e8590c", "#2b8a3e", "#c2255c", "#7048e8", "#0c8599", "#e67700", "#5c940d"]
L3_COLORS = {
    "Practical values": "#3b5bdb",
    "Epistemic values": "#0c8599",
    "Social values": "#2b8a3e",
    "Protective values": "#c2255c",
    "Personal values": "#e67700",
}
FONT = {"family": "Inter, system-ui, -apple-system, Segoe UI, Roboto, sans-serif", "size": 12, "color": "#1f2933"}


def esc(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=False)


def num(value: Any) -> float | None:
    """JSON-safe float: NaN/inf/None -> None."""
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


@dataclass
class Chart:
    id: str
    figure: dict[str, Any]
    caption: str = ""
    height: int = 0  # px; 0 = the figure's own layout height

    def __post_init__(self) -> None:
        if not self.height:
            self.height = int(self.figure.get("layout", {}).get("height", 420))
        self.figure.setdefault("layout", {})["height"] = self.height


def layout(title: str = "", height: int = 420, **extra: Any) -> dict[str, Any]:
    base = {
        "title": {"text": esc(title), "x": 0, "xanchor": "left", "font": {"size": 14}} if title else None,
        "height": height,
        "margin": {"l": 10, "r": 20, "t": 40 if title else 20, "b": 40},
        "font": FONT,
        "paper_bgcolor": "rgba(0,0,0,0)",
        "plot_bgcolor": "rgba(0,0,0,0)",
        "hoverlabel": {"font": {"family": FONT["family"]}},
    }
    base = {k: v for k, v in base.items() if v is not None}
    base.update(extra)
    return base


def bar_with_ci(
    names: list[str],
    series: list[dict[str, Any]],
    title: str = "",
    xaxis_title: str = "share of subjective conversations",
    percent: bool = True,
) -> dict[str, Any]:
    """Horizontal bars, largest on top; each series: {label, values, low, high, color}."""
    height = max(240, (16 + 12 * len(series)) * len(names) + 110)
    traces = []
    for i, s in enumerate(series):
        vals = [num(v) for v in s["values"]]
        trace: dict[str, Any] = {
            "type": "bar",
            "orientation": "h",
            "name": esc(s["label"]),
            "y": [esc(n) for n in names],
            "x": vals,
            "marker": {"color": s.get("color", PALETTE[i % len(PALETTE)])},
            "hovertemplate": "%{y}: %{x:" + (".1%" if percent else ".3g") + "}<extra>" + esc(s["label"]) + "</extra>",
        }
        if s.get("low") is not None and s.get("high") is not None:
            trace["error_x"] = {
                "type": "data",
                "symmetric": False,
                "array": [
                    None if v is None or (hv := num(h)) is None else hv - v
                    for v, h in zip(vals, s["high"], strict=True)
                ],
                "arrayminus": [
                    None if v is None or (lv := num(lo)) is None else v - lv
                    for v, lo in zip(vals, s["low"], strict=True)
                ],
                "color": "#52606d",
                "thickness": 1.2,
                "width": 3,
            }
        traces.append(trace)
    return {
        "data": traces,
        "layout": layout(
            title,
            height,
            barmode="group",
            xaxis={
                "title": {"text": esc(xaxis_title)},
                "tickformat": ".0%" if percent else None,
                "gridcolor": "#e4e7eb",
                "rangemode": "tozero",
            },
            yaxis={"autorange": "reversed", "automargin": True},
            legend={"orientation": "h", "x": 0, "y": 1.0, "yanchor": "bottom", "xanchor": "left"},
            margin={"l": 10, "r": 20, "t": 60 if title else 30, "b": 50},
        ),
    }


def heatmap(
    z: list[list[float | None]],
    x: list[str],
    y: list[str],
    title: str = "",
    zlabel: str = "residual",
    min_bound: float = 3.0,
    zformat: str = ".2f",
) -> dict[str, Any]:
    flat = [abs(v) for row in z for v in row if v is not None]
    bound = max(min_bound, max(flat) if flat else min_bound)
    return {
        "data": [
            {
                "type": "heatmap",
                "z": z,
                "x": [esc(v) for v in x],
                "y": [esc(v) for v in y],
                "zmid": 0,
                "zmin": -bound,
                "zmax": bound,
                "colorscale": [[0, "#2166ac"], [0.25, "#92c5de"], [0.5, "#f7f7f7"], [0.75, "#f4a582"], [1, "#b2182b"]],
                "colorbar": {"title": {"text": esc(zlabel)}, "thickness": 12},
                "hovertemplate": "%{y} × %{x}<br>" + esc(zlabel) + ": %{z:" + zformat + "}<extra></extra>",
                "hoverongaps": False,
                "xgap": 1,
                "ygap": 1,
            }
        ],
        "layout": layout(
            title,
            max(320, 26 * len(y) + 200),
            xaxis={"tickangle": -40, "automargin": True},
            yaxis={"automargin": True, "autorange": "reversed"},
        ),
    }


def sunburst(
    ids: list[str], labels: list[str], parents: list[str], values: Sequence[float], colors: list[str], hover: list[str]
) -> dict[str, Any]:
    return {
        "data": [
            {
                "type": "sunburst",
                "ids": [esc(v) for v in ids],
                "labels": [esc(v) for v in labels],
                "parents": [esc(v) for v in parents],
                "values": values,
                "branchvalues": "total",
                "maxdepth": 3,
                "insidetextorientation": "radial",
                "marker": {"colors": colors, "line": {"color": "#ffffff", "width": 1}},
                "customdata": [esc(h) for h in hover],
                "hovertemplate": "<b>%{label}</b><br>%{customdata}<extra></extra>",
            }
        ],
        "layout": layout("", 640, margin={"l": 0, "r": 0, "t": 10, "b": 10}),
    }
