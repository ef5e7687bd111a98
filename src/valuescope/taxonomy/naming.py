"""Naming discovered clusters.

A :class:`Namer` names all clusters of one level at once, because good names
need contrast: what sets a cluster apart from its neighbours.

* :class:`OfflineNamer` — no model: the cluster's most central/frequent member
  plus its most distinctive words (TF-IDF against the other clusters), marked
  ``[auto]`` so nobody mistakes it for a curated name.
* :class:`LLMNamer` (``clio.py``) — Clio-style naming with an LLM.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Protocol

import numpy as np

AUTO = "[auto]"
_STOP = {"and", "of", "the", "for", "to", "in", "a", "an", "on", "with", "one's", "ones", "s", "auto"}


class Namer(Protocol):
    def name_level(
        self,
        depth: int,
        members: list[list[str]],
        weights: list[np.ndarray],
        vecs: list[np.ndarray],
        centroids: np.ndarray,
    ) -> list[tuple[str, str]]:
        """(name, description) for every cluster of one level."""
        ...


def central_member(members: list[str], weights: np.ndarray, vecs: np.ndarray, centroid: np.ndarray) -> str:
    """Member maximising similarity to the centroid times log-frequency (central and frequent)."""
    score = (vecs @ centroid) * np.log1p(weights / max(weights.max(), 1e-12) * 100)
    return _strip_auto(members[int(np.argmax(score))])


def _strip_auto(name: str) -> str:
    return name.replace(AUTO, "").split(" \u00b7 ")[0].strip()


def _words(text: str) -> list[str]:
    return [w for w in re.findall(r"[a-z][a-z'\-]+", _strip_auto(text).lower()) if w not in _STOP]


def distinctive_terms(members: list[list[str]], weights: list[np.ndarray], top: int = 3) -> list[list[str]]:
    """Per cluster, words frequent inside it and rare in other clusters (weighted TF-IDF)."""
    tfs = []
    for names, w in zip(members, weights, strict=True):
        c: Counter[str] = Counter()
        for name, wt in zip(names, w, strict=True):
            for word in set(_words(name)):
                c[word] += float(np.log1p(wt)) + 1.0
        tfs.append(c)
    df = Counter(word for c in tfs for word in c)
    n = len(tfs)
    out = []
    for c in tfs:
        scored = sorted(c, key=lambda t: (-c[t] * np.log((1 + n) / (1 + df[t])), t))
        out.append(scored[:top])
    return out


class OfflineNamer:
    """Central member + distinctive terms, clearly marked as an automatic name."""

    def name_level(self, depth, members, weights, vecs, centroids):
        terms = distinctive_terms(members, weights)
        out = []
        used: Counter[str] = Counter()
        for names, w, v, cent, t in zip(members, weights, vecs, centroids, terms, strict=True):
            head = central_member(names, w, v, cent)
            extra = [x for x in t if x not in head.split()][:2]
            name = f"{head} \u00b7 {', '.join(extra)}" if extra else head
            used[name] += 1
            if used[name] > 1:
                name = f"{name} ({used[name]})"
            order = np.argsort(-w)[:5]
            examples = ", ".join(_strip_auto(names[i]) for i in order)
            desc = (
                f"Automatic name (offline): most central member '{head}'"
                + (f"; distinctive terms: {', '.join(t)}" if t else "")
                + f"; {len(names)} members, e.g. {examples}."
            )
            out.append((f"{name} {AUTO}", desc))
        return out
