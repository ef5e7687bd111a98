"""Comparison of two groups of conversations: two models, two weeks, or two runs.

Per value (every side and level) the rate is the share of the group's judged
conversations that express it. Differences get a Newcombe hybrid-score 95%
interval and a two-sided test (pooled z, or Fisher's exact test when an expected
count is below 5); p-values are corrected within each (side, level) family over
values seen in at least ``min_support`` conversations of the two groups together.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats as sps
from scipy.spatial.distance import jensenshannon

from valuescope.analysis import stats
from valuescope.analysis.config import AnalysisConfig
from valuescope.analysis.data import SUBJECTIVE, USER_SQL, RunData, load, q
from valuescope.engine.rundir import RunDir, atomic_write_bytes
from valuescope.privacy.floor import apply_floor, floor_section
from valuescope.records import RESPONSE_TYPES

COMPARE_COLUMNS = [
    "group_a",
    "group_b",
    "side",
    "level",
    "name",
    "n_a",
    "n_b",
    "rate_a",
    "rate_b",
    "diff",
    "ci_low",
    "ci_high",
    "p_value",
    "q_value",
    "significant",
    "status",
    "n_conversations_a",
    "n_conversations_b",
    "n_users_a",
    "n_users_b",
]
RESPONSE_COLUMNS = [
    "group_a",
    "group_b",
    "response",
    "n_a",
    "n_b",
    "rate_a",
    "rate_b",
    "diff",
    "ci_low",
    "ci_high",
    "p_value",
    "q_value",
    "significant",
    "n_users_a",
    "n_users_b",
]


MAX_PAIRWISE = 8  # more groups than this: each group against the rest of the run


@dataclass
class Group:
    """What a comparison needs from one group of conversations, computed once."""

    label: str
    n: int
    n_subjective: int
    counts: pd.DataFrame  # side, level, name, n, n_users
    responses: pd.DataFrame  # index response: n, n_users
    has_users: bool


def group_of(data: RunData, label: str, where: str = "true", has_users: bool | None = None) -> Group:
    """One group: the conversations of `data` matching the SQL condition `where` (over the conv view)."""
    if has_users is None:
        has_users = bool(data.scalar(f"SELECT coalesce(bool_or(user_id IS NOT NULL), false) FROM conv WHERE {where}"))
    users = f"count(DISTINCT {USER_SQL})" if has_users else "CAST(NULL AS DOUBLE)"
    sel = f"(SELECT id, user_id FROM conv WHERE {where})"
    counts = data.df(
        f"SELECT side, level, name, count(DISTINCT id) AS n, {users} AS n_users FROM pres JOIN {sel} USING (id) GROUP BY ALL"
    )
    return _group(data, label, where, counts, has_users)


def _group(data: RunData, label: str, where: str, counts: pd.DataFrame, has_users: bool) -> Group:
    users = f"count(DISTINCT {USER_SQL})" if has_users else "CAST(NULL AS DOUBLE)"
    n, n_subj = data.con.execute(
        f"SELECT count(*), count(*) FILTER (WHERE {SUBJECTIVE}) FROM conv WHERE {where}"
    ).fetchall()[0]
    resp = data.df(
        f"SELECT response, count(DISTINCT id) AS n, {users} AS n_users FROM conv WHERE {where} GROUP BY response"
    ).set_index("response")
    return Group(label, int(n), int(n_subj), counts, resp.reindex(list(RESPONSE_TYPES)), has_users)


def subset(data: RunData, mask: pd.Series) -> RunData:
    """An in-memory RunData of the conversations in `mask` (a boolean Series over ``data.conv``)."""
    conv = data.conv[mask.to_numpy()].reset_index(drop=True)
    return RunData(conv=conv, values=data.values[data.values["id"].isin(set(conv["id"]))], placed=data.placed)


def week_of(ts: pd.Series) -> pd.Series:
    """ISO week label ("2024-W05") of ISO 8601 timestamps; unparseable ones are null."""
    t = pd.to_datetime(ts, utc=True, errors="coerce", format="ISO8601")
    iso = t.dt.isocalendar()
    out = iso["year"].astype("string") + "-W" + iso["week"].astype("string").str.zfill(2)
    return pd.Series([x if ok else None for x, ok in zip(out.astype(object), t.notna())], index=ts.index, dtype=object)


def group_labels(data: RunData, by: str) -> str:
    """The group of each conversation as a SQL expression over the conv view (weeks: computed once per
    distinct timestamp with :func:`week_of`)."""
    if by == "model":
        return "CAST(model AS VARCHAR)"
    if by == "week":
        if "week_labels" not in {r[0] for r in data.con.execute("SHOW TABLES").fetchall()}:
            ts = data.df("SELECT DISTINCT CAST(timestamp AS VARCHAR) AS ts FROM conv WHERE timestamp IS NOT NULL")["ts"]
            data.con.register("week_labels", pd.DataFrame({"ts": ts, "week": week_of(ts)}))
        return "(SELECT w.week FROM week_labels w WHERE w.ts = CAST(timestamp AS VARCHAR))"
    raise ValueError(f"unknown grouping {by!r}; use 'model' or 'week'")


def group_names(data: RunData, label: str) -> list[str]:
    return sorted(data.df(f"SELECT DISTINCT {label} AS g FROM conv")["g"].dropna().astype(str))


def groups_within(data: RunData, by: str) -> list[tuple[Group, Group]]:
    """Pairs to compare inside one run: every pair of models (or each against the rest when
    there are more than MAX_PAIRWISE), or consecutive weeks."""
    label = group_labels(data, by)
    labels = group_names(data, label)
    if len(labels) < 2:
        return []
    counts = data.df(
        f"SELECT grp, side, level, name, count(DISTINCT id) AS n, {data.users_sql()} AS n_users "
        f"FROM pres JOIN (SELECT id, user_id, {label} AS grp FROM conv) USING (id) GROUP BY ALL"
    )
    groups = {
        g: _group(
            data,
            g,
            f"{label} = {q(g)}",
            counts[counts["grp"] == g].drop(columns="grp").reset_index(drop=True),
            data.has_users,
        )
        for g in labels
    }
    if by == "week":
        return [(groups[a], groups[b]) for a, b in zip(labels, labels[1:])]
    if len(labels) <= MAX_PAIRWISE:
        return [(groups[a], groups[b]) for a, b in itertools.combinations(labels, 2)]
    return [
        (groups[g], group_of(data, f"rest (not {g})", f"{label} IS NOT NULL AND {label} <> {q(g)}")) for g in labels
    ]


def compare_values(a: Group, b: Group, cfg: AnalysisConfig) -> pd.DataFrame:
    """Per-value rate differences with intervals and corrected tests (before the privacy floor)."""
    df = a.counts.merge(b.counts, on=["side", "level", "name"], how="outer", suffixes=("_a", "_b"))
    df[["n_a", "n_b"]] = df[["n_a", "n_b"]].fillna(0).astype(int)
    if a.has_users or b.has_users:
        df[["n_users_a", "n_users_b"]] = df[["n_users_a", "n_users_b"]].fillna(0)
    na, nb = a.n, b.n
    df["n_conversations_a"], df["n_conversations_b"] = na, nb
    df["rate_a"], df["rate_b"] = df["n_a"] / max(na, 1), df["n_b"] / max(nb, 1)
    df["diff"], df["ci_low"], df["ci_high"] = stats.newcombe_diff(df["n_a"], na, df["n_b"], nb, cfg.alpha)
    tested = ((df["n_a"] + df["n_b"]) >= cfg.min_support).to_numpy()
    p = np.full(len(df), np.nan)
    if tested.any():
        p[tested] = stats.two_proportion_p(df.loc[tested, "n_a"], na, df.loc[tested, "n_b"], nb)
    df["p_value"] = p
    q = np.full(len(df), np.nan)
    for _, idx in df.groupby(["side", "level"]).indices.items():
        q[idx] = stats.correct(p[idx], cfg.correction)
    df["q_value"] = q
    df["significant"] = df["q_value"].fillna(1.0) < cfg.alpha
    df["status"] = np.where(df["n_b"] == 0, "only_a", np.where(df["n_a"] == 0, "only_b", "both"))
    df["group_a"], df["group_b"] = a.label, b.label
    return df[COMPARE_COLUMNS].sort_values(["side", "level", "q_value", "name"]).reset_index(drop=True)


def compare_responses(a: Group, b: Group, cfg: AnalysisConfig) -> pd.DataFrame:
    """Shift of each response type's share of all judged conversations."""
    df = (
        pd.concat([a.responses.add_suffix("_a"), b.responses.add_suffix("_b")], axis=1)
        .rename_axis("response")
        .reset_index()
    )
    df[["n_a", "n_b"]] = df[["n_a", "n_b"]].fillna(0).astype(int)
    na, nb = a.n, b.n
    df["rate_a"], df["rate_b"] = df["n_a"] / max(na, 1), df["n_b"] / max(nb, 1)
    df["diff"], df["ci_low"], df["ci_high"] = stats.newcombe_diff(df["n_a"], na, df["n_b"], nb, cfg.alpha)
    df["p_value"] = stats.two_proportion_p(df["n_a"], na, df["n_b"], nb)
    df.loc[(df["n_a"] + df["n_b"]) == 0, "p_value"] = np.nan
    df["q_value"] = stats.correct(df["p_value"].to_numpy(), cfg.correction)
    df["significant"] = df["q_value"].fillna(1.0) < cfg.alpha
    df["group_a"], df["group_b"] = a.label, b.label
    return df[RESPONSE_COLUMNS]


def drift_summary(
    a: Group,
    b: Group,
    values: pd.DataFrame,
    responses: pd.DataFrame,
    cfg: AnalysisConfig,
    all_values: pd.DataFrame | None = None,
) -> dict[str, Any]:
    """A short, citable account of what changed between A and B.

    Named values come from `values` (already floored); the counts of tested and
    significant values per family come from `all_values` (before the floor) —
    counts of cells are not cells.
    """
    na, nb, sa, sb = a.n, b.n, a.n_subjective, b.n_subjective
    d, lo, hi = stats.newcombe_diff(sa, na, sb, nb, cfg.alpha)
    base = values if all_values is None else all_values
    tested = base[base["p_value"].notna()]
    per_family = {}
    for (side, level), g in tested.groupby(["side", "level"]):
        sig = g[g["significant"]]
        k, n = len(sig), len(g)
        wl, wh = stats.wilson(k, n, cfg.alpha)
        per_family[f"{side}/{level}"] = {
            "tested": n,
            "significant": k,
            "share_significant": k / n if n else None,
            "ci_low": float(wl),
            "ci_high": float(wh),
            "higher_in_a": int((sig["diff"] > 0).sum()),
            "higher_in_b": int((sig["diff"] < 0).sum()),
        }
    v = values[(values["side"] == "ai") & (values["level"] == "value")]
    sig = v[v["significant"]].sort_values("diff")
    pick = ["name", "rate_a", "rate_b", "diff", "ci_low", "ci_high", "q_value"]
    tab = np.array([a.responses["n"].fillna(0).to_numpy(int), b.responses["n"].fillna(0).to_numpy(int)])
    tab = tab[:, tab.sum(axis=0) > 0]
    resp_p = float(sps.chi2_contingency(tab)[1]) if tab.shape[1] > 1 and tab.sum(axis=1).all() else None
    js = None
    if len(v):
        js = float(jensenshannon(v["n_a"].to_numpy(float) + 1e-12, v["n_b"].to_numpy(float) + 1e-12, base=2))
    return {
        "group_a": a.label,
        "group_b": b.label,
        "n_conversations": {"a": na, "b": nb},
        "subjective_rate": {
            "a": sa / max(na, 1),
            "b": sb / max(nb, 1),
            "diff": float(d),
            "ci_low": float(lo),
            "ci_high": float(hi),
            "p_value": float(stats.two_proportion_p(sa, na, sb, nb)[0]),
        },
        "families": per_family,
        "top_higher_in_a": sig[sig["diff"] > 0].tail(10)[pick].iloc[::-1].to_dict("records"),
        "top_higher_in_b": sig[sig["diff"] < 0].head(10)[pick].to_dict("records"),
        "ai_values_only_in_a": v.loc[v["status"] == "only_a", "name"].head(20).tolist(),
        "ai_values_only_in_b": v.loc[v["status"] == "only_b", "name"].head(20).tolist(),
        "n_ai_values_only_in_a": int((v["status"] == "only_a").sum()),
        "n_ai_values_only_in_b": int((v["status"] == "only_b").sum()),
        "ai_value_js_distance": js,
        "response_shift": {
            "chi2_p_value": resp_p,
            "significant_types": responses.loc[responses["significant"], "response"].tolist(),
        },
        "correction": cfg.correction,
        "alpha": cfg.alpha,
    }


def compare_pair(
    a: Group, b: Group, cfg: AnalysisConfig, min_conversations: int, min_users: int
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any], dict[str, int]]:
    """Everything for one pair, with the privacy floor applied (a zero count passes: it holds nobody)."""
    vals = compare_values(a, b, cfg)
    resp = compare_responses(a, b, cfg)
    floor = dict(
        n_col=["n_a", "n_b"],
        users_col=["n_users_a", "n_users_b"],
        min_conversations=min_conversations,
        min_users=min_users,
        allow_zero=True,
    )
    kept, sv = apply_floor(vals, **floor)
    resp, sr = apply_floor(resp, **floor)
    drift = drift_summary(a, b, kept, resp, cfg, all_values=vals)
    vals = kept
    drift["suppressed"] = {"compare": sv, "compare_responses": sr}
    return vals, resp, drift, {"compare": sv, "compare_responses": sr}


def compare_many(
    pairs: list[tuple[Group, Group]], cfg: AnalysisConfig, min_conversations: int, min_users: int
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any], dict[str, int]]:
    vals, resps, drifts = [], [], []
    suppressed = {"compare": 0, "compare_responses": 0}
    for a, b in pairs:
        v, r, d, s = compare_pair(a, b, cfg, min_conversations, min_users)
        vals.append(v)
        resps.append(r)
        drifts.append(d)
        for k in suppressed:
            suppressed[k] += s[k]
    v = pd.concat(vals, ignore_index=True) if vals else pd.DataFrame(columns=COMPARE_COLUMNS)
    r = pd.concat(resps, ignore_index=True) if resps else pd.DataFrame(columns=RESPONSE_COLUMNS)
    return v, r, {"pairs": drifts}, suppressed


def write_comparison(
    out: RunDir, vals: pd.DataFrame, resp: pd.DataFrame, drift: dict[str, Any], prefix: str = ""
) -> None:
    """compare.parquet, compare_responses.parquet and drift_summary.json under `out` (+ prefix)."""
    out.write_table(f"{prefix}compare", vals.reset_index(drop=True))
    out.write_table(f"{prefix}compare_responses", resp.reset_index(drop=True))
    atomic_write_bytes(
        out.path / f"{prefix}drift_summary.json", json.dumps(drift, indent=2, default=float).encode("utf-8")
    )


def run_label(run: RunDir, data: RunData) -> str:
    """A run's name in a comparison: its single model when it holds one, else its folder name."""
    models = data.df("SELECT DISTINCT model FROM conv WHERE model IS NOT NULL")["model"]
    return str(models.iloc[0]) if len(models) == 1 else run.path.name


def compare_runs(
    run_paths: list[str],
    out: str,
    cfg: AnalysisConfig,
    min_conversations: int,
    min_users: int,
    by: str | None = None,
    group_a: str | None = None,
    group_b: str | None = None,
) -> dict[str, Any]:
    """`valuescope compare`: two runs against each other, or groups (model | week) within one run.

    Writes compare.parquet, compare_responses.parquet, drift_summary.json and a
    manifest with the privacy floor into `out`; returns the drift summary.
    """
    runs = [RunDir(p, create=False) for p in run_paths]
    datas = [load(r) for r in runs]
    if len(runs) == 2:
        la, lb = run_label(runs[0], datas[0]), run_label(runs[1], datas[1])
        if la == lb:
            la, lb = f"A: {la}", f"B: {lb}"
        pairs = [(group_of(datas[0], la), group_of(datas[1], lb))]
    elif len(runs) == 1:
        data = datas[0]
        if group_a or group_b:
            label = group_labels(data, by or "model")
            known = group_names(data, label)
            for g in (group_a, group_b):
                if g is not None and g not in known:
                    raise ValueError(f"no group {g!r} in {run_paths[0]}; groups: {', '.join(known)}")
            a = group_of(data, group_a, f"{label} = {q(group_a)}") if group_a else None
            b_where = f"{label} = {q(group_b)}" if group_b else f"{label} IS NOT NULL AND {label} <> {q(group_a)}"
            b = group_of(data, group_b or f"rest (not {group_a})", b_where)
            if a is None:
                a = group_of(data, f"rest (not {group_b})", f"{label} IS NOT NULL AND {label} <> {q(group_b)}")
            pairs = [(a, b)]
        else:
            pairs = groups_within(data, by or "model")
            if not pairs:
                raise ValueError(f"{run_paths[0]} holds fewer than two groups by {by or 'model'}")
    else:
        raise ValueError("compare takes one run (with --by) or two runs")
    vals, resp, drift, suppressed = compare_many(pairs, cfg, min_conversations, min_users)
    drift.update({"runs": [str(r.path) for r in runs], "by": by if len(runs) == 1 else "run"})
    target = RunDir(out)
    with target.lock():  # `out` may be a run another process is working in
        write_comparison(target, vals, resp, drift)
        target.update_manifest(
            compare={
                "runs": [str(r.path) for r in runs],
                "by": drift["by"],
                "pairs": len(pairs),
                "correction": cfg.correction,
            },
            privacy_floor=floor_section(min_conversations, min_users, suppressed),
        )
    return drift
