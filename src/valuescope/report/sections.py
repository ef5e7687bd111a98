"""Report sections, part 1: run summary, taxonomy, values, published comparison.

Each builder takes the loaded run and returns a :class:`Section`, or a section
whose ``note`` explains why it is empty (a table is missing), never an error.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from valuescope.report.charts import L3_COLORS, Chart, num, sunburst
from valuescope.report.data import ReportData
from valuescope.report.floor import Floor

NEW_ROOT = "New / unplaced values"
NAV = {
    "summary": "Summary",
    "taxonomy": "Taxonomy",
    "categories": "Categories",
    "values": "Values",
    "published": "vs published",
    "context": "Context",
    "responses": "Responses",
    "resistance": "Resistance",
    "anomalies": "Anomalies",
    "comparison": "Comparison",
}
SKIP = "\u0000"  # stands for "no cluster at this level" in the sunburst paths


@dataclass
class Table:
    caption: str
    columns: list[str]
    rows: list[list[Any]]


@dataclass
class Section:
    id: str
    title: str
    intro: str = ""
    note: str = ""  # why the section is empty or partial
    charts: list[Chart] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    facts: list[tuple[str, Any]] = field(default_factory=list)
    examples: list[dict[str, Any]] = field(default_factory=list)
    nav: str = ""  # short label for the page's navigation bar; "" = title

    def __post_init__(self) -> None:
        self.nav = self.nav or NAV.get(self.id, self.title)


def missing(*names: str) -> str:
    return (
        "Not shown: this run has no "
        + ", ".join(f"{n}.parquet" for n in names)
        + " (run the stage that writes it, then `valuescope report RUN`)."
    )


def text(value: Any) -> str:
    """Plain text for a table cell or fact; the template escapes it (esc() is for chart labels only)."""
    return "" if value is None else str(value)


def pct(x: Any, digits: int = 1) -> str:
    v = num(x)
    return "—" if v is None else f"{100 * v:.{digits}f}%"


# -- summary ------------------------------------------------------------------


def _extractor_info(data: ReportData) -> dict[str, str]:
    out: dict[str, str] = {}
    judg = data.get("judgments")
    if judg is not None and "extractor" in judg.columns and len(judg):
        out["extractor"] = ", ".join(sorted(str(e) for e in judg["extractor"].dropna().unique())) or "—"
    stage = data.manifest.get("stages", {}).get("extract", {})
    cfg = stage.get("config", {}) if isinstance(stage, dict) else {}
    cfg = cfg if isinstance(cfg, dict) else {}
    for key in ("model", "backend", "prompt_version", "prompt"):
        if cfg.get(key) and not isinstance(cfg[key], dict | list):
            out[key.replace("_", " ")] = str(cfg[key])
    run_cfg = (
        data.manifest.get("config", {}).get("extract", {}) if isinstance(data.manifest.get("config"), dict) else {}
    )
    for key in ("extractor", "model", "prompt_version"):
        if isinstance(run_cfg, dict) and run_cfg.get(key) and key.replace("_", " ") not in out:
            out[key.replace("_", " ")] = str(run_cfg[key])
    return out


def _inputs(manifest: dict[str, Any]) -> list[list[Any]]:
    inputs = manifest.get("inputs")
    if isinstance(inputs, dict):
        inputs = [{"path": k, **v} if isinstance(v, dict) else {"path": k} for k, v in inputs.items()]
    rows = []
    for item in inputs or []:
        if isinstance(item, dict):
            # the file name only: local folder names stay private
            rows.append(
                [
                    Path(str(item.get("path", ""))).name,
                    item.get("format", ""),
                    item.get("read", ""),
                    item.get("ok", ""),
                    item.get("quarantined", ""),
                    str(item.get("sha256", ""))[:12],
                ]
            )
        else:
            rows.append([str(item), "", "", "", "", ""])
    return rows


def summary_section(data: ReportData, floor: Floor) -> Section:
    s = Section("summary", "Run summary")
    m = data.manifest
    convs, judg = data.get("conversations"), data.get("judgments")
    facts: list[tuple[str, Any]] = [("run", data.run.path.name)]
    started = m.get("started") or m.get("created")
    if started:
        facts.append(("started", str(started).replace("T", " ")))
    if convs is not None:
        facts.append(("conversations ingested", f"{len(convs):,}"))
    if judg is not None:
        facts.append(("conversations judged", f"{len(judg):,}"))
        if "subjective" in judg.columns and len(judg):
            n_sub = int(judg["subjective"].sum())
            facts.append(("subjective (value-laden)", f"{n_sub:,} ({pct(n_sub / len(judg))})"))
    by_stage = Counter(str(q.get("stage", "?")) for q in data.quarantine)
    facts.append(("quarantined", ", ".join(f"{k}: {v:,}" for k, v in sorted(by_stage.items())) or "none"))
    for k, v in _extractor_info(data).items():
        facts.append((k, v))
    model_rows: list[list[Any]] = []
    if convs is not None and "model" in convs.columns:
        cells, hidden = floor.cells(convs.assign(model=convs["model"].fillna("(unknown)")), ["model"])
        cells = cells.sort_values(["n", "model"], ascending=[False, True])
        model_rows = [[text(r.model), f"{int(r.n):,}"] for r in cells.itertuples(index=False)]
        facts.append(
            ("assistant models", f"{len(model_rows)}" + (f" (+{hidden} below the privacy floor)" if hidden else ""))
        )
    stages = m.get("stages", {})
    if isinstance(stages, dict) and stages:
        total = float(
            m.get("seconds_total")
            or sum(float(v.get("seconds", 0) or 0) for v in stages.values() if isinstance(v, dict))
        )
        facts.append(("compute time", f"{total:,.1f} s over {len(stages)} stages"))
    pf = m.get("privacy_floor", {}) if isinstance(m.get("privacy_floor"), dict) else {}
    facts.append(
        (
            "privacy floor",
            f"cells need ≥ {pf.get('min_conversations', floor.min_conversations)} conversations and ≥ {pf.get('min_users', floor.min_users)} users",
        )
    )
    suppressed = pf.get("suppressed") or {}
    suppressed_rows: list[list[Any]] = []
    if isinstance(suppressed, dict) and suppressed:
        counts = {k: int(v) for k, v in suppressed.items() if isinstance(v, int | float)}
        facts.append(("suppressed cells", f"{sum(counts.values()):,} in {sum(1 for v in counts.values() if v)} tables"))
        suppressed_rows = [[k, f"{v:,}"] for k, v in sorted(counts.items())]
    s.facts = facts
    s.note = empty_note(convs, judg)
    rows = _inputs(m)
    if rows:
        s.tables.append(Table("Inputs", ["path", "format", "read", "ok", "quarantined", "sha256"], rows))
    if model_rows:
        s.tables.append(Table("Assistant models (conversations)", ["model", "conversations"], model_rows))
    if suppressed_rows:
        s.tables.append(
            Table("Cells below the privacy floor, per table", ["table", "cells suppressed"], suppressed_rows)
        )
    return s


def empty_note(convs: Any, judg: Any) -> str:
    """Why most of the page is empty, when it is: said once, at the top."""
    if judg is not None and len(judg) == 0:
        if convs is not None and len(convs) == 0:
            return (
                "No conversations were judged in this run: the input held no valid conversation (see the quarantine)."
            )
        return "No conversations were judged in this run: every conversation was quarantined by the extractor."
    if judg is not None and "subjective" in judg.columns and not judg["subjective"].fillna(False).astype(bool).any():
        return (
            "No subjective conversations in this run: values are measured only where something normative is at stake, "
            "so the value, context and response sections are empty."
        )
    return ""


# -- taxonomy sunburst ------------------------------------------------------------


def _rgba(hex_color: str, alpha: float) -> str:
    h = hex_color.lstrip("#")
    return f"rgba({int(h[0:2], 16)},{int(h[2:4], 16)},{int(h[4:6], 16)},{alpha})"


def taxonomy_section(
    data: ReportData, floor: Floor, side: str = "ai", per_cluster: int = 15, max_values: int = 600
) -> Section:
    """Sunburst of the placed values; the most frequent ``per_cluster`` values under each cluster,
    ``max_values`` in all, keep the page small (every cluster is always shown)."""
    s = Section(
        "taxonomy",
        "The taxonomy of AI values",
        "Five top categories → second-level clusters → first-level clusters → values, sized by how often each "
        "was expressed (occurrences). Click a slice to zoom in; click the centre to zoom out.",
    )
    values = data.get("values")
    if values is None:
        s.note = missing("values")
        return s
    df = data.mentions_with_meta()
    df = df[df["side"] == side].copy()
    if df.empty:
        s.note = "No AI values were extracted in this run."
        return s
    for col in ("l1", "l2", "l3"):  # as text: a level the tree lacks is all-null (float) and cannot take a name
        df[col] = df[col].astype(object) if col in df.columns else None
    # a value placed only down to l2 (or not at all) hangs directly under its lowest known cluster
    df["l3"] = df["l3"].fillna(NEW_ROOT)
    df["l2"] = df["l2"].fillna(SKIP)
    df["l1"] = df["l1"].fillna(SKIP)
    levels = [("l3",), ("l3", "l2"), ("l3", "l2", "l1"), ("l3", "l2", "l1", "value_norm")]
    ids, labels, parents, sizes, colors, hover = [], [], [], [], [], []
    suppressed = 0
    node_of: dict[tuple[str, ...], str] = {(): ""}  # kept path -> its node id (skipped levels map to the parent's)
    shown_under: Counter[str] = Counter()
    hidden_values = 0
    for depth, keys in enumerate(levels):
        cells, n_sup = floor.cells(df, list(keys))
        occ = df.groupby(list(keys)).size().rename("occ").reset_index()
        cells = cells.merge(occ, on=list(keys))
        suppressed += n_sup
        for row in cells.sort_values("occ", ascending=False).itertuples(index=False):
            path = tuple(str(getattr(row, k)) for k in keys)
            parent = node_of.get(path[:-1])
            if parent is None:  # parent below the floor
                continue
            if path[-1] == SKIP:  # no cluster at this level: children attach to the parent
                node_of[path] = parent
                continue
            if depth == 3:
                shown_under[parent] += 1
                shown_under["*"] += 1
                if shown_under[parent] > per_cluster or shown_under["*"] > max_values:
                    hidden_values += 1
                    continue
            node_of[path] = f"{depth}|" + " / ".join(p for p in path if p != SKIP)
            ids.append(node_of[path])
            parents.append(parent)
            labels.append(path[-1])
            sizes.append(int(row.occ))
            colors.append(_rgba(L3_COLORS.get(path[0], "#7b8794"), [1.0, 0.78, 0.6, 0.45][depth]))
            hover.append(f"{int(row.occ):,} occurrences in {int(row.n):,} conversations")
    if not ids:
        s.note = "Every cluster is below the privacy floor in this run."
        return s
    s.charts.append(Chart("chart-taxonomy", sunburst(ids, labels, parents, sizes, colors, hover), height=640))
    notes = []
    if suppressed:
        notes.append(
            f"{suppressed} clusters or values below the privacy floor are left out (their share shows as empty space)."
        )
    if hidden_values:
        notes.append(
            f"{hidden_values} less frequent values are not drawn to keep the page small; the explorer (`valuescope serve`) lists them all."
        )
    s.note = " ".join(notes)
    return s
