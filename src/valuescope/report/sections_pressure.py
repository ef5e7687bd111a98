"""Report section: values under pressure (probe runs only; see analysis/pressure.py).

Shown only when the run holds a probe's pressure tables. Per pressure type: how
the model responded to unethical requests (resistance, harmful compliance) at
the first answer and after the pushback, what share of its values it kept when
pushed, the values it held and dropped, the values most distinctive of each
pressure, and the anomaly-score distribution.
"""

from __future__ import annotations

import pandas as pd

from valuescope.report.charts import PALETTE, Chart, bar_with_ci, num
from valuescope.report.config import ReportConfig
from valuescope.report.data import ReportData
from valuescope.report.sections import Section, Table, pct, text
from valuescope.report.sections_analysis import _fmt_q

SCOPE_ORDER = (
    "all",
    "unethical",
    "benign",
    "neutral",
    "states_value",
    "challenges_value",
    "unethical_justified",
    "nihilism",
    "roleplay",
    "emotional",
    "authority",
)
METRIC_LABEL = {
    "resistance": "resistance",
    "strong_resistance": "strong resistance",
    "harmful_compliance": "harmful compliance",
    "anomalous": "anomalous (score >= 0.5)",
    "disfavoured": "disfavoured value",
    "gave_in": "gave in after pushback",
    "values_held": "values held when pushed",
}


def _ci(row: pd.Series) -> str:
    lo, hi = num(row["ci_low"]), num(row["ci_high"])
    return f"{pct(row['rate'])} [{pct(lo)}, {pct(hi)}]" if lo is not None and hi is not None else pct(row["rate"])


def _scopes(rates: pd.DataFrame) -> list[str]:
    present = set(rates["scope"])
    return [s for s in SCOPE_ORDER if s in present] + sorted(present - set(SCOPE_ORDER))


def _rates_chart(rates: pd.DataFrame, metric: str, title: str, scopes: list[str], turns: list[str]) -> dict | None:
    sub = rates[(rates["metric"] == metric) & (rates["n"] > 0)]
    if metric in (
        "resistance",
        "strong_resistance",
        "harmful_compliance",
    ):  # measured on unethical requests: "all" repeats "unethical"
        sub = sub[sub["scope"] != "all"]
    names = [s for s in scopes if s in set(sub["scope"])]
    if not names:
        return None
    series = []
    for i, turn in enumerate(turns):
        t = sub[sub["turn"] == turn].set_index("scope")
        series.append(
            {
                "label": f"turn {turn}" if turn[0].isdigit() else turn,
                "color": PALETTE[i % len(PALETTE)],
                "values": [t["rate"].get(s) for s in names],
                "low": [t["ci_low"].get(s) for s in names],
                "high": [t["ci_high"].get(s) for s in names],
            }
        )
    return bar_with_ci(names, series, title=title, xaxis_title="share of probe conversations (95% Wilson CI)")


def pressure_section(data: ReportData, config: ReportConfig) -> Section | None:
    rates = data.get("pressure_rates")
    if rates is None or rates.empty:
        return None
    s = Section(
        "pressure",
        "Values under pressure",
        "This run is a probe (valuescope probe): a scenario suite sent to the model, each scenario in a task context "
        "under one kind of pressure, followed by a user turn that pushes back. Resistance and harmful compliance are "
        "measured on the unethical requests; 'values held' is the share of (conversation, value) pairs expressed in "
        "the first answer that the model still expressed after the pushback. Intervals are 95% Wilson intervals.",
        nav="Pressure",
    )
    scopes = _scopes(rates)
    for metric, title, turns in (
        ("resistance", "Resistance to unethical requests", ["1", "2"]),
        ("harmful_compliance", "Harmful compliance on unethical requests", ["1", "2"]),
        ("values_held", "Values held after pushback", ["1->2"]),
    ):
        fig = _rates_chart(rates, metric, title, scopes, turns)
        if fig is not None:
            s.charts.append(Chart(f"chart-pressure-{metric}", fig))
    shown = rates[
        (rates["scope"].isin(["all", "unethical", "benign"]))
        & (rates["n"] > 0)
        & rates["turn"].isin(["final", "any", "1->2"])
    ]
    s.tables.append(
        Table(
            "Headline rates (the release gate's metrics: key = scope.metric@turn)",
            ["key", "metric", "rate [95% CI]", "k / n"],
            [
                [text(r.key), METRIC_LABEL.get(r.metric, r.metric), _ci(pd.Series(r._asdict())), f"{r.k} / {r.n}"]
                for r in shown.itertuples()
            ],
        )
    )
    resp = data.get("pressure_responses")
    if resp is not None and not resp.empty:
        rows = []
        allctx = resp[(resp["context"] == "all") & (resp["n"] > 0)]
        for (pressure, turn), g in allctx.groupby(["pressure", "turn"], sort=False):
            top = g.sort_values("n", ascending=False).head(3)
            rows.append(
                [
                    text(pressure),
                    turn,
                    int(g["n_total"].iloc[0]),
                    "; ".join(
                        f"{r.response.replace('_', ' ')} {pct(r.share)} [{pct(r.ci_low)}, {pct(r.ci_high)}]"
                        for r in top.itertuples()
                    ),
                ]
            )
        s.tables.append(
            Table(
                "Response types per pressure and turn (top three, 95% CI)",
                ["pressure", "turn", "n", "response types"],
                rows,
            )
        )
    vals = data.get("pressure_values")
    if vals is not None and not vals.empty:
        top = vals[vals["pressure"] == "all"].head(config.top_n)
        s.tables.append(
            Table(
                "AI values after pushback: held or dropped (all pressures)",
                ["value", "in first answer", "held", "dropped", "hold rate [95% CI]"],
                [
                    [
                        text(r.value),
                        r.n_turn1,
                        r.held,
                        r.dropped,
                        f"{pct(r.hold_rate)} [{pct(r.ci_low)}, {pct(r.ci_high)}]",
                    ]
                    for r in top.itertuples()
                ],
            )
        )
    dist = data.get("pressure_distinctive")
    if dist is not None and not dist.empty:
        sig = dist[dist["significant"]].sort_values("residual", ascending=False).groupby(["turn", "pressure"]).head(3)
        s.tables.append(
            Table(
                "Most distinctive AI values per pressure (adjusted residual > 0, corrected q < alpha)",
                ["turn", "pressure", "value", "conversations", "lift", "residual", "q"],
                [
                    [r.turn, text(r.pressure), text(r.value), r.o, f"{r.lift:.2f}", f"{r.residual:.1f}", _fmt_q(r.q)]
                    for r in sig.sort_values(["turn", "pressure"]).itertuples()
                ],
            )
        )
    anom = data.get("pressure_anomalies")
    if anom is not None and not anom.empty:
        s.tables.append(
            Table(
                "harmful_score and anomaly_score per pressure and turn",
                ["pressure", "turn", "score", "n", "mean [95% CI]", "median", "p90", "max", "share >= 0.5 [95% CI]"],
                [
                    [
                        text(r.pressure),
                        r.turn,
                        r.score,
                        r.n,
                        f"{r.mean:.2f} [{num(r.mean_ci_low) or 0:.2f}, {num(r.mean_ci_high) or 0:.2f}]",
                        f"{r.p50:.2f}",
                        f"{r.p90:.2f}",
                        f"{r.max:.2f}",
                        f"{pct(r.share_high)} [{pct(r.share_ci_low)}, {pct(r.share_ci_high)}]",
                    ]
                    for r in anom.itertuples()
                ],
            )
        )
    return s
