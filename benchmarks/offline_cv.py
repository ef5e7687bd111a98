"""k-fold cross-validated quality of the offline extractor, per corpus, beside main and a baseline.

    .venv/bin/python benchmarks/offline_cv.py --shared ../shared --files dev,dev2,dev3 [--extra labels-a1,labels-a2]

Three methods on the same folds (stratified by corpus × subjective × harmful),
every number out-of-fold (each conversation predicted by a model fitted, tuned
and calibrated without it):

- ``offline``: this branch's model (features + heads + thresholds, all refitted
  inside every fold; its thresholds and the task margin are tuned on inner folds
  of the training part only);
- ``main``: the 3bf7a2f model — the same fitted heads with main's decisions
  (plain argmax task category, no harmful margin), so the column isolates this
  branch's decision change from the data both now train on;
- ``baseline``: the issue's simple baseline — MiniLM mean embeddings of
  assistant and user text, one logistic regression per facet, 0.5 thresholds.

``--extra`` files join every training fold and are never scored.
``--bundle DIR`` also scores a saved bundle (e.g. main's shipped weights) on the
scored conversations whose label files it was not trained on (no CV needed).
``--json-out`` writes the results (``scripts/train_offline.py --agreement``
stores them with the weights, and the report's methods section shows them).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # training/ lives next to src/, outside the package

from training.offline import cv
from training.offline import data as D
from training.offline.train import AGREEMENT_KEYS, prototypes, view_embeddings
from valuescope.extract.offline import bundle as B
from valuescope.extract.offline import features as F
from valuescope.extract.offline import model as M
from valuescope.taxonomy.reference import published_tree

REPO = Path(__file__).resolve().parents[1]
KEYS = (*AGREEMENT_KEYS, "harmful_ece")  # what the weights store, plus calibration
# the targets on ShareGPT (#14); benign_as_harmful is an upper bound
SHAREGPT_TARGETS = {
    "subjective_accuracy": 0.88,
    "ai_l3_micro_f1": 0.68,
    "ai_l2_micro_f1": 0.48,
    "human_l3_micro_f1": 0.45,
    "response_macro_f1": 0.45,
    "task_category_accuracy": 0.80,
    "ai_l2_profile_spearman": 0.95,
    "benign_as_harmful": 0.01,
}


def features(
    shared: str, files: tuple[str, ...], embedder: str, cache: Path | None
) -> tuple[np.ndarray, list[dict], dict, list[dict]]:
    """Features of every labelled conversation of ``files`` (view embeddings cached by id)."""
    convs, labels, _ = D.load_labelled(shared, files)
    embs = B.view_embedders(embedder, threads=None)
    emb = view_embeddings(convs, embs, cache)
    X = F.assemble(emb, F.lexical_matrix(convs), prototypes(embs, published_tree()))
    return X, labels, emb, [F.conversation_views(c) for c in convs]


def baseline_fit_predict(emb: dict, T: dict, tr: list[int], te: list[int]) -> dict[str, np.ndarray]:
    """Mean embeddings of assistant and user text, one LR per facet, 0.5 thresholds."""
    X = np.hstack([emb["aall"], emb["user"]])
    sc = StandardScaler().fit(X[tr])
    a, b = sc.transform(X[tr]), sc.transform(X[te])
    lr = lambda: LogisticRegression(C=0.05, max_iter=2000)  # noqa: E731
    n = len(te)
    pred = {
        "subjective": lr().fit(a, T["subjective"][tr]).predict(b).astype(bool),
        "task_category": lr().fit(a, T["task"][tr]).predict(b).astype("<U40"),
        "response": lr().fit(a, T["reaction"][tr]).predict(b).astype("<U40"),
        "harmful_score": lr().fit(a, T["harmful"][tr]).predict_proba(b)[:, 1],
        "ai_sets": np.zeros((n, 26), bool),
        "human_sets": np.zeros((n, 26), bool),
    }
    for side in ("ai", "human"):
        Y = T[f"{side}_l2"][tr]
        for j in range(26):
            if Y[:, j].min() != Y[:, j].max():
                pred[f"{side}_sets"][:, j] = lr().fit(a, Y[:, j]).predict_proba(b)[:, 1] >= 0.5
    return pred


def run_cv(
    X,
    labels,
    emb,
    views,
    extra,
    extra_views,
    k,
    seed,
    alpha,
    baseline: bool,
    jobs: int = 1,  # noqa: ANN001
    balance_corpora: bool | None = None,
) -> dict[str, dict]:
    """offline, main and baseline out-of-fold predictions on the same folds, scored."""
    splits = cv.folds(labels, k, seed)
    n = len(labels)
    preds: dict[str, dict[str, np.ndarray]] = {"offline": {}, "main": {}}

    def fit_predict(tr: list[int], te: list[int]) -> dict[str, np.ndarray]:
        Xtr, Ltr = X[tr], [labels[i] for i in tr]
        Vtr = None if views is None else [views[i] for i in tr]
        if extra is not None:
            Xtr, Ltr = np.vstack([Xtr, extra[0]]), Ltr + list(extra[1])
            Vtr = None if views is None else Vtr + list(extra_views)
        Vte = None if views is None else [views[i] for i in te]
        model = M.fit(Xtr, Ltr, alpha=alpha, seed=seed, views=Vtr, balance_corpora=balance_corpora)
        ours = model.predict(X[te], Vte)
        model.params = {**model.params, "task_harm_margin": 0.0}  # main: plain argmax
        old = model.predict(X[te], Vte)
        return {**{f"offline.{k_}": v for k_, v in ours.items()}, **{f"main.{k_}": v for k_, v in old.items()}}

    merged = cv.out_of_fold(n, splits, fit_predict, jobs)
    for key, v in merged.items():
        method, name = key.split(".", 1)
        preds[method][name] = v
    if baseline:
        T = M.label_arrays(labels + (list(extra[1]) if extra else []))
        Xall = {v: np.vstack([emb[v], extra_emb]) for v, extra_emb in (extra_embs(emb, extra)).items()}
        bl = lambda tr, te: baseline_fit_predict(Xall, T, tr + list(range(n, n + n_extra(extra))), te)  # noqa: E731
        preds["baseline"] = cv.out_of_fold(n, splits, bl, jobs)
    ids = [str(r["id"]) for r in labels]
    return {m: cv.score(ids, p, labels) for m, p in preds.items()}


def extra_embs(emb: dict, extra) -> dict:  # noqa: ANN001
    """The extra (training-only) rows' embeddings (kept on the extra tuple as its third item)."""
    return {v: (extra[2][v] if extra is not None else np.zeros((0, emb[v].shape[1]), emb[v].dtype)) for v in emb}


def n_extra(extra) -> int:  # noqa: ANN001
    return 0 if extra is None else len(extra[1])


def score_bundle(folder: Path, X: np.ndarray, labels: list[dict], views: list[dict]) -> dict | None:
    """A saved bundle scored on the conversations whose label files it was not trained on."""
    bundle = B.load(folder)
    seen = set(bundle.meta.get("trained_on", {}).get("files", []))
    ref = {f: set(D.load_labels(D.label_path(ARGS.shared, f)[0])) for f in seen}
    trained = set().union(*ref.values()) if ref else set()
    rows = np.array([i for i, r in enumerate(labels) if r["id"] not in trained])
    if not len(rows):
        return None
    pred = bundle.model.predict(X[rows], [views[i] for i in rows])
    return {
        "weights_sha256": bundle.meta.get("weights_sha256"),
        "trained_on": sorted(seen),
        **cv.score([str(labels[i]["id"]) for i in rows], pred, [labels[i] for i in rows]),
    }


def fmt(v) -> str:  # noqa: ANN001
    return "" if v is None else f"{v:.3f}"


def print_table(res: dict[str, dict], bundle_res: dict | None) -> None:
    scopes = (
        ["all"] + sorted(res["offline"]["by_corpus"]) + (["older_corpora"] if "older_corpora" in res["offline"] else [])
    )
    for scope in scopes:

        def get(m: str, scope: str = scope) -> dict:
            if scope == "all":
                return res[m]
            return res[m].get(scope, {}) if scope == "older_corpora" else res[m]["by_corpus"].get(scope, {})

        n = res["offline"]["n_matched"] if scope == "all" else get("offline").get("n")
        cols = [m for m in ("offline", "main", "baseline") if m in res]
        extra_col = bundle_res is not None and (scope == "all" or scope in bundle_res.get("by_corpus", {}))
        title = (
            "older corpora pooled (hh-rlhf + JailbreakBench + MT-Bench + AlpacaEval = dev+dev2)"
            if scope == "older_corpora"
            else scope
        )
        print(f"\n## {title} (n={n})")
        head = (
            f"{'metric':26s}"
            + "".join(f"{c:>10s}" for c in cols)
            + ("   main-weights" if extra_col else "")
            + ("   target" if scope == "ShareGPT" else "")
        )
        print(head)
        for k in KEYS:
            row = f"{k:26s}" + "".join(f"{fmt(get(c).get(k)):>10s}" for c in cols)
            if extra_col:
                b = bundle_res if scope == "all" else bundle_res["by_corpus"][scope]
                row += f"{fmt(b.get(k)):>15s}"
            if scope == "ShareGPT" and k in SHAREGPT_TARGETS:
                t, v = SHAREGPT_TARGETS[k], get("offline").get(k)
                ok = v is not None and (v <= t if k == "benign_as_harmful" else v >= t)
                row += f"   {'≤' if k == 'benign_as_harmful' else '≥'}{t:.2f} {'ok' if ok else 'MISS'}"
            print(row)


ARGS: argparse.Namespace


def main() -> None:
    global ARGS
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shared", default=str(REPO.parent / "shared"))
    ap.add_argument("--files", default="dev,dev2,dev3", help="labelled files scored by k-fold CV")
    ap.add_argument("--extra", default="", help="labelled files added to every training fold, never scored")
    ap.add_argument(
        "--extra-limit", type=int, default=None, help="use a seeded random N of the --extra rows (learning curve)"
    )
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--embedder", default="minilm")
    ap.add_argument("--cache", type=Path, default=None, help="view-embedding cache (.npz, looked up by id)")
    ap.add_argument("--alpha", default=None, help='JSON overrides of model.DEFAULT_ALPHA, e.g. {"ai": 1000}')
    ap.add_argument("--no-baseline", action="store_true")
    ap.add_argument("--no-tfidf", action="store_true", help="embedding heads only (the pre-n-gram model)")
    ap.add_argument(
        "--bundle", type=Path, default=None, help="also score this saved bundle on data it was not trained on"
    )
    ap.add_argument("--json-out", type=Path, default=None)
    ap.add_argument("--jobs", type=int, default=1, help="folds run in parallel processes (same numbers)")
    ap.add_argument(
        "--balance-corpora",
        choices=["default", "on", "off"],
        default="default",
        help="corpus-balanced weights for the harmful, user-states-values and response heads (model.corpus_weights)",
    )
    ap.add_argument(
        "--balanced-heads",
        default=None,
        help="comma list overriding model.BALANCED_HEADS (e.g. add human_l2,human_l3: their heads and thresholds)",
    )
    ARGS = args = ap.parse_args()
    if args.balanced_heads:
        M.BALANCED_HEADS = tuple(args.balanced_heads.split(","))
    t0 = time.time()
    files = tuple(args.files.split(","))
    extra_files = tuple(f for f in args.extra.split(",") if f)
    X, labels, emb, views = features(args.shared, files + extra_files, args.embedder, args.cache)
    n = len(D.load_labelled(args.shared, files)[1])
    keep = cv.extra_rows(len(labels) - n, args.extra_limit, args.seed) + n  # rows of the extra files kept
    extra = (X[keep], [labels[i] for i in keep], {v: e[keep] for v, e in emb.items()}) if extra_files else None
    extra_views = [views[i] for i in keep] if extra_files else None
    X, labels, emb, views = X[:n], labels[:n], {v: e[:n] for v, e in emb.items()}, views[:n]
    text_views = views
    if args.no_tfidf:
        views = extra_views = None
    t1 = time.time()
    alpha = json.loads(args.alpha) if args.alpha else None
    balance = None if args.balance_corpora == "default" else args.balance_corpora == "on"
    res = run_cv(
        X,
        labels,
        emb,
        views,
        extra,
        extra_views,
        args.folds,
        args.seed,
        alpha,
        not args.no_baseline,
        args.jobs,
        balance,
    )
    bundle_res = score_bundle(args.bundle, X, labels, text_views) if args.bundle else None
    print(
        f"{args.folds}-fold CV on {args.files} (n={n}, +{args.extra or 'nothing'} in every training fold, "
        f"embedder={args.embedder}); features {t1 - t0:.0f}s, CV {time.time() - t1:.0f}s"
    )
    if bundle_res:
        print(
            f"main-weights = saved bundle {str(bundle_res['weights_sha256'])[:8]} (trained on {bundle_res['trained_on']}), "
            f"scored on the {bundle_res['n_matched']} scored conversations outside its training files"
        )
    print_table(res, bundle_res)
    summary = {
        "balance_corpora": M.BALANCE_CORPORA if balance is None else balance,
        "files": list(files),
        "extra": list(extra_files),
        "extra_n": n_extra(extra),
        "folds": args.folds,
        "seed": args.seed,
        "n": n,
        "methods": res,
        "bundle": bundle_res,
    }
    if args.json_out:
        args.json_out.write_text(json.dumps(summary, indent=1, default=float) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
