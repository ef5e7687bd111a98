"""Reliable requests on top of any backend: bounded concurrency, retries, rate limits, one repair.

* At most ``concurrency`` requests are in flight (an asyncio semaphore).
* Transient failures (429, 5xx, timeouts, dropped or garbled responses) are
  retried up to ``max_retries`` times with exponential backoff and jitter. A
  ``retry-after`` header pauses *every* worker until it has passed, so a rate
  limit is honoured rather than hammered.
* An answer that is not valid JSON for the schema gets exactly one repair
  request (the model sees its answer and the reason); if that fails too the
  outcome carries the reason and both raw answers, for the quarantine.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from valuescope.extract.llm.outcomes import Completion, FatalError, PermanentError, TransientError
from valuescope.extract.llm.prompts import REPAIR
from valuescope.extract.llm.schema import AnswerError, parse_json_text

if TYPE_CHECKING:
    from valuescope.extract.llm.backends.base import Backend

BACKOFF_BASE_S = 0.5
BACKOFF_CAP_S = 30.0


@dataclass
class Outcome:
    data: Any = None
    error: str | None = None
    raw: str | None = None
    usage: dict[str, int] = field(default_factory=dict)
    invalid: bool = False  # the model answered but never validly (worth caching, unlike a network failure)


def backoff_delay(attempt: int, base: float | None = None, cap: float | None = None) -> float:
    """Exponential backoff with 'equal jitter': half fixed, half random."""
    ceiling = min(
        cap if cap is not None else BACKOFF_CAP_S, (base if base is not None else BACKOFF_BASE_S) * 2**attempt
    )
    return ceiling / 2 + random.uniform(0, ceiling / 2)


def _add(usage: dict[str, int], extra: dict[str, int]) -> None:
    for k, v in extra.items():
        usage[k] = usage.get(k, 0) + int(v)


class LLMClient:
    def __init__(self, backend: Backend, concurrency: int | None = None, max_retries: int | None = None) -> None:
        self.backend = backend
        self.concurrency = max(1, concurrency or backend.config.concurrency)
        self.max_retries = backend.config.max_retries if max_retries is None else max_retries
        self.timeout_s = backend.config.timeout_s
        self._sem: asyncio.Semaphore | None = None
        self._pause_until = 0.0

    @property
    def sem(self) -> asyncio.Semaphore:
        if self._sem is None:
            self._sem = asyncio.Semaphore(self.concurrency)
        return self._sem

    async def call(
        self, system: str, messages: list[dict[str, str]], schema: dict[str, Any], name: str, usage: dict[str, int]
    ) -> Completion:
        """One logical request with retries; raises TransientError after the last attempt."""
        last: TransientError | None = None
        for attempt in range(self.max_retries + 1):
            wait = self._pause_until - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            async with self.sem:
                _add(usage, {"requests": 1})
                try:
                    # the SDK enforces timeout_s per read; this guards a server that trickles bytes forever
                    # (asyncio.timeout, not wait_for: no extra task per request)
                    async with asyncio.timeout(self.timeout_s * 2 + 1):
                        return await self.backend.acomplete(
                            system, messages, schema, name, self.backend.config.max_output_tokens
                        )
                except TimeoutError:
                    last = TransientError("timeout")
                except TransientError as exc:
                    last = exc
            if attempt == self.max_retries:
                break
            _add(usage, {"retries": 1})
            delay = backoff_delay(attempt)
            if last.retry_after is not None:
                pause = last.retry_after + random.uniform(0, 0.1 * last.retry_after + 0.05)
                self._pause_until = max(self._pause_until, time.monotonic() + pause)
                delay = max(delay, pause)
            await asyncio.sleep(delay)
        assert last is not None
        raise TransientError(f"gave up after {self.max_retries + 1} attempts: {last.reason}")

    async def ask(
        self,
        system: str,
        user: str,
        schema: dict[str, Any],
        name: str,
        validate: Callable[[Any], Any],
    ) -> Outcome:
        """Ask, validate, repair once. Never raises except FatalError."""
        usage: dict[str, int] = {}
        try:
            first = await self.call(system, [{"role": "user", "content": user}], schema, name, usage)
        except (TransientError, PermanentError) as exc:
            return Outcome(error=f"request failed: {exc.reason}", usage=usage)
        return await self.resolve(system, user, schema, name, validate, first, usage)

    async def resolve(
        self,
        system: str,
        user: str,
        schema: dict[str, Any],
        name: str,
        validate: Callable[[Any], Any],
        first: Completion,
        usage: dict[str, int],
    ) -> Outcome:
        """Validate a first answer (live or from a batch); one repair request if it is unusable."""
        _add(usage, first.usage)
        try:
            return Outcome(data=validate(_parse(first)), usage=usage)
        except AnswerError as exc:
            reason = str(exc)
        _add(usage, {"repairs": 1})
        messages = [
            {"role": "user", "content": user},
            {"role": "assistant", "content": first.text[:4000] or "(empty)"},
            {"role": "user", "content": REPAIR.format(reason=reason)},
        ]
        try:
            second = await self.call(system, messages, schema, name, usage)
        except (TransientError, PermanentError) as exc:
            return Outcome(error=f"{reason}; repair request failed: {exc.reason}", raw=first.text, usage=usage)
        _add(usage, second.usage)
        try:
            return Outcome(data=validate(_parse(second)), usage=usage)
        except AnswerError as exc:
            raw = f"{first.text}\n--- repair attempt ---\n{second.text}"
            return Outcome(error=f"invalid answer after one repair attempt: {exc}", raw=raw, usage=usage, invalid=True)


def _parse(c: Completion) -> Any:
    try:
        return parse_json_text(c.text)
    except AnswerError as exc:
        if c.finish_reason in ("length", "max_tokens"):
            raise AnswerError(f"answer cut off at the output token limit ({exc})") from None
        raise


__all__ = ["FatalError", "LLMClient", "Outcome", "backoff_delay"]
