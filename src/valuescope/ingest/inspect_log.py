"""Inspect AI eval logs (``.eval`` archives and ``.json`` logs), read with inspect_ai's own reader.

The log format belongs to ``inspect_ai`` and changes with it, so it is not
re-parsed here: ``inspect_ai.log.read_eval_log_samples`` streams the samples
(install the optional extra: ``pip install 'valuescope[inspect]'``). Each
sample is one conversation: ``sample.messages`` (``ChatMessageSystem`` /
``User`` / ``Assistant`` / ``Tool``; the text of each is ``message.text``, which
leaves reasoning blocks out; ``ChatMessageAssistant.tool_calls`` are
``ToolCall(id, function, arguments)``; ``ChatMessageTool`` has ``function``
and ``tool_call_id``). Id: ``TASK:SAMPLE_ID:EPOCH``; model:
``sample.output.model`` or the log's ``eval.model``; timestamp: the log's
``eval.created``; ``meta`` keeps the task, epoch, scores and sample metadata.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from valuescope.ingest.draft import Draft, InputError, RecordError, Turn, as_text, tool_call

NAME = "inspect"
SUFFIX = ".eval"
JSON_HEAD = re.compile(r'\{\s*"version"\s*:\s*\d+\s*,\s*"status"\s*:')  # how inspect_ai writes a .json log


def sniff(record: dict[str, Any]) -> bool:
    """A JSON eval log: one object with the eval spec and its samples."""
    return isinstance(record.get("eval"), dict) and "status" in record and "version" in record


def _reader():
    try:
        from inspect_ai import log
    except ImportError:
        raise InputError("reading Inspect AI eval logs needs inspect_ai: pip install 'valuescope[inspect]'") from None
    return log


def header(path: Path) -> Any:
    return _reader().read_eval_log(str(path), header_only=True)


def _turn(message: Any) -> Turn:
    role = message.role
    calls = [tool_call(c.function, c.arguments, c.id) for c in (getattr(message, "tool_calls", None) or [])]
    if role == "tool":
        return Turn(
            "tool",
            message.text,
            name=getattr(message, "function", None),
            tool_call_id=getattr(message, "tool_call_id", None),
        )
    return Turn(role, message.text or None, calls)


def sample_draft(sample: Any, spec: Any) -> Draft:
    if sample.error is not None and not sample.messages:
        raise RecordError(f"sample failed: {str(getattr(sample.error, 'message', sample.error))[:200]}")
    output = getattr(sample, "output", None)
    scores = {k: getattr(v, "value", None) for k, v in (sample.scores or {}).items()}
    meta: dict[str, Any] = {"task": spec.task, "epoch": sample.epoch}
    if scores:
        meta["scores"] = scores
    if sample.metadata:
        meta["metadata"] = sample.metadata
    return Draft(
        messages=[_turn(m) for m in sample.messages],
        id=f"{spec.task}:{sample.id}:{sample.epoch}",
        model=as_text((output.model if output is not None and output.model else None) or spec.model),
        timestamp=as_text(spec.created),
        meta=meta,
    )


def iter_samples(path: Path) -> Iterator[tuple[int, list[Draft] | None, str | None]]:
    """(sample number, drafts, error) for every sample of the log, streamed."""
    log = _reader()
    spec = header(path).eval
    for i, sample in enumerate(log.read_eval_log_samples(str(path), all_samples_required=False), 1):
        try:
            yield i, [sample_draft(sample, spec)], None
        except RecordError as exc:
            yield i, None, str(exc)
