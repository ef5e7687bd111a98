"""Human-value decision rules replayed on embedding-only heads: do thresholds explain the red-team human l3 drop?

    PYTHONPATH=src .venv/bin/python benchmarks/human_gate_replay.py --shared ../shared --cache CACHE.npz

Table 1's setting (dev+dev2+dev3 scored by the benchmark's 5 folds, labels-a1..a3 in every training
fold). The human heads ("user states values", human l2/l3, response direction/intensity) are
refitted as ridge heads on the embedding features only (no n-gram twin: minutes instead of hours on
a loaded box), with 3-fold inner out-of-fold scores per outer fold (model.fit's split); each rule's
thresholds are tuned on those inner scores only, then applied to the outer fold. Rules: the shipped
pooled thresholds; a "harm-aware" gate (thresholds tuned separately for conversations whose task
head reads the request as harmful, model.request_harm-style margin >= cut); per-corpus-group
thresholds with the TRUE corpus (an oracle upper bound no extractor can use); corpus-weighted
tuning. Absolute numbers sit below the shipped model's (no n-gram twin); compare rules by row.
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.model_selection import StratifiedKFold

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))
import offline_cv as OC  # noqa: E402

from training.offline import cv  # noqa: E402
from valuescope.extract.offline import decide as Dd  # noqa: E402
from valuescope.extract.offline import heads as H  # noqa: E402
from valuescope.extract.offline import model as M  # noqa: E402
from valuescope.extract.offline.corpora import corpus_of  # noqa: E402

ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
ap.add_argument("--shared", default=str(REPO.parent / "shared"))
ap.add_argument("--extra", default="labels-a1,labels-a2,labels-a3")
ap.add_argument("--cache", type=Path, default=None)
ARGS = ap.parse_args()
EXTRA = tuple(ARGS.extra.split(","))
X, labels, emb, views = OC.features(ARGS.shared, ("dev", "dev2", "dev3") + EXTRA, "minilm", ARGS.cache)
n = len(OC.D.load_labelled(ARGS.shared, ("dev", "dev2", "dev3"))[1])
EX, EL = X[n:], labels[n:]
X, labels = X[:n], labels[:n]
ids = [r["id"] for r in labels]
RED = {"hh-rlhf", "JailbreakBench"}


def heads(Xtr, Ltr):
    T = M.label_arrays(Ltr)
    mean, scale = Xtr.mean(0), Xtr.std(0) + 1e-6
    Xs = (Xtr - mean) / scale
    tg = {
        "human_any": (T["human_any"], 1000.0),
        "human_l2": (T["human_l2"], 1000.0),
        "human_l3": (T["human_l3"], 1000.0),
        "task": (H.one_hot(T["task"], Dd.CATS), 1000.0),
    }
    f = H.fit_ridges(Xs, tg)
    W = {k: v[0] for k, v in f.items()}
    b = {k: v[1] for k, v in f.items()}
    M._fit_reaction(Xs, T, 3000.0, W, b)

    def score(Xte):
        Z = (Xte - mean) / scale
        out = {k: Z @ W[k].T + b[k] for k in ("human_any", "human_l2", "human_l3", "task")}
        d = np.array(M.DIRECTIONS)[(Z @ W["direction"].T + b["direction"]).argmax(1)]
        st = np.where((Z @ W["intensity"].T + b["intensity"])[:, 0] >= 0.5, "strong_", "mild_")
        out["reaction"] = np.where(np.isin(d, ("support", "resistance")), np.char.add(st, d), d)
        return out

    return score, T


folds = []
t0 = time.time()
for tr, te in cv.folds(labels, 5, 0):
    Xtr = np.vstack([X[tr], EX])
    Ltr = [labels[i] for i in tr] + EL
    T = M.label_arrays(Ltr)
    m = len(Ltr)
    oof = {}
    for itr, ite in StratifiedKFold(3, shuffle=True, random_state=0).split(Xtr, T["subjective"] * 2 + T["harmful"]):
        sc, _ = heads(Xtr[itr], [Ltr[i] for i in itr])
        o = sc(Xtr[ite])
        for k, v in o.items():
            if k not in oof:
                oof[k] = np.zeros((m,) + v.shape[1:], v.dtype)
            oof[k][ite] = v
    sc, _ = heads(Xtr, Ltr)
    folds.append(dict(te=te, inn=oof, out=sc(X[te]), Y2=T["human_l2"], in_ids=[r["id"] for r in Ltr]))
print("fits", round(time.time() - t0), "s", flush=True)


def tune(i, Y2, mask=None, w=None):
    m = np.ones(len(Y2), bool) if mask is None else mask
    g, s2, s3 = i["human_any"][m, 0], i["human_l2"][m], i["human_l3"][m]
    gt = Dd._tune_gate(g, s2, s3, Y2[m], None if w is None else w[m])
    t2, t3 = Dd._tune_sets(s2, s3, Y2[m], g >= gt, None if w is None else w[m])
    return gt, t2, t3


def apply(o, rows, gt, t2, t3, sets):
    g = o["human_any"][rows, 0] >= gt
    sets[rows] = Dd.decide_sets(o["human_l2"][rows], o["human_l3"][rows], t2, t3) & g[:, None]


def evaluate(name, rule):
    hs = np.zeros((n, 26), bool)
    resp = np.empty(n, dtype="<U40")
    for f in folds:
        s = rule(f)
        hs[f["te"]] = s
        resp[f["te"]] = np.where(s.any(1), f["out"]["reaction"], "no_human_values")
    pred = {
        "human_sets": hs,
        "response": resp,
        "ai_sets": np.zeros((n, 26), bool),
        "subjective": np.zeros(n, bool),
        "task_category": np.array(["other"] * n, dtype="<U40"),
        "harmful_score": np.zeros(n),
    }
    s = cv.score(ids, pred, labels)
    sg, old = s["by_corpus"]["ShareGPT"], s["older_corpora"]
    ks = ["human_l3_micro_f1", "human_l2_micro_f1", "response_macro_f1"]
    print(
        f"{name:34s} ShareGPT "
        + " ".join(f"{sg[k]:.3f}" for k in ks)
        + " | dev+dev2 "
        + " ".join(f"{old[k]:.3f}" for k in ks),
        flush=True,
    )


def pooled(f):
    s = np.zeros((len(f["te"]), 26), bool)
    apply(f["out"], np.arange(len(f["te"])), *tune(f["inn"], f["Y2"]), s)
    return s


def by_group(gi, go, min_pos=15):
    def rule(f):
        s = np.zeros((len(f["te"]), 26), bool)
        base = tune(f["inn"], f["Y2"])
        a, b_ = gi(f), go(f)
        for gv in (True, False):
            mi = a == gv
            th = tune(f["inn"], f["Y2"], mi) if mi.sum() >= 30 and f["Y2"][mi].any(1).sum() >= min_pos else base
            apply(f["out"], np.where(b_ == gv)[0], *th, s)
        return s

    return rule


def rh(task_scores):
    """The task head's "harmful or illicit request" margin over the best other category."""
    others = np.delete(task_scores, Dd.HARM_CAT, axis=1).max(axis=1)
    return task_scores[:, Dd.HARM_CAT] - others


evaluate("pooled thresholds (as shipped)", pooled)
for cut in (0.0, -0.5, -1.0, -2.0):
    evaluate(
        f"harm-aware (request_harm >= {cut})",
        by_group(lambda f, c=cut: rh(f["inn"]["task"]) >= c, lambda f, c=cut: rh(f["out"]["task"]) >= c),
    )
evaluate(
    "ORACLE corpus group",
    by_group(
        lambda f: np.array([corpus_of(i) in RED for i in f["in_ids"]]),
        lambda f: np.array([corpus_of(ids[i]) in RED for i in f["te"]]),
    ),
)


def weighted(f):
    from valuescope.extract.offline.model import corpus_weights

    w = corpus_weights([{"id": i} for i in f["in_ids"]])
    s = np.zeros((len(f["te"]), 26), bool)
    apply(f["out"], np.arange(len(f["te"])), *tune(f["inn"], f["Y2"], None, w), s)
    return s


evaluate("corpus-weighted tuning", weighted)
