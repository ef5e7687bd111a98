"""Frequencies: how often each value (and each taxonomy cluster) is expressed.

The headline share is the fraction of *subjective* conversations that express
the value at least once, as in the study; intervals are Wilson 95%.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from valuescope.analysis import stats
from valuescope.analysis.data import LEVELS, SIDES, SUBJECTIVE, RunData

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
    n_subj = int(data.scalar(f"SELECT count(*) FROM conv WHERE {SUBJECTIVE}"))
    subj = f"(SELECT id, user_id FROM conv WHERE {SUBJECTIVE})"
    counts = data.df(
        f"SELECT side, level, name, count(DISTINCT id) AS n, {data.users_sql()} AS n_users "
        f"FROM pres JOIN {subj} USING (id) GROUP BY ALL"
    )
    if counts.empty or n_subj == 0:
        return pd.DataFrame(columns=FREQ_COLUMNS)
    occ = data.df(
        f"SELECT side, level, name, count(*) AS n_occurrences FROM long SEMI JOIN {subj} USING (id) GROUP BY ALL"
    )
    occ["share_occurrences"] = occ["n_occurrences"] / occ.groupby(["side", "level"])["n_occurrences"].transform("sum")
    expl = data.df(
        "SELECT side, level, name, sum(CAST(explicit AS INTEGER)) AS sum, count(*) AS count "
        f"FROM long SEMI JOIN {subj} USING (id) WHERE side = 'ai' AND explicit IS NOT NULL GROUP BY ALL"
    )
    expl["sum"] = expl["sum"].astype("int64")
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
    n_conv, n_subj = data.con.execute(f"SELECT count(*), count(*) FILTER (WHERE {SUBJECTIVE}) FROM conv").fetchall()[0]
    subj = f"(SELECT id FROM conv WHERE {SUBJECTIVE})"
    per_side = data.df(
        "SELECT side, count(DISTINCT name) FILTER (WHERE level = 'value') AS distinct_values, "
        "count(*) FILTER (WHERE level = 'value') AS n_occurrences, "
        "count(explicit) FILTER (WHERE level = 'value') AS n_explicit_known, "
        "coalesce(sum(CAST(explicit AS INTEGER)) FILTER (WHERE level = 'value'), 0) AS n_explicit, "
        + ", ".join(f"count(DISTINCT name) FILTER (WHERE level = '{lv}') AS distinct_{lv}" for lv in ("l1", "l2", "l3"))
        + f" FROM long SEMI JOIN {subj} USING (id) GROUP BY side"
    ).set_index("side")
    per_conv = data.df(
        "SELECT side, count(*) AS n_with, sum(k) AS total, sum(k * k) AS squares FROM ("
        f"SELECT side, id, count(DISTINCT name) AS k FROM long SEMI JOIN {subj} USING (id) "
        "WHERE level = 'value' GROUP BY side, id) GROUP BY side"
    ).set_index("side")
    rows = []
    for side in SIDES:
        s = per_side.loc[side] if side in per_side.index else None
        c = per_conv.loc[side] if side in per_conv.index else None
        n_with = int(c["n_with"]) if c is not None else 0
        total, squares = (int(c["total"]), int(c["squares"])) if c is not None else (0, 0)
        mean, lo, hi = stats.mean_ci_of_sums(n_subj, total, squares, alpha)
        wl, wh = stats.wilson(n_with, n_subj, alpha)
        k_expl, n_expl = (
            (int(s["n_explicit"]), int(s["n_explicit_known"])) if s is not None and side == "ai" else (0, 0)
        )
        el, eh = stats.wilson(k_expl, n_expl, alpha)
        row = {
            "side": side,
            "n_conversations": int(n_conv),
            "n_subjective": int(n_subj),
            "distinct_values": int(s["distinct_values"]) if s is not None else 0,
            "values_per_conversation_mean": mean,
            "values_per_conversation_ci_low": lo,
            "values_per_conversation_ci_high": hi,
            "n_with_values": n_with,
            "share_with_values": n_with / n_subj if n_subj else np.nan,
            "share_with_values_ci_low": float(wl),
            "share_with_values_ci_high": float(wh),
            "n_occurrences": int(s["n_occurrences"]) if s is not None else 0,
            "explicit_share": k_expl / n_expl if n_expl else np.nan,
            "explicit_ci_low": float(el),
            "explicit_ci_high": float(eh),
            "placed": data.placed,
        }
        for level in ("l1", "l2", "l3"):
            row[f"distinct_{level}"] = int(s[f"distinct_{level}"]) if s is not None else 0
        rows.append(row)
    sub = pd.DataFrame(rows)
    wl, wh = stats.wilson(n_subj, n_conv, alpha)
    sub["subjective_share"] = n_subj / n_conv if n_conv else np.nan
    sub["subjective_ci_low"], sub["subjective_ci_high"] = float(wl), float(wh)
    return sub
