"""The one small interface every LLM provider implements.

A backend turns (system prompt, messages, JSON schema) into one provider
request and the provider's reply into a :class:`Completion`. It does not
retry: the client (``extract/llm/client.py``) owns concurrency, backoff and
repair, so every provider gets the same behaviour. Errors are classified into
:class:`TransientError` (retry), :class:`PermanentError` (this conversation
fails) and :class:`FatalError` (stop the run: bad key, unknown model).
"""

from __future__ import annotations

import asyncio
import threading
from abc import ABC, abstractmethod
from collections.abc import Coroutine
from types import ModuleType
from typing import Any, TypeVar

from valuescope.extract.config import ExtractConfig
from valuescope.extract.llm.outcomes import BackendError, Completion, FatalError, PermanentError, TransientError

T = TypeVar("T")
__all__ = ["Backend", "BackendError", "Completion", "FatalError", "LoopThread", "PermanentError", "TransientError"]


class LoopThread:
    """A private event loop in a daemon thread, so sync callers can drive async SDK clients."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="valuescope-llm", daemon=True)
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result()

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=5)
        if not self._thread.is_alive():
            self.loop.close()


class Backend(ABC):
    """One provider API. ``name`` goes into cache keys and judgments.extractor."""

    name: str = "base"

    def __init__(self, config: ExtractConfig, model: str | None = None) -> None:
        self.config = config
        self.model = model or config.model
        if not self.model:
            raise ValueError(f"the {self.name} backend needs a model name (--model NAME)")
        self._runner: LoopThread | None = None
        self._owns_runner = True
        self._client: Any = None

    # -- to implement --------------------------------------------------------------
    @abstractmethod
    async def acomplete(
        self, system: str, messages: list[dict[str, str]], schema: dict[str, Any], name: str, max_tokens: int
    ) -> Completion:
        """One request; raises a BackendError subclass on failure."""

    @abstractmethod
    def request_body(
        self, system: str, messages: list[dict[str, str]], schema: dict[str, Any], name: str, max_tokens: int
    ) -> dict[str, Any]:
        """The provider request body (also what a batch API line carries)."""

    @abstractmethod
    def parse_body(self, body: dict[str, Any]) -> Completion:
        """A provider response body (JSON) -> Completion; used by the batch APIs."""

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None

    # -- shared ----------------------------------------------------------------------
    @property
    def runner(self) -> LoopThread:
        if self._runner is None:
            self._runner = LoopThread()
        return self._runner

    def share_loop(self, other: Backend) -> None:
        """Run on ``other``'s event loop, so one coroutine can use both backends' clients."""
        self._runner, self._owns_runner = other.runner, False

    def complete_json(self, system: str, user: str, schema: dict[str, Any], name: str = "answer") -> dict[str, Any]:
        """Blocking helper for other stages (e.g. cluster naming): retries, one repair, returns the object.

        Raises ``ValueError`` when the model never produces a JSON object valid for ``schema``'s
        required keys.
        """
        from valuescope.extract.llm.client import LLMClient

        client = LLMClient(self, concurrency=1)
        outcome = self.runner.run(client.ask(system, user, schema, name, validate=_check_required(schema)))
        if outcome.error is not None:
            raise ValueError(f"{self.name}:{self.model}: {outcome.error}")
        return outcome.data  # type: ignore[return-value]

    def close(self) -> None:
        """Close the client; a shared loop is left to its owner (close sharers first)."""
        if self._runner is not None:
            self._runner.run(self.aclose())
            if self._owns_runner:
                self._runner.close()
            self._runner = None


def _check_required(schema: dict[str, Any]):
    required = list(schema.get("required", []))

    def validate(data: Any) -> dict[str, Any]:
        from valuescope.extract.llm.schema import AnswerError

        if not isinstance(data, dict):
            raise AnswerError("answer is not a JSON object")
        missing = [k for k in required if k not in data]
        if missing:
            raise AnswerError(f"answer lacks {', '.join(missing)}")
        return data

    return validate


def retry_after_seconds(headers: Any) -> float | None:
    """Seconds a server asked us to wait (`retry-after-ms` or `retry-after`), if any."""
    if headers is None:
        return None
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        value = headers.get(name)
        if value:
            try:
                return max(0.0, float(value) * scale)
            except ValueError:
                continue
    return None


def classify_sdk_error(exc: Exception, sdk: ModuleType) -> Exception:
    """Map an `openai` or `anthropic` SDK error to our retry classes (both SDKs share one hierarchy)."""
    if isinstance(exc, sdk.APITimeoutError):
        return TransientError("timeout")
    if isinstance(exc, sdk.APIConnectionError):
        return TransientError(f"connection error: {exc.__cause__ or exc}")
    if isinstance(exc, sdk.APIStatusError):
        code = exc.status_code
        detail = f"HTTP {code}: {str(exc)[:300]}"
        if code == 429 or code in (408, 409) or code >= 500:
            return TransientError(detail, retry_after_seconds(exc.response.headers))
        if code in (401, 403, 404):
            return FatalError(detail)
        return PermanentError(detail)
    return TransientError(f"malformed response: {str(exc)[:300]}")
