"""Answers from a file of stored answers instead of an API: measure the LLM extractor with any model, offline.

Why: to score what a model's answers become after valuescope's later stages, the
answers must be replayed exactly as the live run would have received them.
``valuescope analyze ... --dry-run`` writes every request the extractor would
send (``requests.jsonl``, one ``{key, id, kind, body}`` per line, ``body`` the
OpenAI chat-completions request); whoever has the model answers them into
``answers.jsonl`` (``{key, answer}``, ``answer`` the JSON object or its text), and
``--backend replay --answers answers.jsonl`` replays them. ``key`` is the hash of
the exact request body, so an answer can only be used for the request it was
written for. A request with no stored answer is a :class:`PermanentError`: that
conversation is quarantined with the reason, never given a default.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from valuescope.extract.config import ExtractConfig
from valuescope.extract.llm.backends.base import Backend, Completion, PermanentError
from valuescope.records import stable_hash


def request_body(
    model: str,
    temperature: float,
    system: str,
    messages: list[dict[str, str]],
    schema: dict[str, Any],
    name: str,
    max_tokens: int,
) -> dict[str, Any]:
    """The OpenAI-compatible request valuescope would send (json_schema mode), as recorded by --dry-run."""
    from valuescope.extract.llm.backends.openai import _strict_schema

    return {
        "model": model,
        "messages": [{"role": "system", "content": system}, *messages],
        "temperature": temperature,
        "max_tokens": max_tokens,
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": name, "schema": _strict_schema(schema), "strict": True},
        },
    }


def request_key(body: dict[str, Any]) -> str:
    """Stable key of one request: sha256 of its canonical JSON (32 hex digits)."""
    return stable_hash(body, length=32)


def load_answers(path: str | Path) -> dict[str, Any]:
    """key -> answer from a JSONL file; a malformed line is a one-line error naming it."""
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"replay answers file not found: {p}")
    out: dict[str, Any] = {}
    with p.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{p}:{n}: not JSON ({exc.msg})") from None
            if not isinstance(rec, dict) or not isinstance(rec.get("key"), str) or "answer" not in rec:
                raise ValueError(f"{p}:{n}: each line must be an object with 'key' (string) and 'answer'")
            out[rec["key"]] = rec["answer"]
    return out


def file_digest(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]


class ReplayBackend(Backend):
    name = "replay"

    def __init__(self, config: ExtractConfig, model: str | None = None) -> None:
        super().__init__(config, model)
        if not config.answers:
            raise ValueError("the replay backend needs a file of stored answers (--answers FILE)")
        self.answers = load_answers(config.answers)

    def request_body(
        self, system: str, messages: list[dict[str, str]], schema: dict[str, Any], name: str, max_tokens: int
    ) -> dict[str, Any]:
        return request_body(self.model, self.config.temperature, system, messages, schema, name, max_tokens)

    def parse_body(self, body: dict[str, Any]) -> Completion:
        answer = body.get("answer")
        text = answer if isinstance(answer, str) else json.dumps(answer, ensure_ascii=False)
        return Completion(text=text, usage={"input_tokens": 0, "output_tokens": 0}, finish_reason="stop")

    async def acomplete(
        self, system: str, messages: list[dict[str, str]], schema: dict[str, Any], name: str, max_tokens: int
    ) -> Completion:
        key = request_key(self.request_body(system, messages, schema, name, max_tokens))
        if key not in self.answers:
            raise PermanentError(f"replay: no stored answer for request {key}")
        return self.parse_body({"answer": self.answers[key]})

    async def aclose(self) -> None:
        return None
