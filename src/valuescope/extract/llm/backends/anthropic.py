"""Anthropic Messages via the official SDK; the answer is a forced tool call whose input is the JSON object.

No ``temperature`` is sent: current SDK releases no longer accept it on
``messages.create``; a forced tool call already keeps the answer's shape fixed.
"""

from __future__ import annotations

import json
from typing import Any

import anthropic

from valuescope.extract.config import ExtractConfig
from valuescope.extract.llm.backends.base import (
    Backend,
    Completion,
    TransientError,
    classify_sdk_error,
)
from valuescope.settings import credential


class AnthropicBackend(Backend):
    name = "anthropic"

    def __init__(self, config: ExtractConfig, model: str | None = None) -> None:
        super().__init__(config, model)
        self.base_url = config.base_url or credential("ANTHROPIC_BASE_URL")
        if not credential("ANTHROPIC_API_KEY") and not self.base_url:
            raise ValueError("the anthropic backend needs ANTHROPIC_API_KEY")

    def _sdk(self) -> anthropic.AsyncAnthropic:
        if self._client is None:
            self._client = anthropic.AsyncAnthropic(
                base_url=self.base_url,
                api_key=credential("ANTHROPIC_API_KEY") or "not-needed",
                max_retries=0,
                timeout=self.config.timeout_s,
            )
        return self._client

    def request_body(
        self, system: str, messages: list[dict[str, str]], schema: dict[str, Any], name: str, max_tokens: int
    ) -> dict[str, Any]:
        return {
            "model": self.model,
            "system": system,
            "messages": messages,
            "max_tokens": max_tokens,
            "tools": [{"name": name, "description": "Record the annotation.", "input_schema": schema}],
            "tool_choice": {"type": "tool", "name": name},
        }

    def parse_body(self, body: dict[str, Any]) -> Completion:
        blocks = body.get("content") or []
        tool = next((b for b in blocks if b.get("type") == "tool_use"), None)
        if tool is not None:
            text = json.dumps(tool.get("input"), ensure_ascii=False)
        else:
            text = "".join(b.get("text", "") for b in blocks if b.get("type") == "text")
        usage = body.get("usage") or {}
        return Completion(
            text=text,
            usage={
                "input_tokens": int(usage.get("input_tokens") or 0),
                "output_tokens": int(usage.get("output_tokens") or 0),
            },
            finish_reason="length" if body.get("stop_reason") == "max_tokens" else body.get("stop_reason"),
        )

    async def acomplete(
        self, system: str, messages: list[dict[str, str]], schema: dict[str, Any], name: str, max_tokens: int
    ) -> Completion:
        body = self.request_body(system, messages, schema, name, max_tokens)
        try:
            resp = await self._sdk().messages.create(**body)
        except anthropic.APIError as exc:
            raise classify(exc) from None
        if isinstance(resp, str):
            raise TransientError(f"response body is not JSON: {resp[:200]!r}")
        return self.parse_body(resp.model_dump())


def classify(exc: anthropic.APIError) -> Exception:
    return classify_sdk_error(exc, anthropic)
