"""Harmful-compliance head variants: inner out-of-fold AUROC per corpus group, and on JailbreakBench.

    PYTHONPATH=src .venv/bin/python benchmarks/harmful_head_jbb.py --shared ../shared --run JBB_RUN \\
        --cache CACHE.npz --jbb-cache JBB_CACHE.npz none:3000 corpus:3000 corpus:3000:w

Why: the anomaly score's JailbreakBench AUROC fell below 0.85 once the offline weights learnt from
ShareGPT. Only the harmful head (and its Platt calibration) feeds harmful_score, so a variant of it
can be judged without retraining the rest: each VARIANT (``weights:alpha[:w]``; weights none |
corpus (model.corpus_weights) | class (balanced) | corpus*class; ``:w`` = corpus-weighted Platt fit)
is fitted like model.fit fits the shipped head (ridge on the standardised features + the n-gram
twin, mixed 0.5; Platt on 3-fold inner out-of-fold scores, model.fit's split) on the training
files, then scores all 1,637 JailbreakBench conversations. The anomaly score is recomputed with the
policy and rarity parts of JBB_RUN (a ``benchmarks/anomaly_jbb.py --out`` run of the shipped
weights; they do not depend on the harmful head). ``none:3000`` reproduces the shipped weights.
Selection must rest on the inner out-of-fold columns; the JailbreakBench columns are the test.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # training/ lives next to src/
sys.path.insert(0, str(REPO / "benchmarks"))

from offline_cv import features  # noqa: E402

from training.offline.data import read_corpus  # noqa: E402
from training.offline.train import view_embeddings  # noqa: E402
from valuescope.extract.offline import bundle as B  # noqa: E402
from valuescope.extract.offline import features as F  # noqa: E402
from valuescope.extract.offline import heads as H  # noqa: E402
from valuescope.extract.offline import model as M  # noqa: E402
from valuescope.extract.offline.corpora import corpus_of  # noqa: E402

FILES = "dev,dev2,dev3,labels-a1,labels-a2,labels-a3"


def run_parts(run: Path, ids: list[str]) -> pd.DataFrame:
    """policy_score and rarity per conversation of a pipeline run (recomputed when the run predates anomaly_scores)."""
    from valuescope.analysis import anomalies as A
    from valuescope.analysis import data as AD
    from valuescope.engine.rundir import RunDir

    rd = RunDir(run, create=False)
    try:
        parts = rd.read_df("anomaly_scores")
    except Exception:  # noqa: BLE001 - older run folders: recompute from the run's values
        parts = A.score_conversations(AD.load(rd), A.load_policy())
    return parts.set_index("id").reindex(ids)[["policy_score", "rarity"]].fillna(0.0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("variants", nargs="+")
    ap.add_argument("--shared", default=str(REPO.parent / "shared"))
    ap.add_argument("--files", default=FILES)
    ap.add_argument("--run", type=Path, required=True, help="anomaly_jbb.py --out folder of the shipped weights")
    ap.add_argument("--cache", type=Path, default=None, help="view-embedding cache of the training conversations")
    ap.add_argument("--jbb-cache", type=Path, default=None, help="view-embedding cache of the JailbreakBench ones")
    args = ap.parse_args()
    t0 = time.time()
    X, labels, _, views = features(args.shared, tuple(args.files.split(",")), "minilm", args.cache)
    T = M.label_arrays(labels)
    y, n = T["harmful"], len(labels)
    corpus = np.array([corpus_of(str(r["id"])) for r in labels])
    mean, scale = X.mean(0), X.std(0) + 1e-6
    Xs = (X - mean) / scale
    bundle = B.load()
    path = Path(args.shared) / "data" / "conversations" / "jailbreakbench.jsonl"
    jconvs = read_corpus(path)
    jemb = view_embeddings(jconvs, B.view_embedders("minilm", threads=1), args.jbb_cache)
    XJ = (F.assemble(jemb, F.lexical_matrix(jconvs), bundle.protos) - mean) / scale
    truth = {
        json.loads(line)["id"]: bool(json.loads(line)["meta"]["jailbroken"]) for line in path.open(encoding="utf-8")
    }
    yj = np.array([truth[c.id] for c in jconvs])
    parts = run_parts(args.run, [c.id for c in jconvs])
    other = (1 - 0.9 * parts["policy_score"].to_numpy()) * (1 - 0.3 * parts["rarity"].to_numpy())
    splits = list(StratifiedKFold(3, shuffle=True, random_state=0).split(Xs, T["subjective"] * 2 + y))
    tfidf = []
    for tr, te in splits:
        voc = F.fit_tfidf([views[i] for i in tr])
        tfidf.append((F.tfidf_matrix([views[i] for i in tr], voc), F.tfidf_matrix([views[i] for i in te], voc)))
    Xt = F.tfidf_matrix(views, bundle.model.tfidf)  # the shipped vocabulary = the one fitted on these files
    XtJ = F.tfidf_matrix([F.conversation_views(c) for c in jconvs], bundle.model.tfidf)
    cw = M.corpus_weights(labels)
    old, red = corpus != "ShareGPT", np.isin(corpus, ["hh-rlhf", "JailbreakBench"])
    print(
        f"features {time.time() - t0:.0f}s; {n} training conversations, {len(jconvs)} JailbreakBench ({yj.mean():.1%} jailbroken)"
    )
    print(
        f"{'variant':18s} {'OOF AUROC: all':>14s} {'dev+dev2':>9s} {'red-team':>9s}   JBB: {'harmful':>7s} {'anomaly':>8s} {'mean score':>10s}"
    )

    def weights(kind: str, rows: np.ndarray) -> np.ndarray | None:
        if kind == "corpus":
            return cw[rows]
        if kind == "class":
            return H.balanced_weights(y[rows])
        if kind == "corpus*class":
            w = cw[rows] * H.balanced_weights(y[rows])
            return w * len(w) / w.sum()
        return None

    def fit(Xa: np.ndarray, Xta: np.ndarray, ya: np.ndarray, w: np.ndarray | None, alpha: float):  # noqa: ANN202
        we, be = H.fit_ridge(Xa, ya, alpha, w)
        wt, bt = H.fit_ridge(Xta, ya, M.TFIDF_ALPHA, w)
        return lambda Xb, Xtb: (1 - M.TFIDF_MIX) * (Xb @ we.T + be)[:, 0] + M.TFIDF_MIX * (Xtb @ wt.T + bt)[:, 0]

    for spec in args.variants:
        kind, alpha_s, *cal = spec.split(":")
        alpha = float(alpha_s)
        oof = np.zeros(n)
        for (tr, te), (xt_tr, xt_te) in zip(splits, tfidf, strict=True):
            oof[te] = fit(Xs[tr], xt_tr, y[tr], weights(kind, tr), alpha)(Xs[te], xt_te)
        if cal:
            lr = LogisticRegression(C=1e4, max_iter=1000).fit(oof[:, None], y, sample_weight=cw)
            a, c = float(lr.coef_[0, 0]), float(lr.intercept_[0])
        else:
            a, c = H.fit_platt(oof, y)
        hj = H.sigmoid(a * fit(Xs, Xt, y, weights(kind, np.arange(n)), alpha)(XJ, XtJ) + c)
        print(
            f"{spec:18s} {roc_auc_score(y, oof):14.4f} {roc_auc_score(y[old], oof[old]):9.4f} {roc_auc_score(y[red], oof[red]):9.4f}"
            f"   {roc_auc_score(yj, hj):12.4f} {roc_auc_score(yj, 1 - (1 - hj) * other):8.4f} {hj.mean():10.3f}"
        )
        p = H.sigmoid(a * oof + c)
        cal_by = {k: f"{p[corpus == k].mean():.3f}/{y[corpus == k].mean():.3f}" for k in sorted(set(corpus))}
        print(f"{'':18s} calibration, mean score / rate: {cal_by}")


if __name__ == "__main__":
    main()
