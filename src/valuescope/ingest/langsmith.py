"""LangSmith run exports: one run per record (JSON array or JSONL, e.g. ``client.list_runs`` dumped).

Field names of ``langsmith.schemas.Run``: ``{"id", "name", "run_type", "start_time",
"inputs", "outputs", "extra": {"invocation_params": {"model" | "model_name"},
"metadata": {"ls_model_name", "ls_provider"}}, "error", "trace_id",
"parent_run_id", "session_id", "tags"}``. Only ``llm`` runs are model calls: their
``inputs.messages`` (or ``inputs.prompts``) and ``outputs`` (``generations``,
a chat completion, or messages; shapes in :mod:`.traced`) make one
conversation. Other runs (chains, tools, retrievers) are quarantined with
their type named, so they are counted, not silently dropped.
"""

from __future__ import annotations

from typing import Any

from valuescope.ingest.draft import Draft, RecordError, as_text, as_timestamp
from valuescope.ingest.traced import message_list, output_turns

NAME = "langsmith"


def sniff(record: dict[str, Any]) -> bool:
    return isinstance(record.get("run_type"), str) and "inputs" in record


def parse(record: Any) -> list[Draft]:
    if not isinstance(record, dict):
        raise RecordError(f"expected a JSON object, got {type(record).__name__}")
    kind = record.get("run_type")
    if kind != "llm":
        raise RecordError(f"LangSmith {kind!r} run: only 'llm' runs are model conversations")
    if record.get("error") and not record.get("outputs"):
        raise RecordError(f"LangSmith run failed: {str(record['error']).splitlines()[0][:200]}")
    messages = message_list(record.get("inputs"), "inputs") + output_turns(record.get("outputs"), "outputs")
    extra = record.get("extra") if isinstance(record.get("extra"), dict) else {}
    params = extra.get("invocation_params") if isinstance(extra.get("invocation_params"), dict) else {}
    metadata = extra.get("metadata") if isinstance(extra.get("metadata"), dict) else {}
    model = params.get("model") or params.get("model_name") or metadata.get("ls_model_name")
    meta = {k: record[k] for k in ("name", "trace_id", "parent_run_id", "session_id", "tags") if record.get(k)}
    if metadata.get("ls_provider"):
        meta["provider"] = metadata["ls_provider"]
    return [
        Draft(
            messages=messages,
            id=as_text(record.get("id")),
            model=as_text(model),
            timestamp=as_timestamp(record.get("start_time")),
            meta=meta,
        )
    ]
