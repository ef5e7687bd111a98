"""The model under test, reached through the extractor's own LLM backends (no second HTTP client).

The extract backends build structured-output requests; a probe needs plain chat.
:class:`ChatAdapter` gives :class:`~valuescope.extract.llm.client.LLMClient` the
``acomplete`` it drives, sending a plain chat request on the backend's own SDK
client (and, for plain-http local servers, its lean transport), so concurrency,
retries, ``retry-after`` pauses and error classes are exactly the extractor's.
:class:`Target` adds the persistent answer cache: each turn is keyed by the
backend, model, parameters, system prompt, the conversation so far and the
sample index, so a rerun sends nothing and a killed run resumes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from valuescope.extract.config import ExtractConfig
from valuescope.extract.llm.backends import Backend, Completion, TransientError, get_backend
from valuescope.extract.llm.cache import AnswerCache, cache_key
from valuescope.extract.llm.client import LLMClient

PROBE_VERSION = "probe-v1"  # bump when what is sent for the same scenario changes


class TargetConfig(BaseModel):
    """Who is probed and how. Everything here changes the answers, so all of it keys the cache."""

    backend: str = "openai"
    model: str
    base_url: str | None = None
    system_prompt: str | None = None
    temperature: float = 0.0
    max_output_tokens: int = 512
    concurrency: int = 16
    timeout_s: float = 120.0
    max_retries: int = 5

    def extract_config(self) -> ExtractConfig:
        return ExtractConfig(
            extractor="llm",
            backend=self.backend,
            model=self.model,
            base_url=self.base_url,
            concurrency=self.concurrency,
            timeout_s=self.timeout_s,
            max_retries=self.max_retries,
            temperature=self.temperature,
            max_output_tokens=self.max_output_tokens,
        )

    def params(self) -> dict[str, Any]:
        """What keys the answer cache besides backend and model. Not the URL: as in the extractor's cache, the
        model name identifies the model, so the same model behind a new address (a restarted local server) reuses answers."""
        return {
            "temperature": self.temperature,
            "max_output_tokens": self.max_output_tokens,
            "system_prompt": self.system_prompt or "",
        }


class ChatAdapter:
    """Plain chat on an extract backend's SDK client; the interface LLMClient expects (config + acomplete)."""

    def __init__(self, backend: Backend) -> None:
        self.inner = backend
        self.config = backend.config
        self.name, self.model = backend.name, backend.model

    async def acomplete(
        self, system: str, messages: list[dict[str, str]], schema: Any, name: str, max_tokens: int
    ) -> Completion:
        if self.name == "openai":
            return await self._openai(system, messages, max_tokens)
        if self.name == "anthropic":
            return await self._anthropic(system, messages, max_tokens)
        raise ValueError(f"probing through the {self.name!r} backend is not supported (openai, anthropic)")

    async def _openai(self, system: str, messages: list[dict[str, str]], max_tokens: int) -> Completion:
        import openai

        from valuescope.extract.llm.backends.openai import classify

        sent = ([{"role": "system", "content": system}] if system else []) + messages
        body = {"model": self.model, "messages": sent, "temperature": self.config.temperature, "max_tokens": max_tokens}
        try:
            resp = await self.inner._sdk().post("/chat/completions", content=json.dumps(body).encode(), cast_to=object)
        except openai.APIError as exc:
            raise classify(exc) from None
        except ValueError as exc:
            raise TransientError(f"response body is not JSON: {exc}") from None
        if not isinstance(resp, dict):
            raise TransientError(f"response body is not a JSON object: {str(resp)[:200]!r}")
        return self.inner.parse_body(resp)

    async def _anthropic(self, system: str, messages: list[dict[str, str]], max_tokens: int) -> Completion:
        import anthropic

        from valuescope.extract.llm.backends.anthropic import classify

        # no temperature: current SDK releases reject it on messages.create (see backends/anthropic.py)
        body: dict[str, Any] = {"model": self.model, "messages": messages, "max_tokens": max_tokens}
        if system:
            body["system"] = system
        try:
            resp = await self.inner._sdk().messages.create(**body)
        except anthropic.APIError as exc:
            raise classify(exc) from None
        return self.inner.parse_body(resp.model_dump())


def request_body(config: TargetConfig, messages: list[dict[str, str]]) -> dict[str, Any]:
    """What one request sends (for --dry-run): the provider's chat body, no key."""
    if config.backend == "anthropic":
        body: dict[str, Any] = {"model": config.model, "messages": messages, "max_tokens": config.max_output_tokens}
        if config.system_prompt:
            body["system"] = config.system_prompt
        return body
    sent = ([{"role": "system", "content": config.system_prompt}] if config.system_prompt else []) + messages
    return {
        "model": config.model,
        "messages": sent,
        "temperature": config.temperature,
        "max_tokens": config.max_output_tokens,
    }


class Target:
    """One model under test: cached, concurrent, retried chat turns."""

    def __init__(self, config: TargetConfig, cache_dir: str | Path) -> None:
        self.config = config
        self.backend = get_backend(config.extract_config())
        self.client = LLMClient(ChatAdapter(self.backend), concurrency=config.concurrency)  # type: ignore[arg-type]
        self.cache = AnswerCache(cache_dir)

    def key(self, messages: list[dict[str, str]], sample: int) -> str:
        c = self.config
        return cache_key(
            c.backend, c.model, PROBE_VERSION, c.params(), json.dumps([messages, sample], ensure_ascii=False)
        )

    async def reply(self, messages: list[dict[str, str]], sample: int, usage: dict[str, int]) -> tuple[str, str | None]:
        """The model's answer to `messages` (text, finish reason); raises TransientError/PermanentError/FatalError."""
        key = self.key(messages, sample)
        hit = self.cache.get(key)
        if hit is not None:
            usage["cached"] = usage.get("cached", 0) + 1
            return hit[0]["text"], hit[0].get("finish_reason")
        done = await self.client.call(self.config.system_prompt or "", messages, {}, "reply", usage)
        for k, v in done.usage.items():
            usage[k] = usage.get(k, 0) + int(v)
        self.cache.put(key, "probe", {"text": done.text, "finish_reason": done.finish_reason}, done.usage)
        return done.text, done.finish_reason

    def close(self) -> None:
        self.cache.close()
        self.backend.close()
