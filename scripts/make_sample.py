"""Build the bundled sample corpus (src/valuescope/data/sample/sample.jsonl.gz) deterministically.

    python scripts/make_sample.py ../shared/data/conversations

~250 hh-rlhf harmless-base test conversations (the `chosen` transcripts),
spread over topics by clustering first user turns (TF-IDF + k-means, fixed
seed) and taking the same number from each cluster; ~150 JailbreakBench
artifacts spread round-robin over (harm category, attack method, jailbroken)
cells. Both sources are MIT-licensed; see the folder's NOTICE.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import sys
from collections import defaultdict
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "src" / "valuescope" / "data" / "sample" / "sample.jsonl.gz"
HH, JBB = "hh_rlhf_harmless_base_test.jsonl", "jailbreakbench.jsonl"
N_HH, N_JBB, CLUSTERS = 250, 150, 25


def order(rec: dict) -> str:
    return hashlib.sha256(rec["id"].encode()).hexdigest()


def usable(rec: dict) -> bool:
    msgs = rec["messages"]
    return all(m["content"].strip() for m in msgs) and any(m["role"] == "assistant" for m in msgs)


def pick_hh(records: list[dict]) -> list[dict]:
    from sklearn.cluster import KMeans
    from sklearn.feature_extraction.text import TfidfVectorizer

    pool = sorted((r for r in records if r["meta"].get("preference") == "chosen" and usable(r)), key=order)
    texts = [next(m["content"] for m in r["messages"] if m["role"] == "user") for r in pool]
    x = TfidfVectorizer(stop_words="english", min_df=3, max_features=4000).fit_transform(texts)
    labels = KMeans(n_clusters=CLUSTERS, n_init=4, random_state=0).fit_predict(x)
    by_cluster: dict[int, list[dict]] = defaultdict(list)
    for rec, label in zip(pool, labels, strict=True):
        by_cluster[int(label)].append(rec)
    return _round_robin([by_cluster[k] for k in sorted(by_cluster)], N_HH)


def pick_jbb(records: list[dict]) -> list[dict]:
    cells: dict[tuple, list[dict]] = defaultdict(list)
    for rec in sorted((r for r in records if usable(r)), key=order):
        m = rec["meta"]
        cells[(m["category"], m["method"], bool(m["jailbroken"]))].append(rec)
    return _round_robin([cells[k] for k in sorted(cells)], N_JBB)


def _round_robin(groups: list[list[dict]], n: int) -> list[dict]:
    out, i = [], 0
    while len(out) < n and any(i < len(g) for g in groups):
        out += [g[i] for g in groups if i < len(g)][: n - len(out)]
        i += 1
    return out


def main(shared: Path) -> None:
    load = lambda name: [json.loads(line) for line in (shared / name).open(encoding="utf-8")]  # noqa: E731
    chosen = sorted(pick_hh(load(HH)) + pick_jbb(load(JBB)), key=lambda r: (r["source"], order(r)))
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0, filename="") as gz:
        for rec in chosen:
            gz.write((json.dumps(rec, ensure_ascii=False, sort_keys=True) + "\n").encode("utf-8"))
    OUT.write_bytes(buf.getvalue())
    print(f"wrote {len(chosen)} conversations to {OUT} ({OUT.stat().st_size:,} bytes)")


if __name__ == "__main__":
    main(
        Path(sys.argv[1])
        if len(sys.argv) > 1
        else Path(__file__).resolve().parents[2] / "shared" / "data" / "conversations"
    )
