"""Exports in exactly the published CSV schema, so tools that read the study's files read ours.

``values_tree.csv``: cluster_id, description, name, level, parent_cluster_id,
pct_total_occurrences (share of value expressions, sums to ~100 per level).
``values_frequencies.csv``: value, pct_convos (percentage of subjective
conversations in which the value occurs).
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pandas as pd

from valuescope.engine.rundir import atomic_write_bytes
from valuescope.taxonomy.discover import Hierarchy
from valuescope.taxonomy.reference import Tree

TREE_COLUMNS = ["cluster_id", "description", "name", "level", "parent_cluster_id", "pct_total_occurrences"]
FREQ_COLUMNS = ["value", "pct_convos"]


def write_csv(path: Path, rows: list[dict], columns: list[str]) -> Path:
    """Atomically, like every file of a run (a full disk leaves the old file and no temp file)."""
    buf = io.StringIO(newline="")
    writer = csv.DictWriter(buf, fieldnames=columns)
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_bytes(path, buf.getvalue().encode("utf-8"))
    return path


def _pct(x: float, total: float) -> float:
    return round(100.0 * x / total, 3) if total else 0.0


def pct_convos(mentions: pd.DataFrame, key: str, n_subjective: int) -> pd.Series:
    """Percentage of subjective conversations mentioning each value of column ``key``."""
    return pct_of_counts(mentions.drop_duplicates(["id", key]).groupby(key)["id"].size(), n_subjective)


def pct_of_counts(per: pd.Series, n_subjective: int) -> pd.Series:
    """pct_convos from conversations per key (index sorted by key, as a groupby gives it)."""
    return (100.0 * per / max(n_subjective, 1)).round(3).sort_values(ascending=False)


def placed_exports(values: pd.DataFrame, tree: Tree, n_subjective: int) -> tuple[list[dict], list[dict]]:
    """The published tree restricted to (and re-weighted by) a run's placed, non-new mentions."""
    placed = values[~values["is_new"] & values["leaf"].notna()]
    per = placed.drop_duplicates(["id", "leaf"]).groupby("leaf")["id"].size()
    return placed_exports_of_counts(placed.groupby("leaf").size(), per, tree, n_subjective)


def placed_exports_of_counts(
    counts: pd.Series, per: pd.Series, tree: Tree, n_subjective: int
) -> tuple[list[dict], list[dict]]:
    """placed_exports from aggregates: mentions per leaf (``counts``) and conversations per leaf (``per``),
    both indexed by leaf in sorted order."""
    total = int(counts.sum())
    occ: dict[str, float] = {}
    for leaf, c in counts.items():
        for node in tree.path(tree._leaf_ids[leaf]):
            occ[node.cluster_id] = occ.get(node.cluster_id, 0) + c
    rows = [
        {
            "cluster_id": n.cluster_id,
            "description": n.description,
            "name": n.name,
            "level": n.level,
            "parent_cluster_id": n.parent_id or "",
            "pct_total_occurrences": _pct(occ[n.cluster_id], total),
        }
        for n in tree.nodes.values()
        if n.cluster_id in occ
    ]
    freqs = pct_of_counts(per, n_subjective)
    return rows, [{"value": v, "pct_convos": p} for v, p in freqs.items()]


def cluster_id(level: int, index: int) -> str:
    return f"discovered:l{level}:{index:04d}"


def discovered_tree_rows(h: Hierarchy, counts: pd.Series) -> list[dict]:
    """Rows of the discovered hierarchy; ``counts`` is occurrences per value_norm."""
    total = float(counts.sum())
    per_value = [float(counts.get(v, 0)) for v in h.values]
    clusters = h.value_clusters()
    rows = []
    for i, v in enumerate(h.values):
        parent = cluster_id(1, int(clusters[0][i])) if clusters else ""
        rows.append(
            {
                "cluster_id": v,
                "description": "",
                "name": v,
                "level": 0,
                "parent_cluster_id": parent,
                "pct_total_occurrences": _pct(per_value[i], total),
            }
        )
    for depth, level in enumerate(h.levels, start=1):
        occ = [0.0] * len(level.names)
        for i in range(len(h.values)):
            occ[int(clusters[depth - 1][i])] += per_value[i]
        above = h.levels[depth] if depth < len(h.levels) else None
        for c, (name, desc) in enumerate(zip(level.names, level.descriptions, strict=True)):
            parent = cluster_id(depth + 1, int(above.parent[c])) if above is not None else ""
            rows.append(
                {
                    "cluster_id": cluster_id(depth, c),
                    "description": desc,
                    "name": name,
                    "level": depth,
                    "parent_cluster_id": parent,
                    "pct_total_occurrences": _pct(occ[c], total),
                }
            )
    return rows


def membership_table(h: Hierarchy) -> pd.DataFrame:
    """value_norm -> discovered cluster id (and name) per level."""
    data: dict[str, list] = {"value_norm": list(h.values)}
    for depth, (level, labels) in enumerate(zip(h.levels, h.value_clusters(), strict=True), start=1):
        data[f"l{depth}_id"] = [cluster_id(depth, int(c)) for c in labels]
        data[f"l{depth}"] = [level.names[int(c)] for c in labels]
    return pd.DataFrame(data)


# -- who stands behind each exported row (for the privacy floor of `valuescope export`) --------------

CELL_KEYS = {
    "placed_tree.csv": ["level", "name"],
    "placed_frequencies.csv": ["value"],
    "discovered_tree.csv": ["level", "cluster_id"],
    "discovered_frequencies.csv": ["value"],
}


def cell_members(file_name: str, values: pd.DataFrame, discovered: pd.DataFrame | None = None) -> pd.DataFrame | None:
    """(row key columns..., id): the conversations behind each row of one taxonomy CSV this stage writes.

    ``values`` are the run's counted mentions (the sides the trees count); ``discovered`` is
    ``taxonomy/discovered_values``. Keys are strings, as read back from the CSV. None for a file
    this module does not write: its rows cannot be floored, so it must not be shared.
    """
    keys = CELL_KEYS.get(file_name)
    if keys is None:
        return None
    parts: list[pd.DataFrame] = []
    if file_name.startswith("placed_"):
        placed = values[~values["is_new"].fillna(False).astype(bool) & values["leaf"].notna()]
        if file_name == "placed_frequencies.csv":
            parts.append(pd.DataFrame({"value": placed["leaf"], "id": placed["id"]}))
        else:
            for level, col in enumerate(("leaf", "l1", "l2", "l3")):
                sub = placed[placed[col].notna()]
                parts.append(pd.DataFrame({"level": str(level), "name": sub[col], "id": sub["id"]}))
    else:
        counted = values[values["value_norm"].fillna("") != ""]
        if file_name == "discovered_frequencies.csv":
            parts.append(pd.DataFrame({"value": counted["value_norm"], "id": counted["id"]}))
        else:
            parts.append(pd.DataFrame({"level": "0", "cluster_id": counted["value_norm"], "id": counted["id"]}))
            if discovered is not None and not discovered.empty:
                linked = counted[["value_norm", "id"]].merge(discovered, on="value_norm")
                depth = 1
                while f"l{depth}_id" in linked.columns:
                    parts.append(
                        pd.DataFrame({"level": str(depth), "cluster_id": linked[f"l{depth}_id"], "id": linked["id"]})
                    )
                    depth += 1
    out = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=[*keys, "id"])
    return out.astype(str).drop_duplicates()
