"""Scale corpora: N real conversations (and their reference judgments) replicated with new unique ids, streamed.

The base is the 900 conversations annotated in the shared reference set (dev: hh-rlhf, MT-Bench,
AlpacaEval, JailbreakBench; dev2: more of those; dev3: ShareGPT), read from
``$VALUESCOPE_SHARED/data/conversations``. Replica ``k`` of conversation ``ID`` gets the id
``ID#rK``; its judgment (for ``--extractor reference``) is the base annotation under that id, so
every replicated conversation carries a real judgment. Both files are written line by line: only
the 900 base records are ever held in memory. No held-out id is in the base (checked).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

ANNOTATIONS = ("dev.jsonl", "dev2.jsonl", "dev3.jsonl")


def shared_dir() -> Path:
    return Path(os.environ.get("VALUESCOPE_SHARED", Path(__file__).resolve().parents[2] / "shared"))


def base_records(shared: Path) -> list[tuple[str, dict]]:
    """[(conversation JSON line, annotation)] for every annotated conversation, in annotation-file order."""
    ref = shared / "data" / "reference-annotations"
    labels = {}
    for name in ANNOTATIONS:
        for line in (ref / name).read_text("utf-8").splitlines():
            if line.strip():
                rec = json.loads(line)
                labels[rec["id"]] = rec
    heldout = set((ref / "heldout_ids.txt").read_text("utf-8").split())
    if heldout & labels.keys():
        raise SystemExit("a held-out id is in the reference annotations: refusing to replicate it")
    convs = {}
    for path in sorted((shared / "data" / "conversations").glob("*.jsonl")):
        with path.open(encoding="utf-8") as fh:
            for line in fh:
                rec = json.loads(line)
                if rec["id"] in labels:
                    convs[rec["id"]] = rec
    missing = labels.keys() - convs.keys()
    if missing:
        raise SystemExit(f"{len(missing)} annotated ids not found in the shared conversations, e.g. {min(missing)}")
    order = sorted(labels, key=lambda i: hashlib.sha256(i.encode()).hexdigest())  # any prefix: a fair mix
    return [(json.dumps(convs[i], ensure_ascii=False), labels[i]) for i in order]


def write_corpus(shared: Path, n: int, conversations: Path, labels: Path | None = None) -> int:
    """Write n replicated conversations (and, if `labels`, their judgments); returns n. Streams.

    Files already there are kept (they are deterministic); new ones appear whole (temp file + rename),
    so a run reading a corpus never sees one half written."""
    if conversations.is_file() and (labels is None or labels.is_file()):
        return n
    base = base_records(shared)
    conversations.parent.mkdir(parents=True, exist_ok=True)
    conv_tmp = conversations.with_name(conversations.name + ".tmp")
    lab_tmp = labels.with_name(labels.name + ".tmp") if labels else None
    lab = lab_tmp.open("w", encoding="utf-8") if lab_tmp else None
    try:
        with conv_tmp.open("w", encoding="utf-8") as out:
            for i in range(n):
                k, j = divmod(i, len(base))
                line, ann = base[j]
                rec = json.loads(line)
                new_id = f"{rec['id']}#r{k}"
                rec["id"] = new_id
                out.write(json.dumps(rec, ensure_ascii=False) + "\n")
                if lab is not None:
                    lab.write(json.dumps({**ann, "id": new_id}, ensure_ascii=False) + "\n")
    finally:
        if lab is not None:
            lab.close()
    if labels is not None and lab_tmp is not None:
        lab_tmp.replace(labels)
    conv_tmp.replace(conversations)
    return n
