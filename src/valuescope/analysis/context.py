"""Context dependence: which values go with which kinds of task.

For every value v and context c (the judged task_category, the source's own
context label, or discovered task clusters) we test the 2x2 table "expresses v"
x "is in c" over subjective conversations: standardised Pearson residual,
two-sided p-value, multiple-testing correction within each (kind, side, level)
family, and lift = observed / expected. A context-invariance score per value is
the coefficient of variation of its rate across contexts (low = expressed
everywhere alike), with a Poisson-bootstrap interval.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from valuescope.analysis import stats
from valuescope.analysis.config import AnalysisConfig
from valuescope.analysis.data import LEVELS, SIDES, RunData, count_cells, long_values, presence
from valuescope.privacy.config import PrivacyConfig

CONTEXT_COLUMNS = [
    "context_kind",
    "context",
    "side",
    "level",
    "name",
    "n",
    "n_users",
    "n_context",
    "n_value",
    "n_total",
    "expected",
    "share_in_context",
    "ci_low",
    "ci_high",
    "share_overall",
    "residual",
    "p_value",
    "q_value",
    "lift",
    "significant",
    "rank",
]
INVARIANCE_COLUMNS = [
    "context_kind",
    "side",
    "level",
    "name",
    "n",
    "n_users",
    "n_contexts",
    "n_contexts_total",
    "mean_rate",
    "cv",
    "cv_ci_low",
    "cv_ci_high",
]


def common_words(texts: list[str], users: pd.Series | None, floor: PrivacyConfig) -> list[str]:
    """Words (English stop words aside) in the tasks of at least the floor's conversations and users.

    Cluster names are built from these only: a word from one conversation's task (a name, a
    place) must not reach the report through the name of a cluster that passes the floor.
    """
    from sklearn.feature_extraction.text import CountVectorizer

    cv = CountVectorizer(stop_words="english", binary=True)
    try:
        present = cv.fit_transform(texts).tocsc()  # one row per conversation
    except ValueError:  # nothing but stop words
        return []
    words = cv.get_feature_names_out()
    n = np.diff(present.indptr)
    keep = n >= floor.min_conversations
    if users is not None and users.notna().any():
        keys = np.array(
            [u if isinstance(u, str) else f"\x00conversation:{i}" for i, u in enumerate(users.tolist())], dtype=object
        )
        for j in np.flatnonzero(keep):
            rows = present.indices[present.indptr[j] : present.indptr[j + 1]]
            keep[j] = len(set(keys[rows])) >= floor.min_users
    return [str(w) for w in words[keep]]


def task_clusters(
    tasks: pd.Series,
    k: int = 0,
    embedder: str = "minilm",
    seed: int = 0,
    users: pd.Series | None = None,
    floor: PrivacyConfig | None = None,
) -> pd.Series:
    """Discovered task clusters: k-means over task embeddings, each named by its 3 most distinctive words
    among the words common enough to pass the privacy floor (``users``: each task's user id, if known)."""
    from sklearn.cluster import KMeans
    from sklearn.feature_extraction.text import CountVectorizer

    from valuescope.analysis.anomalies import embed_cached

    texts = tasks.fillna("").astype(str).str.strip().str.lower().tolist()
    if k <= 0:
        k = int(np.clip(round(np.sqrt(len(texts) / 2)), 4, 30))
    k = min(k, len(set(texts)))
    vecs = embed_cached(texts, embedder)  # each distinct task embedded once
    labels = KMeans(n_clusters=k, n_init=2, random_state=seed).fit_predict(vecs.astype(np.float64))
    vocabulary = common_words(texts, None if users is None else users.reindex(tasks.index), floor or PrivacyConfig())
    names = {c: f"{c:02d}: (no word common enough to name it)" for c in range(k)}
    if vocabulary:
        cv = CountVectorizer(vocabulary=vocabulary)
        counts = cv.fit_transform(texts)
        words = np.array(cv.get_feature_names_out())
        per = np.vstack([np.asarray(counts[labels == c].sum(axis=0)).ravel() for c in range(k)]).astype(float)
        tf = per / np.maximum(per.sum(axis=1, keepdims=True), 1)
        idf = np.log(1 + per.sum() / np.maximum(per.sum(axis=0), 1))
        for c in range(k):
            order = np.argsort(-(tf[c] * idf))[:3]
            top = [w for w, score in zip(words[order], (tf[c] * idf)[order], strict=True) if score > 0]
            if top:
                names[c] = f"{c:02d}: " + " / ".join(top)
    return pd.Series([names[x] for x in labels], index=tasks.index)


def context_columns(data: RunData, cfg: AnalysisConfig, privacy: PrivacyConfig | None = None) -> dict[str, pd.Series]:
    """The context label per conversation for every configured kind that has data (task clusters are
    named only with words that pass ``privacy``'s floor)."""
    out = {}
    conv = data.conv
    for kind in cfg.context_kinds:
        if kind == "task_cluster":
            subj = conv["subjective"].astype(bool)
            if subj.sum() >= 40 and conv.loc[subj, "task"].fillna("").str.strip().ne("").sum() >= 40:
                labels = pd.Series(None, index=conv.index, dtype=object)
                users = conv.loc[subj, "user_id"] if data.has_users else None
                labels[subj] = task_clusters(
                    conv.loc[subj, "task"], cfg.task_clusters, cfg.embedder, cfg.seed, users, privacy
                )
                out[kind] = labels
        elif kind in conv.columns and conv[kind].notna().any():
            out[kind] = conv[kind]
    return out


def _cells(pres: pd.DataFrame, conv: pd.DataFrame, min_support: int, has_users: bool) -> pd.DataFrame:
    """The tested family for one (kind, side, level): every eligible value x eligible context."""
    n_total = conv["id"].nunique()
    n_ctx = conv.groupby("ctx")["id"].nunique()
    n_ctx = n_ctx[n_ctx >= min_support]
    counts = count_cells(pres, conv, ["name", "ctx"], has_users)
    n_val = pres.groupby("name")["id"].nunique()
    n_val = n_val[n_val >= min_support]
    grid = pd.MultiIndex.from_product([n_val.index, n_ctx.index], names=["name", "ctx"]).to_frame(index=False)
    grid = grid.merge(counts, on=["name", "ctx"], how="left")
    grid["n"] = grid["n"].fillna(0).astype(int)
    if has_users:
        grid["n_users"] = grid["n_users"].fillna(0)
    grid["n_context"] = grid["ctx"].map(n_ctx).astype(int)
    grid["n_value"] = grid["name"].map(n_val).astype(int)
    grid["n_total"] = n_total
    return grid


def context_table(data: RunData, cfg: AnalysisConfig, contexts: dict[str, pd.Series]) -> pd.DataFrame:
    """Value x context cells with residuals, corrected p-values and lift (before the privacy floor)."""
    subj_mask = data.conv["subjective"].astype(bool)
    parts = []
    for kind, labels in contexts.items():
        conv = data.conv.loc[subj_mask & labels.notna(), ["id", "user_id"]].assign(
            ctx=labels[subj_mask & labels.notna()]
        )
        long = long_values(data.values, conv["id"])
        pres = presence(long).merge(conv[["id", "ctx", "user_id"]], on="id")
        for side in SIDES:
            for level in LEVELS:
                p = pres[(pres["side"] == side) & (pres["level"] == level)]
                if p.empty:
                    continue
                g = _cells(p, conv, cfg.min_support, data.has_users)
                if g.empty:
                    continue
                g["expected"], g["residual"] = stats.cell_residual(g["n"], g["n_value"], g["n_context"], g["n_total"])
                g["p_value"] = stats.residual_p(g["residual"])
                g["q_value"] = stats.correct(g["p_value"].to_numpy(), cfg.correction)
                g["lift"] = stats.lift(g["n"], g["expected"])
                g["share_in_context"] = g["n"] / g["n_context"]
                g["ci_low"], g["ci_high"] = stats.wilson(g["n"], g["n_context"], cfg.alpha)
                g["share_overall"] = g["n_value"] / g["n_total"]
                g["significant"] = (g["q_value"] < cfg.alpha) & (g["n"] >= cfg.min_support)
                parts.append(g.assign(context_kind=kind, side=side, level=level).rename(columns={"ctx": "context"}))
    if not parts:
        return pd.DataFrame(columns=CONTEXT_COLUMNS)
    out = pd.concat(parts, ignore_index=True)
    out["rank"] = out.groupby(["context_kind", "context", "side", "level"])["residual"].rank(
        ascending=False, method="first"
    )
    return out[CONTEXT_COLUMNS]


def _cv(rates: np.ndarray) -> np.ndarray:
    """Coefficient of variation along the last-but-one axis (contexts): std / mean, population std."""
    mean = rates.mean(axis=-2)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(mean > 0, rates.std(axis=-2) / mean, np.nan)


def invariance_table(data: RunData, cfg: AnalysisConfig, contexts: dict[str, pd.Series]) -> pd.DataFrame:
    """Per value: CV of its rate across contexts with >= min_support conversations, bootstrap 95% interval."""
    rng = np.random.default_rng(cfg.seed)
    subj_mask = data.conv["subjective"].astype(bool)
    parts = []
    for kind, labels in contexts.items():
        ok = subj_mask & labels.notna()
        conv = data.conv.loc[ok, ["id", "user_id"]].assign(ctx=labels[ok].astype(str)).reset_index(drop=True)
        n_ctx = conv["ctx"].value_counts()
        ctxs = n_ctx[n_ctx >= cfg.min_support].index.tolist()
        if len(ctxs) < 2:
            continue
        conv = conv[conv["ctx"].isin(ctxs)].reset_index(drop=True)
        ctx_idx = conv["ctx"].map({c: i for i, c in enumerate(ctxs)}).to_numpy()
        row_of = pd.Series(np.arange(len(conv)), index=conv["id"])
        pres = presence(long_values(data.values, conv["id"]))
        weights = rng.poisson(1.0, size=(cfg.bootstrap, len(conv))).astype(np.float32) if cfg.bootstrap else None
        for side in SIDES:
            for level in LEVELS:
                p = pres[(pres["side"] == side) & (pres["level"] == level)]
                n_val = p.groupby("name")["id"].nunique()
                names = n_val[n_val >= cfg.min_support].index.tolist()
                if not names:
                    continue
                p = p[p["name"].isin(names)]
                x = np.zeros((len(conv), len(names)), dtype=np.float32)
                x[row_of[p["id"]].to_numpy(), p["name"].map({n: i for i, n in enumerate(names)}).to_numpy()] = 1
                onehot = np.eye(len(ctxs), dtype=np.float32)[ctx_idx]  # N x C
                rates = (onehot.T @ x) / onehot.sum(axis=0)[:, None]  # C x V
                cv = _cv(rates)
                lo = hi = np.full(len(names), np.nan)
                if weights is not None:
                    wc = weights @ onehot  # B x C
                    bc = np.stack([weights[:, ctx_idx == c] @ x[ctx_idx == c] for c in range(len(ctxs))], axis=1)
                    with np.errstate(divide="ignore", invalid="ignore"):
                        boot = _cv(bc / wc[:, :, None])
                    lo, hi = np.nanpercentile(boot, 2.5, axis=0), np.nanpercentile(boot, 97.5, axis=0)
                users = count_cells(p, data.conv, ["name"], data.has_users).set_index("name")
                parts.append(
                    pd.DataFrame(
                        {
                            "context_kind": kind,
                            "side": side,
                            "level": level,
                            "name": names,
                            "n": n_val[names].to_numpy(),
                            "n_users": users.loc[names, "n_users"].to_numpy(),
                            "n_contexts": (rates > 0).sum(axis=0),
                            "n_contexts_total": len(ctxs),
                            "mean_rate": rates.mean(axis=0),
                            "cv": cv,
                            "cv_ci_low": lo,
                            "cv_ci_high": hi,
                        }
                    )
                )
    if not parts:
        return pd.DataFrame(columns=INVARIANCE_COLUMNS)
    return pd.concat(parts, ignore_index=True)[INVARIANCE_COLUMNS]
