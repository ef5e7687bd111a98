"""What an LLM backend returns (:class:`Completion`) and raises (the error classes).

Kept apart from ``backends/base.py`` so the client that retries on these errors does not import the backend
package that in turn uses the client (``Backend.complete_json``): no import cycle.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from valuescope.errors import ValuescopeError


@dataclass
class Completion:
    text: str  # the JSON answer as text (tool-call arguments are serialised)
    usage: dict[str, int] = field(default_factory=dict)  # input_tokens, output_tokens
    finish_reason: str | None = None  # "length"/"max_tokens" => the answer was cut off


class BackendError(ValuescopeError):
    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


class TransientError(BackendError):
    """Worth retrying: 429, 5xx, timeouts, dropped connections, garbled bodies."""


class PermanentError(BackendError):
    """This request will not succeed as sent (e.g. 400 on this conversation)."""


class FatalError(BackendError):
    """No request will succeed (authentication, unknown model): stop the run with this message."""
