"""Helpers for the LLM extractor tests: scripted conversations, configs, a one-stage run."""

from __future__ import annotations

import json
from pathlib import Path

from valuescope.engine.rundir import RunDir
from valuescope.engine.runner import run_stages
from valuescope.extract.config import ExtractConfig
from valuescope.extract.stage import ExtractStage
from valuescope.ingest.table import conversations_to_table
from valuescope.records import Conversation, Message


def conv(cid: str, user: str, assistant: str = "Happy to help.") -> Conversation:
    return Conversation(
        id=cid, messages=[Message(role="user", content=user), Message(role="assistant", content=assistant)]
    )


def scripted(steps: list[str]) -> list[Conversation]:
    return [conv(f"t:{i}", f"Question {i}. FAKE[{s}]") for i, s in enumerate(steps)]


def llm_config(url: str, tmp_path: Path, **kw) -> ExtractConfig:
    base = dict(
        extractor="llm",
        backend="openai",
        model="fake-model",
        base_url=url,
        timeout_s=1.0,
        max_retries=3,
        llm_cache_dir=str(tmp_path / "llm-cache"),
        concurrency=8,
    )
    base.update(kw)
    return ExtractConfig(**base)


def run_extract(run_path: Path, convs: list[Conversation], config: ExtractConfig) -> RunDir:
    run = RunDir(run_path)
    if not run.has_table("conversations"):
        run.write_table("conversations", conversations_to_table(convs))
    run_stages(run, [ExtractStage(config)], quiet=True)
    return run


def load_real(conversations_dir: Path, n: int) -> list[Conversation]:
    """n real conversations from the shared corpora, mixed sources."""
    out: list[Conversation] = []
    files = ["mt_bench.jsonl", "hh_rlhf_harmless_base_test.jsonl", "alpaca_eval.jsonl", "jailbreakbench.jsonl"]
    per = -(-n // len(files))
    for name in files:
        with open(conversations_dir / name, encoding="utf-8") as fh:
            for i, line in enumerate(fh):
                if i >= per:
                    break
                rec = json.loads(line)
                out.append(
                    Conversation(
                        id=rec["id"],
                        source=rec.get("source"),
                        model=rec.get("model"),
                        context=rec.get("context"),
                        messages=[Message(**m) for m in rec["messages"]],
                    )
                )
    return out[:n]
