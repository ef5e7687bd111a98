"""Langfuse exports: observations, or traces with their observations (JSON array or JSONL).

Field names of the Langfuse public API (``langfuse.api``: ``ObservationV2`` and
traces): an observation is ``{"id", "traceId", "type": "GENERATION" | "SPAN" |
"EVENT", "name", "startTime", "model", "input", "output", "metadata",
"userId", "sessionId", "level", "statusMessage"}``; a trace is ``{"id",
"timestamp", "name", "input", "output", "userId", "sessionId", "tags",
"observations": [...]}``. Each ``GENERATION`` (a model call) is one
conversation: its ``input`` messages then its ``output`` (shapes in
:mod:`.traced`). A trace yields one conversation per generation
(``TRACE_ID:OBSERVATION_ID``), or, with none, its own input and output.
Other observation types are quarantined with their type named.
"""

from __future__ import annotations

from typing import Any

from valuescope.ingest.draft import Draft, RecordError, as_text, as_timestamp
from valuescope.ingest.traced import message_list, output_turns

NAME = "langfuse"


def sniff(record: dict[str, Any]) -> bool:
    observation = "traceId" in record and isinstance(record.get("type"), str) and "startTime" in record
    trace = (
        isinstance(record.get("observations"), list) and "id" in record and ("timestamp" in record or "input" in record)
    )
    return observation or trace


def _generation(obs: dict[str, Any], id_: str | None, user: Any = None, session: Any = None) -> Draft:
    messages = message_list(obs.get("input"), "input") + output_turns(obs.get("output"), "output")
    meta = {k: obs[k] for k in ("name", "traceId", "level", "statusMessage") if obs.get(k)}
    if session or obs.get("sessionId"):
        meta["sessionId"] = session or obs.get("sessionId")
    return Draft(
        messages=messages,
        id=id_,
        model=as_text(obs.get("model")),
        timestamp=as_timestamp(obs.get("startTime") or obs.get("timestamp")),
        user_id=as_text(obs.get("userId") or user),
        meta=meta,
    )


def parse(record: Any) -> list[Draft]:
    if not isinstance(record, dict):
        raise RecordError(f"expected a JSON object, got {type(record).__name__}")
    if "observations" not in record:
        if record.get("type") != "GENERATION":
            raise RecordError(
                f"Langfuse {record.get('type')!r} observation: only GENERATION observations are model conversations"
            )
        return [_generation(record, as_text(record.get("id")))]
    if not isinstance(record["observations"], list):
        raise RecordError("'observations' must be a list")
    trace_id = as_text(record.get("id"))
    gens = [o for o in record["observations"] if isinstance(o, dict) and o.get("type") == "GENERATION"]
    if not gens:
        return [_generation(record, trace_id)]
    return [_generation(o, f"{trace_id}:{o.get('id')}", record.get("userId"), record.get("sessionId")) for o in gens]
