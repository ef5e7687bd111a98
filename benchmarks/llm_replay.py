"""Measure the LLM extractor with stored answers of any model (no API at run time).

# 1. the conversations: the first N ids of a reference-label file, from a corpus
python benchmarks/llm_replay.py subset LABELS CORPUS N OUT.jsonl
# 2. the exact requests valuescope would send (OUT/requests.jsonl)
valuescope analyze OUT.jsonl --out RUN --extractor llm --backend replay --model MODEL --dry-run
# 3. someone answers each request -> ANSWERS.jsonl {key, answer}; then replay through the whole pipeline
valuescope analyze --out RUN --extractor llm --backend replay --model MODEL --answers ANSWERS.jsonl
# 4. the raw answers as labels (GUIDELINES.md JSONL), to score the pipeline against them
python benchmarks/llm_replay.py labels RUN/requests.jsonl ANSWERS.jsonl RAW_LABELS.jsonl
valuescope evaluate RUN --reference RAW_LABELS.jsonl     # pipeline vs the model's own answers
valuescope evaluate RUN --reference LABELS               # pipeline vs the reference annotations
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def subset(labels: str, corpus: str, n: str, out: str) -> None:
    """The first n conversations of LABELS (by id, in its order) copied from CORPUS."""
    ids = [json.loads(line)["id"] for line in open(labels, encoding="utf-8") if line.strip()][: int(n)]
    wanted = set(ids)
    found: dict[str, str] = {}
    with open(corpus, encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                cid = json.loads(line)["id"]
                if cid in wanted:
                    found[cid] = line if line.endswith("\n") else line + "\n"
    missing = [i for i in ids if i not in found]
    if missing:
        sys.exit(f"{len(missing)} ids not in {corpus}, e.g. {missing[0]}")
    Path(out).write_text("".join(found[i] for i in ids), encoding="utf-8")
    print(f"{len(ids)} conversations -> {out}")


def labels(requests: str, answers: str, out: str) -> None:
    """The stored answers of the full requests as reference labels (id + the answer's fields)."""
    from valuescope.extract.llm.backends.replay import load_answers

    stored = load_answers(answers)
    n = 0
    with open(requests, encoding="utf-8") as fh, open(out, "w", encoding="utf-8") as dst:
        for line in fh:
            req = json.loads(line)
            if req["kind"] != "full" or req["key"] not in stored:
                continue
            answer = stored[req["key"]]
            answer = json.loads(answer) if isinstance(answer, str) else answer
            dst.write(json.dumps({"id": req["id"], **answer}, ensure_ascii=False) + "\n")
            n += 1
    print(f"{n} answered requests -> {out}")


if __name__ == "__main__":
    commands = {"subset": subset, "labels": labels}
    if len(sys.argv) < 2 or sys.argv[1] not in commands:
        sys.exit(__doc__)
    commands[sys.argv[1]](*sys.argv[2:])
