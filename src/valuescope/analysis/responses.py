"""How the AI responds to the values users bring.

* responses: the 7 response types over subjective conversations, overall and
  per context, Wilson intervals (plus the share among conversations where the
  user did express values, and a residual per context).
* mirroring: per response type, how often the AI expresses a value the user
  expressed (same normalised value).
* resistance values: AI values over-represented in strong-resistance
  conversations versus all other subjective ones — "values defended when pushed".
* value pairs: AI value x human value co-occurrence in conversations where the
  user expressed values: lift, adjusted residual, corrected q.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from valuescope.analysis import stats
from valuescope.analysis.config import AnalysisConfig
from valuescope.analysis.data import LEVELS, RunData, count_cells, long_values, presence
from valuescope.records import RESPONSE_TYPES

ENGAGED = [r for r in RESPONSE_TYPES if r != "no_human_values"]


def _distribution(conv: pd.DataFrame, has_users: bool, alpha: float) -> pd.DataFrame:
    counts = count_cells(conv[["id", "user_id", "response"]], conv, ["response"], has_users).set_index("response")
    out = pd.DataFrame({"response": list(RESPONSE_TYPES)})
    out["n"] = out["response"].map(counts["n"]).fillna(0).astype(int)
    out["n_users"] = out["response"].map(counts["n_users"]) if has_users else np.nan
    n_total = len(conv)
    out["n_total"] = n_total
    out["share"] = out["n"] / n_total if n_total else np.nan
    out["ci_low"], out["ci_high"] = stats.wilson(out["n"], n_total, alpha)
    engaged = out["response"].isin(ENGAGED)
    n_eng = int(out.loc[engaged, "n"].sum())
    out["share_engaged"] = np.where(engaged & (n_eng > 0), out["n"] / max(n_eng, 1), np.nan)
    lo, hi = stats.wilson(out["n"], n_eng, alpha)
    out["engaged_ci_low"], out["engaged_ci_high"] = np.where(engaged, lo, np.nan), np.where(engaged, hi, np.nan)
    return out


def responses_table(data: RunData, cfg: AnalysisConfig, contexts: dict[str, pd.Series]) -> pd.DataFrame:
    """Response-type distribution overall ("all") and per context, before the privacy floor."""
    subj = data.conv["subjective"].astype(bool)
    parts = [_distribution(data.conv[subj], data.has_users, cfg.alpha).assign(context_kind="all", context="all")]
    for kind, labels in contexts.items():
        ok = subj & labels.notna()
        if not ok.any():  # no subjective conversation carries this kind of context
            continue
        conv = data.conv[ok].assign(ctx=labels[ok])
        tab = pd.crosstab(conv["response"], conv["ctx"]).reindex(list(RESPONSE_TYPES), fill_value=0)
        resid = pd.DataFrame(stats.adjusted_residuals(tab.to_numpy()), index=tab.index, columns=tab.columns)
        kind_parts = []
        for ctx, g in conv.groupby("ctx"):
            d = _distribution(g, data.has_users, cfg.alpha).assign(context_kind=kind, context=ctx)
            d["residual"] = d["response"].map(resid[ctx])
            kind_parts.append(d)
        k = pd.concat(kind_parts, ignore_index=True)
        k["p_value"] = stats.residual_p(k["residual"])
        k["q_value"] = stats.correct(k["p_value"].to_numpy(), cfg.correction)
        parts.append(k)
    out = pd.concat(parts, ignore_index=True)
    first = ["context_kind", "context", "response", "n", "share", "ci_low", "ci_high"]
    return out[first + [c for c in out.columns if c not in first]]


def _value_sets(data: RunData, ids: pd.Series, side: str, level: str) -> pd.Series:
    long = long_values(data.values[data.values["side"] == side], ids)
    return long[long["level"] == level].groupby("id")["name"].agg(set)


def mirroring_table(data: RunData, cfg: AnalysisConfig, level: str = "value") -> pd.DataFrame:
    """Per response type (and "all"): share of conversations where an AI value equals a human value."""
    conv = data.conv[data.conv["subjective"].astype(bool)]
    human = _value_sets(data, conv["id"], "human", level)
    ai = _value_sets(data, conv["id"], "ai", level)
    conv = conv[conv["id"].isin(human.index)].copy()
    conv["mirrored"] = [bool(human[i] & ai.get(i, set())) for i in conv["id"]]
    rows = []
    groups = [("all", conv)] + [(r, conv[conv["response"] == r]) for r in RESPONSE_TYPES]
    for response, g in groups:
        n, k = len(g), int(g["mirrored"].sum())
        lo, hi = stats.wilson(k, n, cfg.alpha)
        users = count_cells(g[["id", "user_id"]].assign(x=1), g, ["x"], data.has_users)
        rows.append(
            {
                "response": response,
                "n": n,
                "n_mirrored": k,
                "share": k / n if n else np.nan,
                "ci_low": float(lo),
                "ci_high": float(hi),
                "level": level,
                "n_users": float(users["n_users"].iloc[0]) if n else np.nan,
            }
        )
    return pd.DataFrame(rows)


def resistance_table(data: RunData, cfg: AnalysisConfig) -> pd.DataFrame:
    """AI values over-represented in strong-resistance conversations vs the other subjective ones."""
    conv = data.conv[data.conv["subjective"].astype(bool)]
    resist_ids = set(conv.loc[conv["response"] == "strong_resistance", "id"])
    n_total, n_res = len(conv), len(resist_ids)
    pres = presence(long_values(data.values[data.values["side"] == "ai"], conv["id"]))
    pres["resist"] = pres["id"].isin(resist_ids)
    parts = []
    for level in LEVELS:
        p = pres[pres["level"] == level]
        if p.empty or n_res == 0:
            continue
        tot = p.groupby("name")["id"].nunique()
        tot = tot[tot >= cfg.min_support]
        res_cells = count_cells(p[p["resist"] & p["name"].isin(tot.index)], data.conv, ["name"], data.has_users)
        g = pd.DataFrame({"name": tot.index, "n_value": tot.to_numpy()}).merge(res_cells, on="name", how="left")
        g["n_resist"] = g.pop("n").fillna(0).astype(int)
        g["rate_resist"] = g["n_resist"] / n_res
        g["ci_low"], g["ci_high"] = stats.wilson(g["n_resist"], n_res, cfg.alpha)
        n_oth = n_total - n_res
        g["rate_other"] = (g["n_value"] - g["n_resist"]) / n_oth if n_oth else np.nan
        g["expected"], g["residual"] = stats.cell_residual(g["n_resist"], g["n_value"], n_res, n_total)
        g["lift"] = stats.lift(g["n_resist"], g["expected"])  # rate when resisting / rate over all: finite
        g["p_value"] = stats.residual_p(g["residual"])
        g["q_value"] = stats.correct(g["p_value"].to_numpy(), cfg.correction)
        g["significant"] = (g["q_value"] < cfg.alpha) & (g["residual"] > 0)
        parts.append(g.assign(level=level, n_resist_conversations=n_res, n_conversations=n_total))
    cols = [
        "level",
        "name",
        "n_resist",
        "rate_resist",
        "rate_other",
        "lift",
        "residual",
        "q_value",
        "p_value",
        "ci_low",
        "ci_high",
        "n_value",
        "n_users",
        "significant",
        "n_resist_conversations",
        "n_conversations",
    ]
    if not parts:
        return pd.DataFrame(columns=cols)
    return pd.concat(parts, ignore_index=True)[cols].sort_values(["level", "residual"], ascending=[True, False])


def pairs_table(data: RunData, cfg: AnalysisConfig) -> pd.DataFrame:
    """AI value x human value associations in conversations where the user expressed values."""
    conv = data.conv[data.conv["subjective"].astype(bool)]
    pres = presence(long_values(data.values, conv["id"]))
    ids = pres.loc[pres["side"] == "human", "id"].unique()
    pres = pres[pres["id"].isin(ids)]
    n_total = len(ids)
    parts = []
    for level in LEVELS:
        p = pres[pres["level"] == level]
        ai, hu = p[p["side"] == "ai"], p[p["side"] == "human"]
        n_ai, n_hu = ai.groupby("name")["id"].nunique(), hu.groupby("name")["id"].nunique()
        ai = ai[ai["name"].map(n_ai) >= cfg.min_support]
        hu = hu[hu["name"].map(n_hu) >= cfg.min_support]
        both = ai[["id", "name"]].merge(hu[["id", "name"]], on="id", suffixes=("_ai", "_h"))
        if both.empty:
            continue
        g = count_cells(
            both.rename(columns={"name_ai": "ai_value", "name_h": "human_value"}),
            data.conv,
            ["ai_value", "human_value"],
            data.has_users,
        )
        g["n_ai"], g["n_human"] = g["ai_value"].map(n_ai), g["human_value"].map(n_hu)
        g["expected"], g["residual"] = stats.cell_residual(g["n"], g["n_ai"], g["n_human"], n_total)
        g["lift"] = stats.lift(g["n"], g["expected"])
        g["p_value"] = stats.residual_p(g["residual"])
        g["q_value"] = stats.correct(g["p_value"].to_numpy(), cfg.correction)
        g["significant"] = g["q_value"] < cfg.alpha
        parts.append(g.assign(level=level, n_conversations=n_total))
    cols = [
        "level",
        "ai_value",
        "human_value",
        "n",
        "lift",
        "residual",
        "q_value",
        "p_value",
        "expected",
        "n_ai",
        "n_human",
        "n_users",
        "significant",
        "n_conversations",
    ]
    if not parts:
        return pd.DataFrame(columns=cols)
    return pd.concat(parts, ignore_index=True)[cols].sort_values(["level", "residual"], ascending=[True, False])
