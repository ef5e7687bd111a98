"""k-fold cross-validated quality of the offline extractor, with an in-run baseline.

    .venv/bin/python benchmarks/offline_cv.py --shared ../shared [--files dev] [--folds 5]

Prints the metrics of valuescope.evaluate on out-of-fold predictions of (a)
the shipped method (features + heads + tuned thresholds, all refitted inside
every fold) and (b) the issue's baseline: mean embeddings of assistant and user
text, one logistic regression per facet (0.5 thresholds). Features are cached
in --cache so sweeps do not re-embed.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.preprocessing import StandardScaler

from valuescope.evaluate import compute_metrics, load_labels
from valuescope.extract.offline import bundle as B
from valuescope.extract.offline import cv
from valuescope.extract.offline import data as D
from valuescope.extract.offline import features as F
from valuescope.extract.offline import model as M
from valuescope.extract.offline.train import prototypes
from valuescope.taxonomy.reference import published_tree

REPO = Path(__file__).resolve().parents[1]
KEYS = ("subjective_accuracy", "ai_l3_micro_f1", "ai_l2_micro_f1", "human_l3_micro_f1", "human_l2_micro_f1",
        "response_macro_f1", "task_category_accuracy", "harmful_auroc", "harmful_ece")
TARGETS = {"subjective_accuracy": 0.90, "ai_l3_micro_f1": 0.70, "ai_l2_micro_f1": 0.50, "human_l3_micro_f1": 0.55,
           "response_macro_f1": 0.50, "task_category_accuracy": 0.75, "harmful_auroc": 0.88}


def features(shared: str, files: tuple[str, ...], embedder: str, cache: Path | None) -> tuple[np.ndarray, list[dict], dict, list[dict]]:
    """Features of every labelled conversation of ``files`` (view embeddings cached like train_offline --cache)."""
    convs, labels, _ = D.load_labelled(shared, files)
    ids = [c.id for c in convs]
    emb = None
    if cache and cache.is_file():
        z = np.load(cache, allow_pickle=False)
        if list(z["ids"]) == ids:
            emb = {v: z[v] for v in F.VIEWS}
    embs = B.view_embedders(embedder, threads=None)
    if emb is None:
        emb = F.embed_views(convs, embs)
        if cache:
            np.savez(cache, ids=np.array(ids), **emb)
    X = F.assemble(emb, F.lexical_matrix(convs), prototypes(embs, published_tree()))
    return X, labels, emb, [F.conversation_views(c) for c in convs]


def baseline(emb: dict, labels: list[dict], k: int, seed: int) -> dict:
    """Mean embeddings of assistant and user text, one LR per facet, 0.5 thresholds."""
    X = np.hstack([emb["aall"], emb["user"]])
    T = M.label_arrays(labels)
    n = len(labels)
    pred = {"subjective": np.zeros(n, bool), "task_category": np.zeros(n, "<U40"), "response": np.zeros(n, "<U40"),
            "harmful_score": np.zeros(n), "ai_sets": np.zeros((n, 26), bool), "human_sets": np.zeros((n, 26), bool)}
    strat = T["subjective"] * 2 + T["harmful"]
    for tr, te in StratifiedKFold(k, shuffle=True, random_state=seed).split(X, strat):
        sc = StandardScaler().fit(X[tr])
        a, b = sc.transform(X[tr]), sc.transform(X[te])
        lr = lambda: LogisticRegression(C=0.05, max_iter=2000)  # noqa: E731
        pred["subjective"][te] = lr().fit(a, T["subjective"][tr]).predict(b).astype(bool)
        pred["task_category"][te] = lr().fit(a, T["task"][tr]).predict(b)
        pred["response"][te] = lr().fit(a, T["reaction"][tr]).predict(b)
        pred["harmful_score"][te] = lr().fit(a, T["harmful"][tr]).predict_proba(b)[:, 1]
        for side in ("ai", "human"):
            Y = T[f"{side}_l2"][tr]
            for j in range(26):
                if Y[:, j].min() != Y[:, j].max():
                    pred[f"{side}_sets"][te, j] = lr().fit(a, Y[:, j]).predict_proba(b)[:, 1] >= 0.5
    j, v = cv.prediction_rows([r["id"] for r in labels], pred)
    return compute_metrics(j, v, {r["id"]: r for r in labels})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shared", default=str(REPO.parent / "shared"))
    ap.add_argument("--files", default="dev", help="labelled files scored by k-fold CV")
    ap.add_argument("--extra", default="", help="labelled files added to every training fold, never scored (e.g. dev2)")
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--embedder", default="minilm")
    ap.add_argument("--cache", type=Path, default=None, help="feature cache (.npz)")
    ap.add_argument("--alpha", default=None, help='JSON overrides of model.DEFAULT_ALPHA, e.g. {"ai": 1000}')
    ap.add_argument("--no-baseline", action="store_true")
    ap.add_argument("--no-tfidf", action="store_true", help="embedding heads only (the pre-n-gram model)")
    args = ap.parse_args()
    t0 = time.time()
    files = tuple(args.files.split(","))
    extra_files = tuple(f for f in args.extra.split(",") if f)
    X, labels, emb, views = features(args.shared, files + extra_files, args.embedder, args.cache)
    ref = Path(args.shared) / "data" / "reference-annotations"
    n = sum(len(load_labels(ref / f"{f}.jsonl")) for f in files)
    extra = (X[n:], labels[n:]) if extra_files else None
    extra_views = views[n:] if extra_files else None
    X, labels, emb, views = X[:n], labels[:n], {v: e[:n] for v, e in emb.items()}, views[:n]
    if args.no_tfidf:
        views = extra_views = None
    t1 = time.time()
    alpha = json.loads(args.alpha) if args.alpha else None
    ours = cv.cross_validate(X, labels, k=args.folds, seed=args.seed, alpha=alpha, extra=extra, views=views, extra_views=extra_views)
    base = None if args.no_baseline else baseline(emb, labels, args.folds, args.seed)
    print(f"{args.folds}-fold CV on {args.files} (n={len(labels)}, +{args.extra or 'nothing'} in every training fold, "
          f"embedder={args.embedder}); features {t1 - t0:.0f}s, CV {time.time() - t1:.0f}s; baseline trained on the folds only")
    print(f"{'metric':28s} {'offline':>8s} {'baseline':>9s} {'target':>7s}")
    for k in KEYS:
        b = "" if base is None or base.get(k) is None else f"{base[k]:.3f}"
        t = TARGETS.get(k)
        flag = "" if t is None else (" ok" if (ours.get(k) or 0) >= t else " MISS")
        print(f"{k:28s} {ours[k]:8.3f} {b:>9s} {'' if t is None else f'{t:.2f}':>7s}{flag}")
    print(json.dumps({"offline": {k: ours[k] for k in KEYS}, "baseline": None if base is None else {k: base[k] for k in KEYS}}))


if __name__ == "__main__":
    main()
