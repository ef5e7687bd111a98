"""OpenTelemetry GenAI spans, exported as OTLP JSON (one ``{"resourceSpans": [...]}`` per file or line).

OTLP JSON (opentelemetry-proto ``ExportTraceServiceRequest``): ``resourceSpans[].scopeSpans[].spans[]``,
each span ``{"traceId", "spanId", "name", "startTimeUnixNano", "attributes": [{"key",
"value": {"stringValue" | "intValue" | "arrayValue" | ...}}]}``. Attribute names are the
GenAI semantic conventions' (``opentelemetry.semconv._incubating.attributes.gen_ai_attributes``):

* ``gen_ai.input.messages`` / ``gen_ai.output.messages``: JSON text of
  ``[{"role", "parts": [{"type": "text", "content"} | {"type": "tool_call", "id", "name", "arguments"}
  | {"type": "tool_call_response", "id", "response"}], "finish_reason"}]``;
  ``gen_ai.system_instructions``: ``[{"type": "text", "content"}]``;
* the older flattened form ``gen_ai.prompt.N.role`` / ``.content`` and
  ``gen_ai.completion.N.role`` / ``.content`` (OpenLLMetry);
* ``gen_ai.request.model``, ``gen_ai.response.model``, ``gen_ai.response.id``,
  ``gen_ai.conversation.id``, ``gen_ai.provider.name`` (or ``gen_ai.system``).

Each span holding messages is one conversation (id: ``gen_ai.response.id``, else
the span id); spans without GenAI messages (HTTP, DB, agent steps) are not conversations
and are counted in no table: they are not records, only parts of one.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from valuescope.ingest.draft import Draft, RecordError, Turn, as_text, tool_call

NAME = "otel"


def sniff(record: dict[str, Any]) -> bool:
    return isinstance(record.get("resourceSpans"), list)


def _value(v: Any) -> Any:
    """An OTLP AnyValue as a Python value."""
    if not isinstance(v, dict):
        return v
    for key in ("stringValue", "boolValue", "doubleValue"):
        if key in v:
            return v[key]
    if "intValue" in v:
        return int(v["intValue"])
    if "arrayValue" in v:
        return [_value(x) for x in v["arrayValue"].get("values", [])]
    if "kvlistValue" in v:
        return {kv["key"]: _value(kv.get("value")) for kv in v["kvlistValue"].get("values", [])}
    return None


def _json_list(value: Any, key: str) -> list[Any]:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise RecordError(f"attribute {key} is not valid JSON") from None
    if not isinstance(value, list):
        raise RecordError(f"attribute {key} must be a list of messages")
    return value


def _parts_turn(m: Any, where: str) -> Turn:
    if not isinstance(m, dict) or "role" not in m:
        raise RecordError(f"{where}: message without a role")
    texts, calls, results = [], [], []
    for p in m.get("parts") or []:
        kind = p.get("type") if isinstance(p, dict) else None
        if kind == "text":
            texts.append(str(p.get("content", "")))
        elif kind == "tool_call":
            calls.append(tool_call(p.get("name"), p.get("arguments"), p.get("id")))
        elif kind == "tool_call_response":
            response = p.get("response")
            results.append(
                (p.get("id"), response if isinstance(response, str) else json.dumps(response, ensure_ascii=False))
            )
    if m["role"] == "tool" or results:
        call_id, text = results[0] if results else (None, "\n".join(texts))
        return Turn("tool", text, tool_call_id=as_text(call_id))
    return Turn(m["role"], "\n".join(texts) if texts else None, calls)


def _flattened(attrs: dict[str, Any], prefix: str) -> list[tuple[str, Any]]:
    out, i = [], 0
    while f"{prefix}.{i}.role" in attrs or f"{prefix}.{i}.content" in attrs:
        out.append(
            (
                attrs.get(f"{prefix}.{i}.role", "assistant" if prefix.endswith("completion") else "user"),
                attrs.get(f"{prefix}.{i}.content"),
            )
        )
        i += 1
    return out


def _span(span: dict[str, Any]) -> Draft | None:
    attrs = {
        a["key"]: _value(a.get("value")) for a in span.get("attributes") or [] if isinstance(a, dict) and "key" in a
    }
    turns: list[Any] = []
    if "gen_ai.input.messages" in attrs or "gen_ai.output.messages" in attrs:
        system = attrs.get("gen_ai.system_instructions")
        if system:
            parts = _json_list(system, "gen_ai.system_instructions")
            turns.append(("system", "\n".join(str(p.get("content", "")) for p in parts if isinstance(p, dict))))
        for key in ("gen_ai.input.messages", "gen_ai.output.messages"):
            turns += [_parts_turn(m, key) for m in _json_list(attrs.get(key, "[]"), key)]
    else:
        turns = _flattened(attrs, "gen_ai.prompt") + _flattened(attrs, "gen_ai.completion")
    if not turns:
        return None
    start = span.get("startTimeUnixNano")
    stamp = datetime.fromtimestamp(int(start) / 1e9, tz=UTC).isoformat() if start else None
    meta = {"span": span.get("name"), "traceId": span.get("traceId")}
    for key in ("gen_ai.conversation.id", "gen_ai.provider.name", "gen_ai.system", "gen_ai.operation.name"):
        if attrs.get(key) is not None:
            meta[key] = attrs[key]
    return Draft(
        messages=turns,
        id=as_text(attrs.get("gen_ai.response.id") or span.get("spanId")),
        model=as_text(attrs.get("gen_ai.response.model") or attrs.get("gen_ai.request.model")),
        timestamp=stamp,
        meta=meta,
    )


def parse(record: Any) -> list[Draft]:
    if not isinstance(record, dict) or not isinstance(record.get("resourceSpans"), list):
        raise RecordError("expected an OTLP JSON object with 'resourceSpans'")
    drafts = []
    for rs in record["resourceSpans"]:
        for ss in (rs or {}).get("scopeSpans") or []:
            for span in (ss or {}).get("spans") or []:
                try:
                    draft = _span(span) if isinstance(span, dict) else None
                except RecordError as exc:  # this span alone is quarantined; the record's other spans are read
                    draft = Draft(
                        messages=[], id=as_text(span.get("spanId")), error=f"span {span.get('name')!r}: {exc}"
                    )
                if draft is not None:
                    drafts.append(draft)
    return drafts
