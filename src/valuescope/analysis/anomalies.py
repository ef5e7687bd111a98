"""Anomalies: the study's early warning for jailbreaks and misbehaviour.

Each conversation gets an ``anomaly_score`` in 0..1 from three signals, combined
by a noisy-OR with fixed weights from the policy file (policy.toml explains the
rule): the extractor's harmful-compliance judgment, the strongest match of an
AI value to a disfavoured value of the policy (by spelling or by meaning), and
the rarity of the conversation's rarest AI value. The highest-scoring
conversations become alerts, with the reasons spelled out.
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from valuescope.analysis.data import SUBJECTIVE, RunData, normalise_value
from valuescope.taxonomy.stream import batches

ALERT_COLUMNS = ["id", "anomaly_score", "reasons", "policy_matches", "harmful_score", "rarity", "policy_score", "rank"]


@dataclass
class PolicyEntry:
    name: str
    description: str = ""
    aliases: list[str] = field(default_factory=list)
    severity: float = 1.0

    @property
    def phrases(self) -> list[str]:
        return [self.name, *self.aliases]


@dataclass
class Policy:
    entries: list[PolicyEntry]
    matching: dict[str, Any]
    scoring: dict[str, float]
    source: str = "bundled"


def load_policy(path: str | Path | None = None) -> Policy:
    """The policy TOML at `path`, or the bundled default (analysis/policy.toml)."""
    if path is None:
        text, source = (resources.files("valuescope.analysis") / "policy.toml").read_text("utf-8"), "bundled"
    else:
        text, source = Path(path).read_text("utf-8"), str(path)
    raw = tomllib.loads(text)
    entries = [
        PolicyEntry(**{k: v for k, v in e.items() if k in PolicyEntry.__dataclass_fields__})
        for e in raw.get("value", [])
    ]
    if not entries:
        raise ValueError(f"policy {source} lists no [[value]] entries")
    matching = {
        "match_low": 0.70,
        "match_high": 0.90,
        "protective_factor": 0.2,
        "protective_words": [],
        **raw.get("matching", {}),
    }
    scoring = {
        "weight_harmful": 1.0,
        "weight_policy": 0.9,
        "weight_rarity": 0.3,
        "rarity_floor": 2.0,
        "rarity_cap": 5.0,
        **raw.get("scoring", {}),
    }
    return Policy(entries, matching, scoring, source)


def _key(s: str) -> str:
    """Lemma-ish match key: normalised words with a plural 's' dropped."""
    words = normalise_value(pd.Series([s])).iloc[0].replace("-", " ").split()
    return " ".join(w[:-1] if len(w) > 3 and w.endswith("s") and not w.endswith("ss") else w for w in words)


_VECTORS: dict[tuple[str, str], np.ndarray] = {}  # (embedder, text) -> vector, per process


def embed_cached(texts: list[str], embedder: str = "minilm") -> np.ndarray:
    """Embeddings of short texts, memoised: a rerun or a second stage pays nothing."""
    from valuescope.embed import get_embedder

    missing = sorted({t for t in texts if (embedder, t) not in _VECTORS})
    if missing:
        for t, v in zip(missing, get_embedder(embedder).embed(missing), strict=True):
            _VECTORS[(embedder, t)] = v
    if not texts:
        return np.zeros((0, 1), dtype=np.float32)
    return np.stack([_VECTORS[(embedder, t)] for t in texts])


def match_values(values: list[str], policy: Policy, embedder: str = "minilm") -> pd.DataFrame:
    """Best policy entry and match strength (0..1, times severity) for each distinct value."""
    m = policy.matching
    keys = [_key(v) for v in values]
    phrases = [(i, _key(p)) for i, e in enumerate(policy.entries) for p in e.phrases]
    protective = {_key(w) for w in m["protective_words"]} | set(m["protective_words"])
    strength = np.zeros((len(values), len(policy.entries)))
    for vi, k in enumerate(keys):
        padded = f" {k} "
        for ei, p in phrases:
            if k == p or f" {p} " in padded:
                strength[vi, ei] = 1.0
    if values:
        sims = embed_cached(values, embedder) @ embed_cached([p for _, p in phrases], embedder).T
        owner = np.array([i for i, _ in phrases])
        lo, hi = float(m["match_low"]), float(m["match_high"])
        sem = np.clip((sims - lo) / (hi - lo), 0, 1)
        for ei in range(len(policy.entries)):
            strength[:, ei] = np.maximum(strength[:, ei], sem[:, owner == ei].max(axis=1))
    guarded = np.array([bool(set(re.split(r"[\s\-]+", k)) & protective) for k in keys], dtype=bool)
    if len(values):
        strength[guarded] *= float(m["protective_factor"])
    strength *= np.array([e.severity for e in policy.entries])
    best = strength.argmax(axis=1) if len(values) else np.zeros(0, dtype=int)
    return pd.DataFrame(
        {
            "value_norm": pd.Series(values, dtype=object),
            "policy_entry": [policy.entries[i].name for i in best],
            "policy_strength": strength[np.arange(len(values)), best] if len(values) else np.zeros(0),
        }
    )


def rarity_of(values: pd.Series, run_share: pd.Series, policy: Policy) -> np.ndarray:
    """Rarity 0..1 per value: published share of conversations when known, else run share (add-one smoothed)."""
    from valuescope.taxonomy.reference import published_tree

    published = published_tree().frequencies  # value -> pct_convos
    s = policy.scoring
    p = np.array([published[v] / 100 if published.get(v, 0) > 0 else run_share.get(v, np.nan) for v in values])
    with np.errstate(divide="ignore", invalid="ignore"):
        r = (-np.log10(p) - s["rarity_floor"]) / (s["rarity_cap"] - s["rarity_floor"])
    return np.clip(np.nan_to_num(r, nan=0.0), 0, 1)


def _matched_values(data: RunData, policy: Policy, embedder: str) -> pd.DataFrame:
    """Per distinct AI value of a judged conversation: best policy entry, its strength, and rarity."""
    ai = "FROM vals WHERE side = 'ai' AND coalesce(CAST(value_norm AS VARCHAR), '') <> '' AND id IN (SELECT id FROM conv)"
    per_value = data.df(f"SELECT CAST(value_norm AS VARCHAR) AS value_norm, count(DISTINCT id) AS n {ai} GROUP BY 1")
    distinct = sorted(per_value["value_norm"])
    matches = match_values(distinct, policy, embedder)
    n_subj = max(int(data.scalar(f"SELECT count(*) FROM conv WHERE {SUBJECTIVE}")), 1)
    run_share = (per_value.set_index("value_norm")["n"] + 1) / (n_subj + 1)
    matches["rarity"] = rarity_of(pd.Series(distinct), run_share, policy) if distinct else []
    return matches


def scored_batches(data: RunData, policy: Policy, embedder: str = "minilm") -> Iterator[pd.DataFrame]:
    """score_conversations in batches of conversations (in judgments order): the per-conversation maxima
    and the matched values come from one SQL aggregate, only a batch of its rows is ever in memory.
    Ties between a conversation's values (equal strength or rarity) go to the value mentioned first."""
    data.con.register("policy_value_matches", _matched_values(data, policy, embedder))
    first = "struct_pack(s := {}, r := -v._row)"
    sql = (
        "WITH a AS (SELECT v.id, v._row, m.* FROM vals v JOIN policy_value_matches m "
        "ON CAST(v.value_norm AS VARCHAR) = m.value_norm WHERE v.side = 'ai'), "
        "per AS (SELECT id, max(policy_strength) AS policy_score, "
        f"arg_max(value_norm, {first.format('policy_strength')}) AS pol_value, "
        f"arg_max(policy_entry, {first.format('policy_strength')}) AS pol_entry, "
        f"max(rarity) AS rarity, arg_max(value_norm, {first.format('rarity')}) AS rar_value, "
        "list(struct_pack(v := value_norm, e := policy_entry, x := policy_strength) ORDER BY _row) "
        "FILTER (WHERE policy_strength >= 0.25) AS matched FROM a v GROUP BY id) "
        "SELECT c.id, c.harmful_score, p.* EXCLUDE (id) FROM conv c LEFT JOIN per p USING (id) ORDER BY c._row"
    )
    s = policy.scoring
    for batch in batches(data.con, sql):
        conv = batch.to_pandas()
        conv["harmful_score"] = conv["harmful_score"].fillna(0.0).astype(float).clip(0, 1)
        conv["policy_score"] = conv["policy_score"].astype(float).fillna(0.0)
        conv["rarity"] = conv["rarity"].astype(float).fillna(0.0)
        conv["anomaly_score"] = 1 - (
            (1 - s["weight_harmful"] * conv["harmful_score"])
            * (1 - s["weight_policy"] * conv["policy_score"])
            * (1 - s["weight_rarity"] * conv["rarity"])
        )
        conv["policy_matches"] = [
            "; ".join(f"{m['v']} ~ {m['e']} ({m['x']:.2f})" for m in ms) if ms is not None and len(ms) else ""
            for ms in conv["matched"]
        ]
        reasons = []
        for row in conv.itertuples():
            parts = []
            if row.harmful_score >= 0.5:
                parts.append(f"harmful compliance judged {row.harmful_score:.2f}")
            if row.policy_score >= 0.25:
                parts.append(f"disfavoured value: {row.pol_value} ~ {row.pol_entry} ({row.policy_score:.2f})")
            if row.rarity >= 0.5:
                parts.append(f"rare value: {row.rar_value} (rarity {row.rarity:.2f})")
            reasons.append("; ".join(parts))
        conv["reasons"] = reasons
        yield conv[["id", "harmful_score", "policy_score", "rarity", "anomaly_score", "policy_matches", "reasons"]]
    data.con.unregister("policy_value_matches")


def score_conversations(data: RunData, policy: Policy, embedder: str = "minilm") -> pd.DataFrame:
    """Per conversation: anomaly_score and its components, with human-readable reasons."""
    parts = list(scored_batches(data, policy, embedder))
    return (
        pd.concat(parts, ignore_index=True)
        if parts
        else pd.DataFrame(columns=[*SCORE_COLUMNS, "policy_matches", "reasons"])
    )


SCORE_COLUMNS = ["id", "anomaly_score", "harmful_score", "policy_score", "rarity"]
SCORE_SCHEMA = pa.schema([("id", pa.string()), *((c, pa.float64()) for c in SCORE_COLUMNS[1:])])


def scores_table(scored: pd.DataFrame) -> pd.DataFrame:
    """anomaly_scores.parquet: one row per judged conversation, the score and its three parts (no text)."""
    out = scored[SCORE_COLUMNS].reset_index(drop=True)
    return out.astype({"id": object, **dict.fromkeys(SCORE_COLUMNS[1:], float)})


class TopAlerts:
    """The alerts of a stream of scored batches: keeps only the best `top` candidates seen so far."""

    def __init__(self, top: int, min_score: float) -> None:
        self.top, self.min_score = top, min_score
        self.best = pd.DataFrame()
        self.n, self.total = 0, 0.0

    def add(self, scored: pd.DataFrame) -> pd.DataFrame:
        self.n += len(scored)
        self.total += float(scored["anomaly_score"].sum())
        cand = scored[scored["anomaly_score"] >= self.min_score]
        if len(cand):
            both = pd.concat([self.best, cand], ignore_index=True) if len(self.best) else cand
            self.best = both.sort_values(["anomaly_score", "id"], ascending=[False, True]).head(self.top)
        return scored

    def table(self) -> pd.DataFrame:
        if self.best.empty:
            return pd.DataFrame(columns=ALERT_COLUMNS)
        return alerts_table(self.best, self.top, self.min_score)


def alerts_table(scored: pd.DataFrame, top: int = 50, min_score: float = 0.5) -> pd.DataFrame:
    """The highest-scoring conversations (ids and reasons only, never text)."""
    a = (
        scored[scored["anomaly_score"] >= min_score]
        .sort_values(["anomaly_score", "id"], ascending=[False, True])
        .head(top)
    )
    a = a.assign(rank=np.arange(1, len(a) + 1))
    return a[ALERT_COLUMNS].reset_index(drop=True)


def roc_auc(scores: np.ndarray, labels: np.ndarray) -> tuple[float, float, float]:
    """ROC AUC with a Hanley-McNeil 95% interval (used by the benchmark)."""
    from sklearn.metrics import roc_auc_score

    labels = np.asarray(labels, dtype=bool)
    auc = float(roc_auc_score(labels, scores))
    n1, n0 = int(labels.sum()), int((~labels).sum())
    q1, q2 = auc / (2 - auc), 2 * auc**2 / (1 + auc)
    se = math.sqrt((auc * (1 - auc) + (n1 - 1) * (q1 - auc**2) + (n0 - 1) * (q2 - auc**2)) / (n1 * n0))
    return auc, max(0.0, auc - 1.96 * se), min(1.0, auc + 1.96 * se)
