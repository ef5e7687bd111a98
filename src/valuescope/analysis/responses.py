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
from valuescope.analysis.data import LEVELS, SUBJECTIVE, RunData, q
from valuescope.records import RESPONSE_TYPES

ENGAGED = [r for r in RESPONSE_TYPES if r != "no_human_values"]


def _distribution(counts: pd.DataFrame, n_total: int, has_users: bool, alpha: float) -> pd.DataFrame:
    """Response shares from conversations (n) and users (n_users) per response type (``counts``)."""
    counts = counts.set_index("response")
    out = pd.DataFrame({"response": list(RESPONSE_TYPES)})
    out["n"] = out["response"].map(counts["n"]).fillna(0).astype(int)
    out["n_users"] = out["response"].map(counts["n_users"]).astype(float) if has_users else np.nan
    out["n_total"] = n_total
    out["share"] = out["n"] / n_total if n_total else np.nan
    out["ci_low"], out["ci_high"] = stats.wilson(out["n"], n_total, alpha)
    engaged = out["response"].isin(ENGAGED)
    n_eng = int(out.loc[engaged, "n"].sum())
    out["share_engaged"] = np.where(engaged & (n_eng > 0), out["n"] / max(n_eng, 1), np.nan)
    lo, hi = stats.wilson(out["n"], n_eng, alpha)
    out["engaged_ci_low"], out["engaged_ci_high"] = np.where(engaged, lo, np.nan), np.where(engaged, hi, np.nan)
    return out


def responses_table(data: RunData, cfg: AnalysisConfig, contexts: dict[str, str]) -> pd.DataFrame:
    """Response-type distribution overall ("all") and per context, before the privacy floor."""
    users = data.users_sql()
    overall = data.df(
        f"SELECT response, count(DISTINCT id) AS n, {users} AS n_users FROM conv WHERE {SUBJECTIVE} GROUP BY response"
    )
    n_subj = int(data.scalar(f"SELECT count(*) FROM conv WHERE {SUBJECTIVE}"))
    parts = [_distribution(overall, n_subj, data.has_users, cfg.alpha).assign(context_kind="all", context="all")]
    for kind, view in contexts.items():
        cells = data.df(
            f"SELECT ctx, response, count(*) AS rows, count(DISTINCT id) AS n, {users} AS n_users "
            f"FROM {view} GROUP BY ALL"
        )
        if cells.empty:  # no subjective conversation carries this kind of context
            continue
        tab = cells.pivot_table(index="response", columns="ctx", values="rows", aggfunc="sum", fill_value=0)
        tab = tab.sort_index(axis=1).reindex(list(RESPONSE_TYPES), fill_value=0)
        resid = pd.DataFrame(stats.adjusted_residuals(tab.to_numpy()), index=tab.index, columns=tab.columns)
        kind_parts = []
        for ctx, g in cells.groupby("ctx"):
            d = _distribution(g, int(g["rows"].sum()), data.has_users, cfg.alpha).assign(context_kind=kind, context=ctx)
            d["residual"] = d["response"].map(resid[ctx])
            kind_parts.append(d)
        k = pd.concat(kind_parts, ignore_index=True)
        k["p_value"] = stats.residual_p(k["residual"])
        k["q_value"] = stats.correct(k["p_value"].to_numpy(), cfg.correction)
        parts.append(k)
    out = pd.concat(parts, ignore_index=True)
    first = ["context_kind", "context", "response", "n", "share", "ci_low", "ci_high"]
    return out[first + [c for c in out.columns if c not in first]]


def mirroring_table(data: RunData, cfg: AnalysisConfig, level: str = "value") -> pd.DataFrame:
    """Per response type (and "all"): share of conversations where an AI value equals a human value."""
    sets = f"SELECT DISTINCT id, name FROM long WHERE level = {q(level)} AND side = "
    per = data.df(
        f"WITH s AS (SELECT id, user_id, response FROM conv WHERE {SUBJECTIVE}), "
        f"h AS ({sets}'human'), a AS ({sets}'ai'), "
        "m AS (SELECT s.*, s.id IN (SELECT id FROM h JOIN a USING (id, name)) AS mirrored "
        "FROM s WHERE s.id IN (SELECT id FROM h)) "
        "SELECT response, count(*) AS n, sum(CAST(mirrored AS INTEGER)) AS k, "
        f"{data.users_sql()} AS n_users, GROUPING(response) AS total FROM m GROUP BY GROUPING SETS ((response), ())"
    )
    rows = []
    for response in ("all", *RESPONSE_TYPES):
        hit = per[per["total"] == 1] if response == "all" else per[(per["total"] == 0) & (per["response"] == response)]
        n = int(hit["n"].sum()) if len(hit) else 0
        k = int(hit["k"].fillna(0).sum()) if len(hit) else 0
        lo, hi = stats.wilson(k, n, cfg.alpha)
        rows.append(
            {
                "response": response,
                "n": n,
                "n_mirrored": k,
                "share": k / n if n else np.nan,
                "ci_low": float(lo),
                "ci_high": float(hi),
                "level": level,
                "n_users": float(hit["n_users"].iloc[0]) if n and data.has_users else np.nan,
            }
        )
    return pd.DataFrame(rows)


def resistance_table(data: RunData, cfg: AnalysisConfig) -> pd.DataFrame:
    """AI values over-represented in strong-resistance conversations vs the other subjective ones."""
    n_total, n_res = data.con.execute(
        f"SELECT count(*), count(DISTINCT id) FILTER (WHERE response = 'strong_resistance') FROM conv WHERE {SUBJECTIVE}"
    ).fetchall()[0]
    resist = "response = 'strong_resistance'"
    cells = data.df(
        f"SELECT level, name, count(DISTINCT id) AS n_value, count(DISTINCT id) FILTER (WHERE {resist}) AS n_resist, "
        f"{data.users_sql(resist)} AS n_users "
        f"FROM pres JOIN (SELECT id, user_id, response FROM conv WHERE {SUBJECTIVE}) USING (id) "
        "WHERE side = 'ai' GROUP BY level, name"
    )
    parts = []
    for level in LEVELS:
        g = cells[cells["level"] == level]
        if g.empty or n_res == 0:
            continue
        g = g[g["n_value"] >= cfg.min_support].sort_values("name")
        g = pd.DataFrame(
            {
                "name": g["name"].to_numpy(),
                "n_value": g["n_value"].to_numpy(),
                "n_users": np.where(g["n_resist"] > 0, g["n_users"].astype(float), np.nan),
                "n_resist": g["n_resist"].astype(int).to_numpy(),
            }
        )
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
    with_human = (
        f"(SELECT id, user_id FROM conv WHERE {SUBJECTIVE} AND id IN (SELECT id FROM pres WHERE side = 'human'))"
    )
    n_total = int(data.scalar(f"SELECT count(DISTINCT id) FROM {with_human}"))
    data.con.execute(
        f"CREATE OR REPLACE TEMP VIEW pair_pres AS SELECT p.*, c.user_id FROM pres p JOIN {with_human} c USING (id)"
    )
    support = data.df("SELECT level, side, name, count(DISTINCT id) AS n FROM pair_pres GROUP BY ALL")
    parts = []
    for level in LEVELS:
        s = support[support["level"] == level]
        n_ai = s[s["side"] == "ai"].set_index("name")["n"].sort_index()
        n_hu = s[s["side"] == "human"].set_index("name")["n"].sort_index()
        data.con.register("supported", support[support["n"] >= cfg.min_support])
        kept = f"SELECT p.* FROM pair_pres p SEMI JOIN supported USING (level, side, name) WHERE p.level = {q(level)} AND p.side = "
        # cells in the order pandas' merge of the two presence lists would first meet them (ties keep it)
        g = data.df(
            f"SELECT a.name AS ai_value, h.name AS human_value, count(DISTINCT id) AS n, "
            f"{data.users_sql()} AS n_users "
            f"FROM ({kept}'ai') a JOIN (SELECT * EXCLUDE (user_id) FROM ({kept}'human')) h USING (id) "
            "GROUP BY ALL ORDER BY min(struct_pack(a := a._pos, h := h._pos))"
        )
        data.con.unregister("supported")
        if g.empty:
            continue
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
