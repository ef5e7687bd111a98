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

import copy
from typing import Any

import numpy as np
import pandas as pd

from valuescope.analysis import stats
from valuescope.analysis.config import AnalysisConfig
from valuescope.analysis.data import LEVELS, SIDES, SUBJECTIVE, RunData, q
from valuescope.privacy.config import PrivacyConfig
from valuescope.taxonomy.stream import columns

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
TASK_FIT_ROWS = 50_000  # task clusters are fitted on at most this many subjective conversations
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
    return fit_task_clusters(tasks, k, embedder, seed, users, floor)[0]


def fit_task_clusters(
    tasks: pd.Series,
    k: int = 0,
    embedder: str = "minilm",
    seed: int = 0,
    users: pd.Series | None = None,
    floor: PrivacyConfig | None = None,
) -> tuple[pd.Series, Any, dict[int, str]]:
    """task_clusters, with the fitted k-means and the cluster names (to label tasks outside the fit)."""
    from sklearn.cluster import KMeans
    from sklearn.feature_extraction.text import CountVectorizer

    from valuescope.analysis.anomalies import embed_cached

    texts = tasks.fillna("").astype(str).str.strip().str.lower().tolist()
    if k <= 0:
        k = int(np.clip(round(np.sqrt(len(texts) / 2)), 4, 30))
    k = min(k, len(set(texts)))
    vecs = embed_cached(texts, embedder)  # each distinct task embedded once
    km = KMeans(n_clusters=k, n_init=2, random_state=seed)
    labels = km.fit_predict(vecs.astype(np.float64))
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
    return pd.Series([names[x] for x in labels], index=tasks.index), km, names


def task_cluster_labels(data: RunData, cfg: AnalysisConfig, privacy: PrivacyConfig | None) -> pd.DataFrame | None:
    """Task -> cluster name for every distinct task of a subjective conversation (None: too few tasks).

    Up to TASK_FIT_ROWS subjective conversations, k-means runs over all of them exactly as
    :func:`task_clusters`; beyond, it is fitted (and the clusters named) on a fixed sample of that many and
    every distinct task is assigned to its nearest centre, in batches. Identical tasks have identical
    embeddings, so a label is a function of the task: the table has one row per distinct task.
    """
    tasks = data.df(f"SELECT coalesce(task, '') AS task, count(*) AS n FROM conv WHERE {SUBJECTIVE} GROUP BY 1")
    n_subj = int(tasks["n"].sum())
    if n_subj < 40 or tasks.loc[tasks["task"].str.strip() != "", "n"].sum() < 40:
        return None
    users = "user_id" if data.has_users else "NULL AS user_id"
    if n_subj <= TASK_FIT_ROWS:
        rows = data.df(f"SELECT coalesce(task, '') AS task, {users} FROM conv WHERE {SUBJECTIVE} ORDER BY _row")
        labels = task_clusters(
            rows["task"],
            cfg.task_clusters,
            cfg.embedder,
            cfg.seed,
            rows["user_id"] if data.has_users else None,
            privacy,
        )
        return pd.DataFrame({"task": rows["task"], "label": labels}).drop_duplicates("task").reset_index(drop=True)
    from valuescope.analysis.anomalies import embed_cached

    sample = data.df(
        f"SELECT coalesce(task, '') AS task, {users} FROM conv WHERE {SUBJECTIVE} "
        f"ORDER BY hash(id, {int(cfg.seed)}), id LIMIT {TASK_FIT_ROWS}"
    )
    _, km, names = fit_task_clusters(
        sample["task"],
        cfg.task_clusters,
        cfg.embedder,
        cfg.seed,
        sample["user_id"] if data.has_users else None,
        privacy,
    )
    parts = []
    for start in range(0, len(tasks), 4096):
        chunk = tasks["task"].iloc[start : start + 4096]
        texts = chunk.str.strip().str.lower().tolist()
        parts.append(
            pd.DataFrame(
                {
                    "task": chunk.to_numpy(),
                    "label": [names[x] for x in km.predict(embed_cached(texts, cfg.embedder).astype(np.float64))],
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


def context_columns(data: RunData, cfg: AnalysisConfig, privacy: PrivacyConfig | None = None) -> dict[str, str]:
    """A view per configured kind of context that has data: (id, user_id, response, ctx, _row) of every
    subjective conversation with a label of that kind (task clusters are named only with words that pass
    ``privacy``'s floor). Returns kind -> view name."""
    out = {}
    have = set(columns(data.con, "conv"))
    for kind in cfg.context_kinds:
        view = f"ctx_{len(out)}"
        if kind == "task_cluster":
            labels = task_cluster_labels(data, cfg, privacy)
            if labels is None:
                continue
            data.con.register(f"{view}_labels", labels)
            label = f"(SELECT label FROM {view}_labels l WHERE l.task = coalesce(c.task, ''))"
        elif (
            kind in have
            and kind not in ("id", "_row")
            and data.scalar(f'SELECT bool_or("{kind}" IS NOT NULL) FROM conv')
        ):
            label = f'CAST(c."{kind}" AS VARCHAR)'
        else:
            continue
        data.con.execute(
            f"CREATE OR REPLACE TEMP VIEW {view} AS SELECT * FROM (SELECT c.id, c.user_id, c.response, {label} AS ctx, "
            f"c._row FROM conv c WHERE {SUBJECTIVE}) WHERE ctx IS NOT NULL"
        )
        out[kind] = view
    return out


def _cells(
    cells: pd.DataFrame, n_ctx: pd.Series, n_val: pd.Series, n_total: int, min_support: int, has_users: bool
) -> pd.DataFrame:
    """The tested family for one (kind, side, level): every eligible value x eligible context."""
    n_ctx = n_ctx[n_ctx >= min_support]
    n_val = n_val[n_val >= min_support]
    grid = pd.MultiIndex.from_product([n_val.index, n_ctx.index], names=["name", "ctx"]).to_frame(index=False)
    grid = grid.merge(cells[["name", "ctx", "n", "n_users"]], on=["name", "ctx"], how="left")
    grid["n"] = grid["n"].fillna(0).astype(int)
    if has_users:
        grid["n_users"] = grid["n_users"].fillna(0)
    grid["n_context"] = grid["ctx"].map(n_ctx).astype(int)
    grid["n_value"] = grid["name"].map(n_val).astype(int)
    grid["n_total"] = n_total
    return grid


def context_table(data: RunData, cfg: AnalysisConfig, contexts: dict[str, str]) -> pd.DataFrame:
    """Value x context cells with residuals, corrected p-values and lift (before the privacy floor)."""
    parts = []
    for kind, view in contexts.items():
        n_total = int(data.scalar(f"SELECT count(DISTINCT id) FROM {view}"))
        n_ctx = (
            data.df(f"SELECT ctx, count(DISTINCT id) AS n FROM {view} GROUP BY ctx").set_index("ctx")["n"].sort_index()
        )
        cells = data.df(
            f"SELECT side, level, name, ctx, count(DISTINCT id) AS n, {data.users_sql()} AS n_users "
            f"FROM pres JOIN {view} USING (id) GROUP BY ALL"
        )
        n_val = data.df(
            f"SELECT side, level, name, count(DISTINCT id) AS n FROM pres SEMI JOIN {view} USING (id) GROUP BY ALL"
        )
        for side in SIDES:
            for level in LEVELS:
                c = cells[(cells["side"] == side) & (cells["level"] == level)]
                if c.empty:
                    continue
                v = n_val[(n_val["side"] == side) & (n_val["level"] == level)].set_index("name")["n"].sort_index()
                g = _cells(c, n_ctx, v, n_total, cfg.min_support, data.has_users)
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


def _int_column(data: RunData, sql: str, col: str) -> np.ndarray:
    return np.asarray(data.con.execute(sql).fetchnumpy()[col])


def context_counts(data: RunData, view: str) -> pd.Series:
    """Conversations per context in ``Series.value_counts`` order (by count; the order of tied contexts
    sets the order of the float32 sums over contexts, so it must be value_counts' own)."""
    first = data.df(f"SELECT ctx, count(*) AS n, min(_row) AS first FROM {view} GROUP BY ctx ORDER BY first")
    counts = pd.Series(first["n"].to_numpy(), index=first["ctx"].to_numpy())
    return counts.sort_values(ascending=False, kind="stable")  # what value_counts does after counting


def _resample_cv(
    rng: np.random.Generator, ctx_idx: np.ndarray, n_c: int, pos: np.ndarray, cell: np.ndarray, n_v: int
) -> np.ndarray:
    """CV per value under one Poisson(1) resample of the conversations (float32, as a dense matmul gives it:
    the weighted counts are integers, exact in float32 below 2**24)."""
    w = rng.poisson(1.0, size=len(ctx_idx)).astype(np.float32)
    wc = np.bincount(ctx_idx, weights=w, minlength=n_c).astype(np.float32)
    bc = np.bincount(cell, weights=w[pos], minlength=n_c * n_v).astype(np.float32).reshape(n_c, n_v)
    with np.errstate(divide="ignore", invalid="ignore"):
        return _cv(bc / wc[:, None])


def invariance_table(data: RunData, cfg: AnalysisConfig, contexts: dict[str, str]) -> pd.DataFrame:
    """Per value: CV of its rate across contexts with >= min_support conversations, bootstrap 95% interval.

    The conversation x value presence matrix is never built: rates and each bootstrap resample are sums
    over the (conversation, value) presence pairs of one family at a time, held as two integer arrays; the
    Poisson weights are drawn one resample at a time, replayed from the kind's generator state for each
    family, so they are the values of the (bootstrap x conversations) draw the dense code made.
    """
    rng = np.random.default_rng(cfg.seed)
    parts = []
    for kind, view in contexts.items():
        n_ctx = context_counts(data, view)
        ctxs = n_ctx[n_ctx >= cfg.min_support].index.tolist()
        if len(ctxs) < 2:
            continue
        data.con.register("inv_ctx", pd.DataFrame({"ctx": ctxs, "c": np.arange(len(ctxs), dtype=np.int32)}))
        data.con.execute(
            "CREATE OR REPLACE TEMP TABLE inv_conv AS SELECT v.id, v.user_id, x.c, "
            f"CAST(row_number() OVER (ORDER BY v._row) - 1 AS INTEGER) AS pos FROM {view} v JOIN inv_ctx x USING (ctx)"
        )
        ctx_idx = _int_column(data, "SELECT c FROM inv_conv ORDER BY pos", "c")
        n_c = len(ctxs)
        per_ctx = np.bincount(ctx_idx, minlength=n_c).astype(np.float32)
        start = copy.deepcopy(rng.bit_generator.state)  # every family of this kind replays the same weights
        for side in SIDES:
            for level in LEVELS:
                where = f"WHERE side = {q(side)} AND level = {q(level)}"
                fam = f"FROM pres JOIN inv_conv USING (id) {where}"
                n_val = (
                    data.df(f"SELECT name, count(DISTINCT id) AS n, {data.users_sql()} AS n_users {fam} GROUP BY name")
                    .set_index("name")
                    .sort_index()
                )
                n_val = n_val[n_val["n"] >= cfg.min_support]
                names = n_val.index.tolist()
                if not names:
                    continue
                data.con.register(
                    "inv_names", pd.DataFrame({"name": names, "v": np.arange(len(names), dtype=np.int32)})
                )
                pairs = data.con.execute(
                    f"SELECT pos, v FROM pres JOIN inv_conv USING (id) JOIN inv_names USING (name) {where}"
                ).fetchnumpy()
                data.con.unregister("inv_names")
                pos = np.asarray(pairs["pos"])
                cell = ctx_idx[pos] * np.int32(len(names)) + np.asarray(pairs["v"])  # (context, value) of each pair
                del pairs
                counts = np.bincount(cell, minlength=n_c * len(names)).reshape(n_c, len(names)).astype(np.float32)
                rates = counts / per_ctx[:, None]  # C x V
                lo = hi = np.full(len(names), np.nan)
                if cfg.bootstrap:
                    replay = np.random.default_rng()
                    replay.bit_generator.state = copy.deepcopy(start)
                    boot = np.stack(
                        [_resample_cv(replay, ctx_idx, n_c, pos, cell, len(names)) for _ in range(cfg.bootstrap)]
                    )
                    lo, hi = np.nanpercentile(boot, 2.5, axis=0), np.nanpercentile(boot, 97.5, axis=0)
                parts.append(
                    pd.DataFrame(
                        {
                            "context_kind": kind,
                            "side": side,
                            "level": level,
                            "name": names,
                            "n": n_val["n"].to_numpy(),
                            "n_users": n_val["n_users"].astype(float).to_numpy(),
                            "n_contexts": (rates > 0).sum(axis=0),
                            "n_contexts_total": n_c,
                            "mean_rate": rates.mean(axis=0),
                            "cv": _cv(rates),
                            "cv_ci_low": lo,
                            "cv_ci_high": hi,
                        }
                    )
                )
        for _ in range(cfg.bootstrap):  # move past this kind's draws, one resample at a time
            rng.poisson(1.0, size=len(ctx_idx))
        data.con.unregister("inv_ctx")
    if not parts:
        return pd.DataFrame(columns=INVARIANCE_COLUMNS)
    return pd.concat(parts, ignore_index=True)[INVARIANCE_COLUMNS]
