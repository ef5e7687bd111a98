"""The published "Values in the Wild" taxonomy (CC BY 4.0), bundled in the package.

Loads any tree in the published schema (``cluster_id, description, name,
level, parent_cluster_id, pct_total_occurrences``) and exposes each leaf's
path to the top. Level 0 rows are the values themselves ("leaves"); levels
1..3 are the clusters (266 / 26 / 5 in the published tree).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path

ATTRIBUTION = (
    'Values taxonomy: "Values in the Wild: Discovering and Analyzing Values in Real-World Language '
    'Model Interactions", Huang et al., Anthropic, 2025 (arXiv:2504.15236), CC BY 4.0.'
)


@dataclass(frozen=True)
class Node:
    cluster_id: str
    name: str
    level: int
    parent_id: str | None
    description: str
    pct_total_occurrences: float


@dataclass
class Tree:
    nodes: dict[str, Node]
    children: dict[str, list[str]] = field(default_factory=dict)
    frequencies: dict[str, float] = field(default_factory=dict)  # leaf name -> pct_convos, when known

    @property
    def levels(self) -> int:
        return max(n.level for n in self.nodes.values())

    def at_level(self, level: int) -> list[Node]:
        return [n for n in self.nodes.values() if n.level == level]

    @property
    def leaves(self) -> list[Node]:
        return self.at_level(0)

    def path(self, cluster_id: str) -> list[Node]:
        """The node and its ancestors, bottom-up."""
        out = []
        node: Node | None = self.nodes[cluster_id]
        while node is not None:
            out.append(node)
            node = self.nodes.get(node.parent_id) if node.parent_id else None
        return out

    def leaf_path(self, leaf_name: str) -> dict[str, str]:
        """{"leaf", "l1", "l2", "l3"} names for a leaf (level-0 name == cluster_id)."""
        nodes = self.path(self._leaf_ids[leaf_name])
        return {("leaf" if n.level == 0 else f"l{n.level}"): n.name for n in nodes}

    @property
    def _leaf_ids(self) -> dict[str, str]:
        cache = getattr(self, "_leaf_id_cache", None)
        if cache is None:
            cache = {n.name: n.cluster_id for n in self.leaves}
            object.__setattr__(self, "_leaf_id_cache", cache)
        return cache

    def has_leaf(self, name: str) -> bool:
        return name in self._leaf_ids


def load_tree(path: str | Path, frequencies: str | Path | None = None) -> Tree:
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    required = {"cluster_id", "description", "name", "level", "parent_cluster_id", "pct_total_occurrences"}
    if not rows or not required <= set(rows[0]):
        raise ValueError(f"{path}: not a tree in the published schema (needs columns {sorted(required)})")
    nodes = {}
    for r in rows:
        nodes[r["cluster_id"]] = Node(
            cluster_id=r["cluster_id"],
            name=r["name"],
            level=int(r["level"]),
            parent_id=r["parent_cluster_id"] or None,
            description=r["description"] or "",
            pct_total_occurrences=float(r["pct_total_occurrences"] or 0),
        )
    children: dict[str, list[str]] = {}
    for n in nodes.values():
        if n.parent_id:
            children.setdefault(n.parent_id, []).append(n.cluster_id)
    freqs = {}
    if frequencies is not None:
        with open(frequencies, newline="", encoding="utf-8") as fh:
            freqs = {r["value"]: float(r["pct_convos"]) for r in csv.DictReader(fh)}
    return Tree(nodes=nodes, children=children, frequencies=freqs)


def bundled_dir() -> Path:
    return Path(str(resources.files("valuescope.data") / "values_in_the_wild"))


@lru_cache(maxsize=1)
def published_cluster_names() -> frozenset[str]:
    """The published tree's l1/l2/l3 names: made by the study, never from a run's own values."""
    tree = published_tree()
    return frozenset(node.name for level in (1, 2, 3) for node in tree.at_level(level))


@lru_cache(maxsize=1)
def published_tree() -> Tree:
    """The bundled published taxonomy with its value frequencies."""
    d = bundled_dir()
    return load_tree(d / "values_tree.csv", d / "values_frequencies.csv")
