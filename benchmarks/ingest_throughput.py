"""Ingest throughput: conversations per second, with its in-run baselines.

    .venv/bin/python benchmarks/ingest_throughput.py [CONVERSATIONS_DIR] [--scrub off|regex|ner]

Baselines measured in the same run over the same files: (a) a bare
``json.loads`` loop — the floor any JSONL reader pays — and (b) the local
engine with one worker, against which the default (two workers) is compared.
Each configuration ingests into a fresh run directory (no cache reuse).

The reading layer alone (plan + read every chunk into drafts, no engine, no
tables) is timed against the same floor, for JSONL and for the same records
as one JSON array (floor: one ``json.load`` of the array), and gzipped in
chunks of 100 records (each chunk seeks into the gzip stream), so a change to
the bounded readers shows up as a ratio, not drowned in engine start-up.

A synthetic ChatGPT data export (``--chatgpt N`` conversations, default
10,000, in one ``conversations.json``: mapping trees with hidden system turns,
regenerated branches and tool calls) is ingested beside the same displayed
conversations as plain valuescope JSONL, each in a fresh process: records/s,
the ingest's CPU seconds (process and workers) and peak RSS side by side
(``--only-export`` runs just this part).
"""

from __future__ import annotations

import argparse
import gzip
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from valuescope import api
from valuescope.config import RunConfig

FILES = ("alpaca_eval.jsonl", "hh_rlhf_harmless_base_test.jsonl", "jailbreakbench.jsonl", "mt_bench.jsonl")


def bare_json(files: list[Path]) -> tuple[int, float]:
    start, n = time.perf_counter(), 0
    for f in files:
        with f.open("rb") as fh:
            for line in fh:
                json.loads(line)
                n += 1
    return n, time.perf_counter() - start


def bare_array(array: Path) -> tuple[int, float]:
    start = time.perf_counter()
    with array.open("rb") as fh:
        n = len(json.load(fh))
    return n, time.perf_counter() - start


def read_only(files: list[Path], batch: int = 1000) -> tuple[int, float]:
    """Plan every file and read every chunk into drafts: the reading layer without the engine."""
    from valuescope.ingest.source import plan_file, read_chunk

    start, n = time.perf_counter(), 0
    for i, f in enumerate(files):
        planned = plan_file(f, i, None, batch, {})
        for chunk in planned.chunks:
            n += sum(1 for item in read_chunk(planned, chunk, 2_000_000) if not item.blank)
    return n, time.perf_counter() - start


def ingest(files: list[Path], workers: int, scrub: str) -> tuple[int, float]:
    cfg = api.apply_overrides(RunConfig(), scrub=scrub, workers=workers)
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        run = api.ingest(files, Path(tmp) / "run", cfg)
        seconds = time.perf_counter() - start
        read = sum(i["read"] for i in run.manifest["inputs"])
    return read, seconds


def chatgpt_export(n: int, export: Path, plain: Path) -> None:
    """N synthetic conversations as a ChatGPT export (one JSON array) and as the same turns in valuescope JSONL."""
    words = ("honesty", "careful", "budget", "privacy", "deadline", "friend", "research", "health", "policy", "garden")

    def text(i: int, k: int, length: int) -> str:
        return " ".join(words[(i * 7 + k * 3 + j) % len(words)] for j in range(length))

    def node(nid, parent, children, role, body, **extra):
        message = (
            None
            if role is None
            else {
                "id": nid,
                "author": {"role": role, "name": extra.pop("name", None), "metadata": {}},
                "create_time": 1.7e9 + len(nid),
                "content": body,
                "recipient": extra.pop("recipient", "all"),
                "metadata": {"model_slug": "gpt-4o", **extra},
            }
        )
        return {"id": nid, "parent": parent, "children": children, "message": message}

    with export.open("w") as out_e, plain.open("w") as out_p:
        out_e.write("[")
        for i in range(n):
            turns = [
                ("user", text(i, 0, 40)),
                ("assistant", text(i, 1, 160)),
                ("user", text(i, 2, 30)),
                ("assistant", text(i, 3, 200)),
            ]
            ids = ["root", "sys", "u1", "a1", "u2", "a2"]
            mapping = {
                "root": node("root", None, ["sys"], None, None),
                "sys": node(
                    "sys",
                    "root",
                    ["u1"],
                    "system",
                    {"content_type": "text", "parts": [""]},
                    is_visually_hidden_from_conversation=True,
                ),
            }
            for k, (role, body) in enumerate(turns):
                nid, parent = ids[k + 2], ids[k + 1]
                children = [ids[k + 3]] if k + 3 < len(ids) else []
                mapping[nid] = node(nid, parent, children, role, {"content_type": "text", "parts": [body]})
            if i % 5 == 0:  # a regenerated answer: a branch off the shown path
                mapping["u2"]["children"].append("a2-old")
                mapping["a2-old"] = node(
                    "a2-old", "u2", [], "assistant", {"content_type": "text", "parts": [text(i, 4, 150)]}
                )
            shown = [{"role": r, "content": b} for r, b in turns]
            if i % 7 == 0:  # a tool call and its output before the last answer
                mapping["u2"]["children"] = ["call"] + [c for c in mapping["u2"]["children"] if c != "a2"]
                mapping["call"] = node(
                    "call", "u2", ["out"], "assistant", {"content_type": "code", "text": "print(1)"}, recipient="python"
                )
                mapping["out"] = node(
                    "out", "call", ["a2"], "tool", {"content_type": "execution_output", "text": "1"}, name="python"
                )
                mapping["a2"]["parent"] = "out"
            conv = {
                "id": f"conv-{i}",
                "title": f"chat {i}",
                "create_time": 1.7e9 + i,
                "update_time": 1.7e9 + i,
                "current_node": "a2",
                "default_model_slug": "gpt-4o",
                "mapping": mapping,
            }
            out_e.write(("," if i else "") + json.dumps(conv))
            out_p.write(json.dumps({"id": f"conv-{i}", "model": "gpt-4o", "messages": shown}) + "\n")
        out_e.write("]")


_CHILD = """
import json, resource, sys, time
from pathlib import Path
from valuescope import api
from valuescope.config import RunConfig
cfg = api.apply_overrides(RunConfig(), scrub=sys.argv[3], workers=int(sys.argv[4]))
def cpu():
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime
cpu_start, start = cpu(), time.perf_counter()
run = api.ingest([sys.argv[1]], Path(sys.argv[2]), cfg)
seconds = time.perf_counter() - start
cpu_seconds = cpu() - cpu_start  # the ingest's CPU time (process and workers): steadier than wall time on a busy machine
rss = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
print(json.dumps({"ok": sum(i["ok"] for i in run.manifest["inputs"]), "seconds": seconds, "rss_mb": rss / 1024,
                  "cpu": cpu_seconds}))
"""


def ingest_in_child(path: Path, scrub: str, workers: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        out = subprocess.run(
            [sys.executable, "-c", _CHILD, str(path), str(Path(tmp) / "run"), scrub, str(workers)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    return json.loads(out.strip().splitlines()[-1])


def export_rows(n: int, scrub: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        export, plain = Path(tmp) / "conversations.json", Path(tmp) / "plain.jsonl"
        chatgpt_export(n, export, plain)
        print(
            f"\nChatGPT export of {n:,} conversations ({export.stat().st_size / 1e6:.1f} MB) vs the same turns as "
            f"plain JSONL ({plain.stat().st_size / 1e6:.1f} MB); scrub={scrub}, fresh process each"
        )
        print(
            f"{'input':<28} {'workers':>7} {'conversations':>13} {'seconds':>8} {'records/s':>10} {'CPU s':>7} "
            f"{'peak RSS MB':>12}"
        )
        results = {}
        for name, path in (("plain JSONL", plain), ("ChatGPT conversations.json", export)):
            for workers in (1, 2):
                r = results[name, workers] = ingest_in_child(path, scrub, workers)
                print(
                    f"{name:<28} {workers:>7} {r['ok']:>13,} {r['seconds']:>8.2f} {r['ok'] / r['seconds']:>10,.0f} "
                    f"{r['cpu']:>7.2f} {r['rss_mb']:>12,.0f}"
                )
        for workers in (1, 2):
            e, p = results["ChatGPT conversations.json", workers], results["plain JSONL", workers]
            print(
                f"{workers} worker(s): export / JSONL records/s {p['seconds'] / e['seconds']:.2f}, "
                f"records per CPU-second {p['cpu'] / e['cpu']:.2f}, peak RSS {e['rss_mb'] / p['rss_mb']:.2f}x"
            )


def main() -> None:
    default = Path(__file__).resolve().parents[2] / "shared" / "data" / "conversations"
    parser = argparse.ArgumentParser()
    parser.add_argument("conversations_dir", nargs="?", type=Path, default=default)
    parser.add_argument("--scrub", default="off")
    parser.add_argument(
        "--chatgpt", type=int, default=10_000, help="conversations in the synthetic ChatGPT export (0: skip)"
    )
    parser.add_argument("--only-export", action="store_true", help="only the ChatGPT export comparison")
    args = parser.parse_args()
    if args.only_export:
        export_rows(args.chatgpt, args.scrub)
        return
    files = [args.conversations_dir / f for f in FILES]
    rows = [("bare json.loads (floor)", *bare_json(files))]
    for workers in (1, 2):
        rows.append((f"ingest, {workers} worker(s), scrub={args.scrub}", *ingest(files, workers, args.scrub)))
    rows.append(("read only (plan + read chunks), JSONL", *read_only(files)))
    with tempfile.TemporaryDirectory() as tmp:
        array = Path(tmp) / "all.json"  # the same records as one JSON array
        with array.open("wb") as out:
            out.write(
                b"[" + b",\n".join(line.rstrip(b"\n") for f in files for line in f.open("rb") if line.strip()) + b"]"
            )
        rows.append(("bare json.load of the array (floor)", *bare_array(array)))
        rows.append(("read only (plan + read chunks), JSON array", *read_only([array])))
        gzipped = []  # the same JSONL files gzipped, read in small chunks: each chunk seeks into the gzip stream
        for f in files:
            gzipped.append(Path(tmp) / (f.name + ".gz"))
            gzipped[-1].write_bytes(gzip.compress(f.read_bytes(), 6))
        rows.append(("read only, gzipped JSONL, chunks of 100", *read_only(gzipped, 100)))
    print(f"{'configuration':<42} {'records':>8} {'seconds':>8} {'records/s':>10}")
    for name, n, s in rows:
        print(f"{name:<42} {n:>8,} {s:>8.2f} {n / s:>10,.0f}")
    print(f"speed-up of 2 workers over 1: {rows[1][2] / rows[2][2]:.2f}x")
    print(
        f"read only / floor, JSONL: {rows[3][2] / rows[0][2]:.1f}x the time; "
        f"JSON array: {rows[5][2] / rows[4][2]:.1f}x the time; gzipped JSONL in chunks of 100: "
        f"{rows[6][2] / rows[0][2]:.1f}x the time"
    )
    if args.chatgpt:
        export_rows(args.chatgpt, args.scrub)


if __name__ == "__main__":
    main()
