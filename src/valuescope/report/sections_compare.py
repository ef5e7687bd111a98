"""Report section: model comparison (runs with several models, or `valuescope compare` output).

With many groups (say, each model against the rest) one chart per pair would
bury the reader, so the page shows an overview heatmap of differences, bars
for the few pairs with the most significant differences, and a table.
"""

from __future__ import annotations

import pandas as pd

from valuescope.report.charts import PALETTE, Chart, esc, heatmap, layout, num
from valuescope.report.config import ReportConfig
from valuescope.report.data import ReportData
from valuescope.report.sections import Section, Table, pct, text
from valuescope.report.sections_analysis import RESPONSE_LABEL, _fmt_q, _slug

MAX_PAIR_CHARTS = 3


def _pair_label(a: str, b: str) -> str:
    return str(a) if str(b).startswith("rest") else f"{a} vs {b}"


def _diff_bars(top: pd.DataFrame, title: str) -> dict:
    names = top["name"].tolist()
    diffs = [num(d) or 0.0 for d in top["diff"]]
    return {
        "data": [
            {
                "type": "bar",
                "orientation": "h",
                "y": [esc(n) for n in names],
                "x": diffs,
                "marker": {"color": [PALETTE[0] if d > 0 else PALETTE[1] for d in diffs]},
                "error_x": {
                    "type": "data",
                    "symmetric": False,
                    "array": [max(0.0, (num(h) or d) - d) for h, d in zip(top["ci_high"], diffs, strict=True)],
                    "arrayminus": [max(0.0, d - (num(lo) or d)) for lo, d in zip(top["ci_low"], diffs, strict=True)],
                    "color": "#52606d",
                    "thickness": 1.2,
                    "width": 3,
                },
                "hovertemplate": "%{y}: %{x:+.1%}<extra></extra>",
            }
        ],
        "layout": layout(
            title,
            max(260, 26 * len(names) + 100),
            xaxis={"tickformat": "+.0%", "zeroline": True, "zerolinecolor": "#1f2933", "gridcolor": "#e4e7eb"},
            yaxis={"automargin": True, "autorange": "reversed"},
        ),
    }


def comparison_section(data: ReportData, config: ReportConfig) -> Section | None:
    comp = data.get("compare")
    if comp is None:
        return None
    s = Section(
        "comparison",
        "Model comparison",
        "Differences in the share of conversations expressing each AI value, with 95% intervals "
        '(positive: more often in the first group; "rest" is every other model). The tables list the '
        "differences that stay significant after correction for multiple testing.",
    )
    ai = comp[comp["side"] == "ai"]
    level = "value" if (ai["level"] == "value").any() else (ai["level"].iloc[0] if len(ai) else "value")
    ai = ai[ai["level"] == level].copy()
    if ai.empty:
        s.note = "No comparison cells above the privacy floor."
        return s
    ai["sig"] = ai["significant"].fillna(False).astype(bool)
    ai["absdiff"] = ai["diff"].abs()
    pairs = (
        ai.groupby(["group_a", "group_b"])
        .agg(n_sig=("sig", "sum"), top=("absdiff", "max"))
        .reset_index()
        .sort_values(["n_sig", "top"], ascending=False)
    )
    if len(pairs) > 1:
        sig_names = ai[ai["sig"]].groupby("name")["absdiff"].max().sort_values(ascending=False)
        names = (
            (sig_names if len(sig_names) else ai.groupby("name")["absdiff"].max().sort_values(ascending=False))
            .head(config.top_n)
            .index.tolist()
        )
        rows = [_pair_label(a, b) for a, b in zip(pairs["group_a"], pairs["group_b"], strict=True)]
        grid = ai.pivot_table(index=["group_a", "group_b"], columns="name", values="diff", aggfunc="first")
        z = [
            [num(grid.at[(a, b), n]) if (a, b) in grid.index and n in grid.columns else None for n in names]
            for a, b in zip(pairs["group_a"], pairs["group_b"], strict=True)
        ]
        fig = heatmap(z, names, rows, "Difference in share, every group", "difference", min_bound=0.05, zformat="+.1%")
        s.charts.append(Chart("chart-compare-overview", fig))
    for a, b in pairs.head(MAX_PAIR_CHARTS)[["group_a", "group_b"]].itertuples(index=False):
        sub = ai[(ai["group_a"] == a) & (ai["group_b"] == b)].sort_values("absdiff", ascending=False).head(config.top_n)
        s.charts.append(
            Chart(
                f"chart-compare-{_slug(str(a))}-{_slug(str(b))}",
                _diff_bars(sub, f"{_pair_label(a, b)}: difference in share"),
            )
        )
    sig = ai[ai["sig"]].sort_values("absdiff", ascending=False).head(50)
    s.tables.append(
        Table(
            f"Significant differences ({int(ai['sig'].sum())} of {len(ai)} tested)",
            ["group", "compared with", "value", "share", "share (other)", "difference", "95% interval", "q", "status"],
            [
                [
                    text(r.group_a),
                    text(r.group_b),
                    text(r.name),
                    pct(r.rate_a),
                    pct(r.rate_b),
                    pct(r.diff),
                    f"{pct(r.ci_low)} – {pct(r.ci_high)}",
                    _fmt_q(r.q_value),
                    text(r.status),
                ]
                for r in sig.itertuples(index=False)
            ],
        )
    )
    cr = data.get("compare_responses")
    if cr is not None and not cr.empty:
        cr = cr.sort_values("p_value").head(30)
        s.tables.append(
            Table(
                "Response types compared",
                ["group", "compared with", "response", "rate", "rate (other)", "difference", "q"],
                [
                    [
                        text(r.group_a),
                        text(r.group_b),
                        RESPONSE_LABEL.get(r.response, text(r.response)),
                        pct(r.rate_a),
                        pct(r.rate_b),
                        pct(r.diff),
                        _fmt_q(r.q_value),
                    ]
                    for r in cr.itertuples(index=False)
                ],
            )
        )
    return s
