"""OpenAI-compatible chat completions via the official SDK (OpenAI, vLLM, Ollama, llama.cpp, LM Studio, OpenRouter).

Structured output differs between servers, so ``response_format`` picks one:

* ``json_schema`` — OpenAI's ``{"type": "json_schema", "json_schema": {...}}`` (OpenAI, vLLM, Ollama, LM Studio);
* ``json_object`` — ``{"type": "json_object", "schema": ...}`` (llama.cpp's server);
* ``tool`` — a forced function call whose arguments are the answer;
* ``prompt`` — no constraint, the schema is only described in the prompt;
* ``auto`` (default) — start with ``json_schema`` and, when the server rejects
  the request format (400/422 naming it), fall back in the order above and
  remember what worked.
"""

from __future__ import annotations

import json
from typing import Any

import openai

from valuescope.extract.config import ExtractConfig
from valuescope.extract.llm.backends.base import (
    Backend,
    Completion,
    TransientError,
    classify_sdk_error,
)
from valuescope.extract.llm.backends.http import LeanTransport, use_lean
from valuescope.settings import credential

MODES = ("json_schema", "json_object", "tool", "prompt")


def _strip(schema: Any) -> Any:
    if isinstance(schema, dict):
        return {k: _strip(v) for k, v in schema.items() if k not in ("maxLength", "maxItems", "minItems")}
    if isinstance(schema, list):
        return [_strip(v) for v in schema]
    return schema


_STRICT: dict[int, tuple[Any, Any]] = {}


def _strict_schema(schema: dict[str, Any]) -> Any:
    """OpenAI strict mode rejects some keywords; pydantic enforces them after the fact. Memoised per schema object."""
    hit = _STRICT.get(id(schema))
    if hit is None or hit[0] is not schema:
        hit = _STRICT[id(schema)] = (schema, _strip(schema))
    return hit[1]


class OpenAIBackend(Backend):
    name = "openai"

    def __init__(self, config: ExtractConfig, model: str | None = None) -> None:
        super().__init__(config, model)
        if config.response_format not in ("auto", *MODES):
            raise ValueError(f"unknown response_format {config.response_format!r}; use auto or one of {MODES}")
        self.mode = "json_schema" if config.response_format == "auto" else config.response_format
        self.base_url = config.base_url or credential("OPENAI_BASE_URL")
        self._clients: list[openai.AsyncOpenAI] = []
        self._next = 0
        if not credential("OPENAI_API_KEY") and not self.base_url:
            raise ValueError("the openai backend needs OPENAI_API_KEY, or --base-url for a local server")

    def _sdk(self) -> openai.AsyncOpenAI:
        """The SDK client, created on the event loop that uses it.

        A plain-http base URL (a local server) gets :class:`LeanTransport` under the SDK's own httpx
        client: the default stack (httpcore's pool) costs more CPU per request than the request
        itself at 64 in flight (``benchmarks/llm_throughput.py``). HTTPS, proxies: the SDK default,
        with a round-robin over a few clients (one pool per ~16 requests in flight) because
        httpcore scans every pooled connection when it assigns a request.
        """
        if not self._clients:
            lean = use_lean(self.base_url, self.config.http)
            shards = 1 if lean else max(1, -(-self.config.concurrency // 16))
            self._clients = [
                openai.AsyncOpenAI(
                    base_url=self.base_url,
                    api_key=credential("OPENAI_API_KEY") or "not-needed",
                    max_retries=0,  # the client owns retries
                    timeout=self.config.timeout_s,
                    http_client=openai.DefaultAsyncHttpxClient(transport=LeanTransport()) if lean else None,
                )
                for _ in range(shards)
            ]
        self._next = (self._next + 1) % len(self._clients)
        return self._clients[self._next]

    async def aclose(self) -> None:
        for c in self._clients:
            await c.close()
        self._clients = []

    def request_body(
        self, system: str, messages: list[dict[str, str]], schema: dict[str, Any], name: str, max_tokens: int
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.model,
            "messages": [{"role": "system", "content": system}, *messages],
            "temperature": self.config.temperature,
            "max_tokens": max_tokens,
        }
        if self.mode == "json_schema":
            body["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": name, "schema": _strict_schema(schema), "strict": True},
            }
        elif self.mode == "json_object":
            body["response_format"] = {"type": "json_object", "schema": schema}
        elif self.mode == "tool":
            body["tools"] = [{"type": "function", "function": {"name": name, "parameters": schema}}]
            body["tool_choice"] = {"type": "function", "function": {"name": name}}
        else:
            body["messages"][0]["content"] = f"{system}\n\nJSON schema of the answer:\n{json.dumps(schema)}"
        return body

    def parse_body(self, body: dict[str, Any]) -> Completion:
        choices = body.get("choices") or []
        if not choices:
            raise TransientError("response has no choices")
        choice = choices[0]
        message = choice.get("message") or {}
        calls = message.get("tool_calls") or []
        text = calls[0]["function"]["arguments"] if calls else (message.get("content") or "")
        usage = body.get("usage") or {}
        return Completion(
            text=text,
            usage={
                "input_tokens": int(usage.get("prompt_tokens") or 0),
                "output_tokens": int(usage.get("completion_tokens") or 0),
            },
            finish_reason=choice.get("finish_reason"),
        )

    async def acomplete(
        self, system: str, messages: list[dict[str, str]], schema: dict[str, Any], name: str, max_tokens: int
    ) -> Completion:
        while True:
            mode = self.mode
            body = self.request_body(system, messages, schema, name, max_tokens)
            try:
                # the SDK's raw post: same auth, headers and error types as chat.completions.create, without
                # re-transforming a large body and building response models for every request
                # pre-serialised (the SDK's default Content-Type is application/json): its own JSON encoder
                # and option copies cost more CPU than the request
                resp = await self._sdk().post("/chat/completions", content=json.dumps(body).encode(), cast_to=object)
            except openai.APIStatusError as exc:
                if self._fallback(exc, mode):
                    continue
                raise classify(exc) from None
            except openai.APIError as exc:  # timeouts, connection drops
                raise classify(exc) from None
            except ValueError as exc:  # a 200 whose body is not JSON
                raise TransientError(f"response body is not JSON: {exc}") from None
            if not isinstance(resp, dict):
                raise TransientError(f"response body is not a JSON object: {str(resp)[:200]!r}")
            return self.parse_body(resp)

    def _fallback(self, exc: openai.APIStatusError, mode: str) -> bool:
        """Switch structured-output mode when the server rejects this one (auto only)."""
        # llama-cpp-python answers an unknown response_format type with a 500 naming the allowed ones
        if self.config.response_format != "auto" or exc.status_code not in (400, 415, 422, 500, 501):
            return False
        text = str(exc).lower()
        if not any(w in text for w in ("response_format", "json_schema", "json_object", "tool")):
            return False
        if self.mode == mode:  # another request may already have switched
            i = MODES.index(mode)
            if i + 1 >= len(MODES):
                return False
            self.mode = MODES[i + 1]
        return True


def classify(exc: openai.APIError) -> Exception:
    return classify_sdk_error(exc, openai)
