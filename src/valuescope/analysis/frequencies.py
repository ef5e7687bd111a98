"""Frequencies: how often each value (and each taxonomy cluster) is expressed.

The headline share is the fraction of *subjective* conversations that express
the value at least once, as in the study; intervals are Wilson 95%.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from valuescope.analysis import stats
from valuescope.analysis.data import LEVELS, SIDES, RunData, count_cells, long_values, presence

FREQ_COLUMNS = [
    "side",
    "level",
    "name",
    "n",
    "n_users",
    "share",
    "ci_low",
    "ci_high",
    "n_occurrences",
    "share_occurrences",
    "explicit_share",
    "explicit_ci_low",
    "explicit_ci_high",
]


def frequencies(data: RunData, alpha: float = 0.05) -> pd.DataFrame:
    """One row per (side, level, name), before the privacy floor."""
    subj = data.conv[data.conv["subjective"].astype(bool)]
    n_subj = len(subj)
    long = long_values(data.values, subj["id"])
    if long.empty or n_subj == 0:
        return pd.DataFrame(columns=FREQ_COLUMNS)
    counts = count_cells(presence(long), data.conv, ["side", "level", "name"], data.has_users)
    occ = long.groupby(["side", "level", "name"]).size().rename("n_occurrences").reset_index()
    occ["share_occurrences"] = occ["n_occurrences"] / occ.groupby(["side", "level"])["n_occurrences"].transform("sum")
    ai = long[(long["side"] == "ai") & long["explicit"].notna()].copy()
    ai["explicit"] = ai["explicit"].astype(bool)
    expl = ai.groupby(["side", "level", "name"])["explicit"].agg(["sum", "count"]).reset_index()
    out = counts.merge(occ, on=["side", "level", "name"], how="left").merge(
        expl, on=["side", "level", "name"], how="left"
    )
    out["share"] = out["n"] / n_subj
    out["ci_low"], out["ci_high"] = stats.wilson(out["n"], n_subj, alpha)
    with np.errstate(divide="ignore", invalid="ignore"):
        out["explicit_share"] = np.where(out["count"] > 0, out["sum"] / out["count"], np.nan)
    lo, hi = stats.wilson(out["sum"].fillna(0), out["count"].fillna(0), alpha)
    out["explicit_ci_low"], out["explicit_ci_high"] = lo, hi
    human = out["side"] != "ai"
    out.loc[human, ["explicit_share", "explicit_ci_low", "explicit_ci_high"]] = np.nan
    out["level"] = pd.Categorical(out["level"], LEVELS, ordered=True)
    out = out.sort_values(["side", "level", "n", "name"], ascending=[True, True, False, True])
    out["level"] = out["level"].astype(str)
    return out[FREQ_COLUMNS].reset_index(drop=True)


def summary(data: RunData, alpha: float = 0.05) -> pd.DataFrame:
    """One row per side: how many conversations, how many values, values per conversation (t interval)."""
    conv = data.conv
    subj = conv[conv["subjective"].astype(bool)]
    long = long_values(data.values, subj["id"])
    rows = []
    for side in SIDES:
        s = long[long["side"] == side]
        vals = s[s["level"] == "value"]
        per_conv = vals.groupby("id")["name"].nunique().reindex(subj["id"], fill_value=0).to_numpy()
        mean, lo, hi = stats.mean_ci(per_conv, alpha)
        n_with = int((per_conv > 0).sum())
        wl, wh = stats.wilson(n_with, len(subj), alpha)
        expl = vals["explicit"].dropna().astype(bool) if side == "ai" else pd.Series(dtype=bool)
        el, eh = stats.wilson(int(expl.sum()), len(expl), alpha)
        row = {
            "side": side,
            "n_conversations": len(conv),
            "n_subjective": len(subj),
            "distinct_values": int(vals["name"].nunique()),
            "values_per_conversation_mean": mean,
            "values_per_conversation_ci_low": lo,
            "values_per_conversation_ci_high": hi,
            "n_with_values": n_with,
            "share_with_values": n_with / len(subj) if len(subj) else np.nan,
            "share_with_values_ci_low": float(wl),
            "share_with_values_ci_high": float(wh),
            "n_occurrences": int(len(vals)),
            "explicit_share": float(expl.mean()) if len(expl) else np.nan,
            "explicit_ci_low": float(el),
            "explicit_ci_high": float(eh),
            "placed": data.placed,
        }
        for level in ("l1", "l2", "l3"):
            row[f"distinct_{level}"] = int(s.loc[s["level"] == level, "name"].nunique())
        rows.append(row)
    sub = pd.DataFrame(rows)
    wl, wh = stats.wilson(len(subj), len(conv), alpha)
    sub["subjective_share"] = len(subj) / len(conv) if len(conv) else np.nan
    sub["subjective_ci_low"], sub["subjective_ci_high"] = float(wl), float(wh)
    return sub
