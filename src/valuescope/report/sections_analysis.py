"""Report sections, part 3: context, responses, resistance, anomalies, comparison."""

from __future__ import annotations

from typing import Any

import numpy as np

from valuescope.records import RESPONSE_TYPES
from valuescope.report.charts import PALETTE, Chart, bar_with_ci, esc, heatmap, layout, num
from valuescope.report.config import ReportConfig
from valuescope.report.data import ReportData
from valuescope.report.sections import Section, Table, missing, text

RESPONSE_LABEL = {r: r.replace("_", " ") for r in RESPONSE_TYPES}
# support in greens, neutral/reframing in the middle, resistance in reds, "no human values" recedes
RESPONSE_COLORS = {
    "strong_support": "#2b8a3e",
    "mild_support": "#8ce99a",
    "neutral_acknowledgment": "#ced4da",
    "reframing": "#9775fa",
    "mild_resistance": "#ffa8a8",
    "strong_resistance": "#e03131",
    "no_human_values": "#e9ecef",
}


KIND_ORDER = ("task_category", "task_cluster", "context")
KIND_LABEL = {"task_category": "Task category", "task_cluster": "Task cluster", "context": "Source's own context label"}


def _fmt_q(q: Any) -> str:
    v = num(q)
    return "—" if v is None else (f"{v:.1e}" if v < 0.001 else f"{v:.3f}")


def context_section(data: ReportData, config: ReportConfig) -> Section:
    s = Section(
        "context",
        "Values in context",
        "Standardised residuals of value × context counts: red cells are values expressed more often in that "
        "context than independence predicts, blue less. Only cells above the privacy floor are tested.",
    )
    ctx = data.get("context")
    if ctx is None:
        s.note = missing("analysis/context")
        return s
    ai = ctx[ctx["side"] == "ai"]
    kinds = sorted(
        ai["context_kind"].dropna().unique(), key=lambda k: (KIND_ORDER.index(k) if k in KIND_ORDER else 99, k)
    )
    for kind in kinds:
        sub = ai[ai["context_kind"] == kind]
        level = "l2" if (sub["level"] == "l2").any() else sub["level"].iloc[0]
        sub = sub[sub["level"] == level]
        # columns: the names with the strongest deviations anywhere; rows: contexts
        strength = sub.assign(a=sub["residual"].abs()).groupby("name")["a"].max().sort_values(ascending=False)
        names = strength.head(config.top_n).index.tolist()
        contexts = sorted(sub["context"].dropna().unique())
        if not names or not contexts:
            continue
        grid = sub.pivot_table(index="context", columns="name", values="residual", aggfunc="first")
        z = [[num(grid.at[c, n]) if c in grid.index and n in grid.columns else None for n in names] for c in contexts]
        title = (
            f"{KIND_LABEL.get(kind, kind.replace('_', ' '))} × {'second-level clusters' if level == 'l2' else level}"
        )
        s.charts.append(
            Chart(
                f"chart-context-{_slug(kind)}",
                heatmap(z, names, contexts, title),
                height=max(320, 26 * len(contexts) + 200),
            )
        )
    if "significant" in ai.columns:
        sig = ai[ai["significant"].fillna(False).astype(bool)].sort_values("lift", ascending=False).head(config.top_n)
        if not sig.empty:
            s.tables.append(
                Table(
                    "Most context-specific AI values (significant after correction)",
                    ["context", "level", "value / cluster", "conversations", "lift", "q"],
                    [
                        [
                            text(r.context),
                            r.level,
                            text(r.name),
                            int(r.n),
                            f"{num(r.lift) or 0:.2f}×",
                            _fmt_q(r.q_value),
                        ]
                        for r in sig.itertuples(index=False)
                    ],
                )
            )
    inv = data.get("context_invariance")
    if inv is not None and not inv.empty:
        top = inv[(inv["side"] == "ai") & (inv["level"] == "value")]
        if "context_kind" in top.columns and (top["context_kind"] == "task_category").any():
            top = top[top["context_kind"] == "task_category"]
        top = top.sort_values("cv").head(10)
        if not top.empty:
            s.tables.append(
                Table(
                    "Most context-invariant AI values (lowest coefficient of variation across contexts)",
                    ["value", "contexts", "cv"],
                    [[text(r.name), int(r.n_contexts), f"{num(r.cv) or 0:.2f}"] for r in top.itertuples(index=False)],
                )
            )
    if not s.charts:
        s.note = "No context cells above the privacy floor."
    return s


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in text.lower()).strip("-") or "x"


def responses_section(data: ReportData, config: ReportConfig | None = None) -> Section:
    s = Section(
        "responses",
        "How the AI responds to human values",
        "Response type of the AI to the values the human expressed, over conversations where a response was judged; "
        "mirroring is the share in which the AI expressed a value the human had expressed.",
    )
    resp = data.get("responses")
    if resp is None:
        s.note = missing("analysis/responses")
        return s
    overall = resp[resp["context_kind"] == "all"]
    if overall.empty or not overall["n_total"].fillna(0).astype(int).gt(0).any():
        judg = data.get("judgments")
        if judg is not None and "subjective" in judg.columns and judg["subjective"].fillna(False).astype(bool).any():
            s.note = "Every response type is below the privacy floor in this run (too few subjective conversations or users)."
        else:
            s.note = (
                "No subjective conversations in this run: response types are judged only where values are at stake."
            )
        return s
    order = [r for r in RESPONSE_TYPES if r in set(overall["response"])]
    if order:
        idx = overall.set_index("response")
        fig = bar_with_ci(
            [RESPONSE_LABEL[r] for r in order],
            [
                {
                    "label": "all conversations",
                    "values": [idx.at[r, "share"] for r in order],
                    "low": [idx.at[r, "ci_low"] for r in order],
                    "high": [idx.at[r, "ci_high"] for r in order],
                    "color": [RESPONSE_COLORS[r] if r != "no_human_values" else "#adb5bd" for r in order],
                }
            ],
            title="Response types",
            xaxis_title="share of conversations",
        )
        s.charts.append(Chart("chart-responses", fig, height=320))
    by_task = resp[resp["context_kind"] == "task_category"]
    if not by_task.empty:
        traces = []
        contexts = sorted(by_task["context"].dropna().unique())
        for r in (x for x in RESPONSE_TYPES if x in set(by_task["response"])):
            sub = by_task[by_task["response"] == r].set_index("context")
            traces.append(
                {
                    "type": "bar",
                    "orientation": "h",
                    "name": esc(RESPONSE_LABEL[r]),
                    "y": [esc(c) for c in contexts],
                    "x": [num(sub["share"].get(c)) for c in contexts],
                    "marker": {"color": RESPONSE_COLORS[r], "line": {"color": "#adb5bd", "width": 0.5}},
                    "hovertemplate": "%{y}: %{x:.1%}<extra>" + esc(RESPONSE_LABEL[r]) + "</extra>",
                }
            )
        fig = {
            "data": traces,
            "layout": layout(
                "Response types by task category",
                max(320, 28 * len(contexts) + 140),
                barmode="stack",
                xaxis={"tickformat": ".0%", "gridcolor": "#e4e7eb"},
                yaxis={"automargin": True, "autorange": "reversed"},
                legend={"orientation": "h", "y": -0.2, "traceorder": "normal"},
            ),
        }
        s.charts.append(
            Chart(
                "chart-responses-by-task",
                fig,
                "Cells below the privacy floor are left out, so a bar may not reach 100%.",
            )
        )
    mir = data.get("mirroring")
    if mir is None:
        s.note = missing("analysis/mirroring")
    elif not _has_human_values(data):
        s.note = "There is no conversation where the user expressed values, so mirroring cannot be measured."
    elif mir.empty:
        s.note = "Value mirroring is below the privacy floor in this run."
    else:
        if "level" in mir.columns and (mir["level"] == "value").any():
            mir = mir[mir["level"] == "value"]
        mir = mir[mir["response"].isin((*RESPONSE_TYPES, "all"))].copy()
        mir["o"] = mir["response"].map(lambda r: -1 if r == "all" else RESPONSE_TYPES.index(r))
        mir = mir.sort_values("o")
        fig = bar_with_ci(
            [RESPONSE_LABEL.get(r, "all responses") for r in mir["response"]],
            [
                {
                    "label": "mirrored",
                    "values": mir["share"].tolist(),
                    "low": mir["ci_low"].tolist(),
                    "high": mir["ci_high"].tolist(),
                    "color": PALETTE[2],
                }
            ],
            title="Value mirroring by response type",
            xaxis_title="share of conversations where the AI echoed a human value",
        )
        s.charts.append(Chart("chart-mirroring", fig, height=300))
    return s


def _has_human_values(data: ReportData) -> bool:
    values = data.get("values")
    values = data.get("mentions") if values is None else values
    return values is not None and "side" in values.columns and bool((values["side"] == "human").any())


def resistance_section(data: ReportData, config: ReportConfig) -> Section:
    s = Section(
        "resistance",
        "Values defended under resistance",
        "AI values expressed more often when the AI resists the human's values than otherwise — "
        "the values it holds to when pushing back.",
    )
    res = data.get("resistance_values")
    if res is None:
        s.note = missing("analysis/resistance_values")
        return s
    top = res[res["level"] == "value"].sort_values(["lift", "n_resist"], ascending=False).head(config.top_n)
    if top.empty:
        s.note = "No value is expressed under resistance in enough conversations to pass the privacy floor."
        return s
    fig = bar_with_ci(
        top["name"].tolist(),
        [
            {"label": "when resisting", "values": top["rate_resist"].tolist(), "color": PALETTE[3]},
            {"label": "otherwise", "values": top["rate_other"].tolist(), "color": "#9aa5b1"},
        ],
        title="Rate in resisting vs other conversations",
        xaxis_title="share of conversations",
    )
    s.charts.append(Chart("chart-resistance", fig))
    s.tables.append(
        Table(
            "Values under resistance",
            ["value", "conversations resisting", "lift", "q"],
            [
                [text(r.name), int(r.n_resist), f"{num(r.lift) or 0:.2f}×", _fmt_q(r.q_value)]
                for r in top.itertuples(index=False)
            ],
        )
    )
    pairs = data.get("value_pairs")
    if pairs is not None and not pairs.empty:
        level = next((lv for lv in ("value", "l1", "l2", "l3") if (pairs["level"] == lv).any()), None)
        tp = pairs[pairs["level"] == level].sort_values("lift", ascending=False).head(config.top_n)
        if not tp.empty:
            what = "values" if level == "value" else f"{level} clusters"
            s.tables.append(
                Table(
                    f"Human → AI {what} that co-occur more than chance",
                    ["human value", "AI value", "conversations", "lift", "q"],
                    [
                        [text(r.human_value), text(r.ai_value), int(r.n), f"{num(r.lift) or 0:.2f}×", _fmt_q(r.q_value)]
                        for r in tp.itertuples(index=False)
                    ],
                )
            )
    return s


def anomalies_section(data: ReportData, config: ReportConfig) -> Section:
    s = Section(
        "anomalies",
        "Anomaly alerts",
        "Conversations whose values are unusual for their context or match a policy of disfavoured values. "
        "Ids only: open them in the run (`duckdb RUN/valuescope.duckdb`) under your own access rules.",
    )
    scored = data.get("anomaly_scores")
    if scored is not None and scored["anomaly_score"].notna().any():
        scores = scored["anomaly_score"].dropna().astype(float).to_numpy()
        counts, edges = np.histogram(
            scores, bins=30, range=(min(0.0, float(scores.min())), max(1.0, float(scores.max())))
        )
        centres = ((edges[:-1] + edges[1:]) / 2).round(4).tolist()
        fig = {
            "data": [
                {
                    "type": "bar",
                    "x": centres,
                    "y": counts.tolist(),
                    "width": float(edges[1] - edges[0]) * 0.95,
                    "marker": {"color": PALETTE[5]},
                    "hovertemplate": "score ≈ %{x:.2f}: %{y} conversations<extra></extra>",
                }
            ],
            "layout": layout(
                "Anomaly scores over all judged conversations",
                280,
                xaxis={"title": {"text": "anomaly score"}},
                yaxis={"title": {"text": "conversations"}, "gridcolor": "#e4e7eb", "automargin": True},
            ),
        }
        s.charts.append(Chart("chart-anomaly-scores", fig, height=280))
    alerts = data.get("alerts")
    if alerts is None:
        s.note = missing("analysis/alerts")
        return s
    if scored is not None and scored.empty:
        s.note = "No conversations were judged in this run, so none was scored."
        return s
    if alerts.empty:
        s.note = "No conversation scored high enough to raise an alert."
        return s
    top = alerts.sort_values("anomaly_score", ascending=False).head(max(config.top_n, 25))
    s.tables.append(
        Table(
            f"Top {len(top)} of {len(alerts):,} alerts",
            ["conversation id", "anomaly score", "reasons", "policy matches", "harmful score", "rarity"],
            [
                [
                    text(r.id),
                    f"{num(r.anomaly_score) or 0:.2f}",
                    text(_listish(r.reasons)),
                    text(_listish(r.policy_matches)),
                    f"{num(r.harmful_score) or 0:.2f}",
                    f"{num(r.rarity) or 0:.2f}",
                ]
                for r in top.itertuples(index=False)
            ],
        )
    )
    return s


def _listish(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, str):
        return v
    try:
        return ", ".join(str(x) for x in v)
    except TypeError:
        return str(v)
