"""The two readings of a value's cluster, and how far apart they are.

A value has two legitimate second-level clusters: the published tree's
placement of its *name* (context-free; the study's own, needed to compare with
its published frequencies) and the extractor's reading of the *conversation*
(``l2_hint``). ``values.parquet`` keeps both (``tree_l2`` and ``l2_hint``);
these helpers measure their disagreement and restate reference labels in the
tree-consistent construct (a labelled value whose normalised name is a
published leaf takes the tree's l2), so scores under either construct are
labelled as such (docs/evaluate.md).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import pandas as pd

from valuescope.taxonomy.normalize import canonical_map, leaf_preferences
from valuescope.taxonomy.reference import Tree, published_tree

VALUE_KEYS = ("ai_values", "human_values")


def hint_agreement(values: pd.DataFrame, l2_names: set[str]) -> dict[str, float]:
    """``l2_hint_disagreement``: share of mentions whose l2_hint is an l2 of the tree and differs from the
    name's context-free ``tree_l2`` (0 when no mention has one); ``hinted``: how many mentions have one."""
    if "tree_l2" not in values.columns or "l2_hint" not in values.columns:
        return {"hinted": 0, "l2_hint_disagreement": None}  # type: ignore[dict-item]
    known = values[values["l2_hint"].isin(l2_names)]
    return hint_agreement_of_counts(len(known), int((known["l2_hint"] != known["tree_l2"]).sum()))


def hint_agreement_of_counts(hinted: int, differ: int) -> dict[str, float]:
    """hint_agreement from counts: mentions with a known l2_hint, and those whose tree_l2 differs."""
    return {"hinted": hinted, "l2_hint_disagreement": round(differ / hinted, 4) if hinted else 0.0}


def tree_consistent_labels(
    labels: Mapping[str, Mapping[str, Any]], tree: Tree | None = None
) -> dict[str, dict[str, Any]]:
    """A copy of protocol-v1 labels where every value whose normalised name is a published leaf carries the
    tree's l2 (normalised as the taxonomy stage does: over all labelled names, leaves' spellings preferred)."""
    tree = tree or published_tree()
    preferred = leaf_preferences((n.name, tree.frequencies.get(n.name, n.pct_total_occurrences)) for n in tree.leaves)
    names = [str(v.get("value") or "") for r in labels.values() for k in VALUE_KEYS for v in (r.get(k) or [])]
    norm = canonical_map(names, None, preferred)
    out: dict[str, dict[str, Any]] = {}
    for cid, rec in labels.items():
        rec = copy.deepcopy(dict(rec))
        for key in VALUE_KEYS:
            for v in rec.get(key) or []:
                name = norm.get(str(v.get("value") or ""), "")
                if name and tree.has_leaf(name):
                    v["l2"] = tree.leaf_path(name).get("l2")
        out[cid] = rec
    return out
