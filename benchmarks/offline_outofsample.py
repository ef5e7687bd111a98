"""The shipped offline extractor on 600 ShareGPT conversations it was never fitted or tuned on.

Writes the labelled conversations (joined by id from the shared corpus) to WORK/conversations.jsonl,
runs `valuescope analyze` and `valuescope evaluate` on them, then adds the two facets `evaluate`
does not print: the share of benign conversations called "harmful or illicit request" and the rank
correlation of the AI l2 profile (what the report shows) with the labels'.

    PYTHONPATH=src .venv/bin/python benchmarks/offline_outofsample.py --shared ../shared --work /tmp/oos
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import duckdb
from scipy.stats import spearmanr

LABELS = Path(__file__).parent / "labels" / "sharegpt-outofsample.jsonl"
HARMFUL = "harmful or illicit request"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", type=Path, default=Path("../shared"))
    ap.add_argument("--work", type=Path, required=True)
    ap.add_argument("--labels", type=Path, default=LABELS)
    args = ap.parse_args()
    labels = {r["id"]: r for r in map(json.loads, args.labels.read_text().splitlines())}
    args.work.mkdir(parents=True, exist_ok=True)
    conversations = args.work / "conversations.jsonl"
    with open(args.shared / "data/conversations/sharegpt.jsonl") as fh, conversations.open("w") as out:
        found = [out.write(line) for line in fh if json.loads(line)["id"] in labels]
    if len(found) != len(labels):
        sys.exit(f"{len(labels) - len(found)} labelled ids are not in the shared corpus")
    run = args.work / "run"
    cli = [sys.executable, "-c", "from valuescope.cli import main; main()"]
    subprocess.run([*cli, "analyze", str(conversations), "--out", str(run), "-q"], check=True)
    subprocess.run([*cli, "evaluate", str(run), "--reference", str(args.labels)], check=True)

    con = duckdb.connect()
    judged = dict(con.execute(f"select id, task_category from read_parquet('{run}/judgments/*.parquet')").fetchall())
    benign = [i for i in judged if labels[i]["task_category"] != HARMFUL]
    called_harmful = sum(judged[i] == HARMFUL for i in benign)
    ref = Counter(l2 for r in labels.values() for l2 in {v["l2"] for v in r["ai_values"]})
    pred = Counter(
        l2
        for (l2,) in con.execute(
            f"select l2 from (select distinct id, l2 from read_parquet('{run}/values/*.parquet') "
            "where side = 'ai' and l2 is not null)"
        ).fetchall()
    )
    keys = sorted(set(ref) | set(pred))
    rho = spearmanr([ref[k] for k in keys], [pred[k] for k in keys]).statistic
    print(f"benign called harmful: {called_harmful}/{len(benign)} = {called_harmful / max(1, len(benign)):.3f}")
    print(f"AI l2 profile Spearman: {rho:.3f} over {len(keys)} clusters")


if __name__ == "__main__":
    main()
