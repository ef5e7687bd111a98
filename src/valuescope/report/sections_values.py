"""Report sections, part 2: top values, the five top categories, the published study side by side."""

from __future__ import annotations

from typing import Any

import pandas as pd

from valuescope.records import L3_TO_L2
from valuescope.report.charts import PALETTE, Chart, bar_with_ci, num
from valuescope.report.config import ReportConfig
from valuescope.report.data import ReportData
from valuescope.report.examples import value_examples
from valuescope.report.floor import Floor
from valuescope.report.sections import Section, Table, missing, pct, text
from valuescope.taxonomy.reference import published_tree

SIDE_LABEL = {"ai": "AI values", "human": "Human values"}


def _top(freq: pd.DataFrame, side: str, level: str, n: int) -> pd.DataFrame:
    sub = freq[(freq["side"] == side) & (freq["level"] == level)]
    return sub.sort_values(["share", "name"], ascending=[False, True]).head(n)


def values_section(
    data: ReportData, config: ReportConfig, examples: dict[str, list[dict[str, str]]] | None = None
) -> Section:
    s = Section(
        "values",
        "Top values",
        "Share of subjective conversations in which each value was expressed, with Wilson 95% intervals.",
    )
    freq = data.get("frequencies")
    if freq is None:
        s.note = missing("analysis/frequencies")
        return s
    for side in ("ai", "human"):
        top = _top(freq, side, "value", config.top_n)
        if top.empty:
            s.tables.append(Table(f"{SIDE_LABEL[side]}: none above the privacy floor", [], []))
            continue
        fig = bar_with_ci(
            top["name"].tolist(),
            [
                {
                    "label": SIDE_LABEL[side],
                    "values": top["share"].tolist(),
                    "low": top["ci_low"].tolist(),
                    "high": top["ci_high"].tolist(),
                    "color": PALETTE[0 if side == "ai" else 1],
                }
            ],
            title=f"Top {len(top)} {SIDE_LABEL[side]}",
        )
        caption = ""
        if side == "ai" and "explicit_share" in top.columns and top["explicit_share"].notna().any():
            caption = "Hover a bar for its share; the table below gives how often each AI value was stated explicitly."
        s.charts.append(Chart(f"chart-top-{side}", fig, caption))
        cols = ["value", "conversations", "share", "95% interval"] + (
            ["explicit"] if side == "ai" and "explicit_share" in top.columns else []
        )
        rows = []
        for r in top.itertuples(index=False):
            row = [text(r.name), int(r.n), pct(r.share), f"{pct(r.ci_low)} – {pct(r.ci_high)}"]
            if len(cols) == 5:
                row.append(pct(getattr(r, "explicit_share", None), 0))
            rows.append(row)
        s.tables.append(Table(f"{SIDE_LABEL[side]} (top {len(top)})", cols, rows))
    if examples:
        s.examples = [{"value": text(k), "snippets": v} for k, v in examples.items()]
    return s


def values_with_examples_section(data: ReportData, config: ReportConfig) -> Section:
    """:func:`values_section` with example snippets of the top AI values (``config.examples``), floor-checked."""
    examples = None
    freq = data.get("frequencies")
    if config.examples and freq is not None:
        top = (
            freq[(freq["side"] == "ai") & (freq["level"] == "value")]
            .sort_values("share", ascending=False)
            .head(config.top_n)
        )
        examples = value_examples(
            data.run,
            data.mentions_with_meta(),
            top["name"].tolist(),
            data.floor or Floor(),
            config.max_examples,
            config.snippet_chars,
        )
    return values_section(data, config, examples)


def categories_section(data: ReportData, config: ReportConfig | None = None) -> Section:
    s = Section(
        "categories",
        "The five top categories",
        "Share of subjective conversations expressing at least one value in each top-level category.",
    )
    freq = data.get("frequencies")
    if freq is None:
        s.note = missing("analysis/frequencies")
        return s
    names = list(L3_TO_L2)
    series = []
    for i, side in enumerate(("ai", "human")):
        sub = freq[(freq["side"] == side) & (freq["level"] == "l3")].set_index("name")
        if sub.empty:
            continue
        series.append(
            {
                "label": SIDE_LABEL[side],
                "values": [num(sub["share"].get(n)) for n in names],
                "low": [num(sub["ci_low"].get(n)) for n in names],
                "high": [num(sub["ci_high"].get(n)) for n in names],
                "color": PALETTE[i],
            }
        )
    if not series:
        s.note = "No level-3 frequencies above the privacy floor."
        return s
    s.charts.append(Chart("chart-categories", bar_with_ci(names, series), height=320))
    return s


def published_section(data: ReportData, config: ReportConfig) -> Section:
    """Our AI value frequencies next to the published study's (only for the published taxonomy)."""
    s = Section(
        "published",
        "Compared with the published study",
        "Values in the Wild (Huang et al., 2025) reports the share of 308,210 subjective Claude.ai conversations "
        "expressing each AI value. Our shares are over this run's subjective conversations; different data, "
        "different models — read the ranks, not the decimals.",
    )
    freq = data.get("frequencies")
    if freq is None:
        s.note = missing("analysis/frequencies")
        return s
    tree = published_tree()
    ours = freq[(freq["side"] == "ai") & (freq["level"] == "value")]
    if ours.empty or not ours["name"].map(tree.has_leaf).any():
        s.note = "Not shown: this run's values are not in the published taxonomy."
        return s
    published = sorted(tree.frequencies.items(), key=lambda kv: -kv[1])
    top_ours = ours.sort_values("share", ascending=False).head(config.top_n)
    names = list(dict.fromkeys(top_ours["name"].tolist() + [n for n, _ in published[:10]]))
    ours_idx = ours.set_index("name")
    series = [
        {
            "label": "this run",
            "values": [num(ours_idx["share"].get(n)) or 0.0 for n in names],
            "low": [num(ours_idx["ci_low"].get(n)) for n in names],
            "high": [num(ours_idx["ci_high"].get(n)) for n in names],
            "color": PALETTE[0],
        },
        {
            "label": "published (pct_convos)",
            "values": [tree.frequencies.get(n, 0.0) / 100 for n in names],
            "color": "#9aa5b1",
        },
    ]
    s.charts.append(
        Chart(
            "chart-published-values",
            bar_with_ci(names, series, title="AI values: this run vs published"),
            height=max(360, 40 * len(names) + 80),
        )
    )
    # level-3 occurrences: ours (from values.parquet) vs published pct_total_occurrences
    l3 = freq[(freq["side"] == "ai") & (freq["level"] == "l3")].set_index("name")
    pub_l3 = {n.name: n.pct_total_occurrences for n in tree.at_level(3)}
    if not l3.empty and "share_occurrences" in l3.columns:
        cats = [c for c in L3_TO_L2 if c in pub_l3]
        fig = bar_with_ci(
            cats,
            [
                {
                    "label": "this run",
                    "values": [num(l3["share_occurrences"].get(c)) or 0.0 for c in cats],
                    "color": PALETTE[0],
                },
                {"label": "published", "values": [pub_l3[c] / 100 for c in cats], "color": "#9aa5b1"},
            ],
            title="Top categories: share of all AI value occurrences",
            xaxis_title="share of occurrences",
        )
        s.charts.append(Chart("chart-published-l3", fig, height=320))
    rank_rows: list[list[Any]] = []
    pub_rank = {n: i + 1 for i, (n, _) in enumerate(published)}
    for i, r in enumerate(top_ours.itertuples(index=False), 1):
        rank_rows.append(
            [
                i,
                text(r.name),
                pct(r.share),
                pub_rank.get(r.name, "—"),
                f"{tree.frequencies[r.name]:.2f}%" if r.name in tree.frequencies else "—",
            ]
        )
    s.tables.append(
        Table(
            "Rank in this run vs rank in the study",
            ["rank", "value", "share here", "published rank", "published pct_convos"],
            rank_rows,
        )
    )
    return s
