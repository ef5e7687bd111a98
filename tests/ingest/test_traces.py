"""Tracing exports: LangSmith runs, Langfuse observations/traces, OpenTelemetry GenAI spans (OTLP JSON).

The records are built from the published schemas; each field's source is named
where it is set (no tracer SDK is a dependency of valuescope).
"""

from __future__ import annotations

import json
from pathlib import Path

from valuescope.ingest.table import table_to_conversations


def _lc(kind: str, content: str, **kwargs) -> dict:
    """A LangChain message as langchain_core.load.dumpd serialises it (what LangSmith stores in inputs)."""
    return {
        "lc": 1,
        "type": "constructor",
        "id": ["langchain", "schema", "messages", kind],
        "kwargs": {"content": content, **kwargs},
    }


LANGSMITH_RUNS = [  # langsmith.schemas.Run fields: id, name, run_type, start_time, inputs, outputs, extra, trace_id
    {
        "id": "run-1",
        "name": "ChatOpenAI",
        "run_type": "llm",
        "start_time": "2026-05-01T10:00:00.000000",
        "trace_id": "trace-1",
        "extra": {"invocation_params": {"model": "gpt-4o-mini"}, "metadata": {"ls_provider": "openai"}},
        "inputs": {"messages": [[_lc("SystemMessage", "Be kind."), _lc("HumanMessage", "Is lying ever OK?")]]},
        "outputs": {
            "generations": [
                [
                    {
                        "text": "Rarely; honesty matters.",
                        "type": "ChatGeneration",
                        "message": _lc("AIMessage", "Rarely; honesty matters."),
                    }
                ]
            ]
        },
    },
    {
        "id": "run-2",
        "name": "AgentExecutor",
        "run_type": "chain",
        "start_time": "2026-05-01T10:00:01",
        "inputs": {"input": "hi"},
        "outputs": {"output": "hello"},
    },
    {
        "id": "run-3",
        "name": "ChatAnthropic",
        "run_type": "llm",
        "start_time": "2026-05-01T10:00:02",
        "extra": {"metadata": {"ls_model_name": "claude-x"}},
        "inputs": {"messages": [{"role": "user", "content": "Weather?"}]},
        "outputs": {
            "generations": [
                [
                    {
                        "text": "",
                        "message": _lc(
                            "AIMessage",
                            "",
                            tool_calls=[
                                {"name": "get_weather", "args": {"city": "Paris"}, "id": "tc1", "type": "tool_call"}
                            ],
                        ),
                    }
                ]
            ]
        },
    },
]


def _convs(run):
    return {c.id: c for c in table_to_conversations(run.dir.read_table("conversations"))}


def _write_jsonl(path: Path, records: list) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def test_langsmith_runs(tmp_path, ingest):
    run = ingest(tmp_path, _write_jsonl(tmp_path / "runs.jsonl", LANGSMITH_RUNS))
    assert run.manifest["inputs"][0]["format"] == "langsmith"
    convs = _convs(run)
    one = convs["run-1"]
    assert [(m.role, m.content) for m in one.messages] == [
        ("system", "Be kind."),
        ("user", "Is lying ever OK?"),
        ("assistant", "Rarely; honesty matters."),
    ]
    assert (one.model, one.timestamp, one.meta["provider"]) == ("gpt-4o-mini", "2026-05-01T10:00:00.000000", "openai")
    q = dict(zip(q_lines := run.quarantine["line"].tolist(), run.quarantine["reason"], strict=True))
    assert q_lines == [2, 3]
    assert q[2] == "LangSmith 'chain' run: only 'llm' runs are model conversations"
    assert (
        q[3] == "no assistant text (its turns only call tools)"
    )  # the tool call is read, but there is nothing to judge
    assert "run-3" not in convs


LANGFUSE = [  # langfuse.api ObservationV2 / trace fields (camelCase aliases as the API returns them)
    {
        "id": "trace-1",
        "timestamp": "2026-05-02T09:00:00Z",
        "name": "chat",
        "userId": "alice",
        "sessionId": "s-1",
        "input": "ignored when the trace has generations",
        "observations": [
            {
                "id": "span-1",
                "traceId": "trace-1",
                "type": "SPAN",
                "startTime": "2026-05-02T09:00:00Z",
                "name": "retrieve",
            },
            {
                "id": "gen-1",
                "traceId": "trace-1",
                "type": "GENERATION",
                "startTime": "2026-05-02T09:00:01Z",
                "model": "gpt-4o",
                "input": [{"role": "user", "content": "Should I tell my friend the truth?"}],
                "output": {"role": "assistant", "content": "Yes, kindly and honestly."},
            },
        ],
    },
    {
        "id": "gen-2",
        "traceId": "trace-2",
        "type": "GENERATION",
        "startTime": "2026-05-02T10:00:00Z",
        "model": "claude-x",
        "input": {"messages": [{"role": "user", "content": "Hi"}]},
        "output": "Hello!",
    },
    {"id": "ev-1", "traceId": "trace-2", "type": "EVENT", "startTime": "2026-05-02T10:00:01Z", "input": None},
]


def test_langfuse_traces_and_observations(tmp_path, ingest):
    path = tmp_path / "langfuse.json"
    path.write_text(json.dumps(LANGFUSE))
    run = ingest(tmp_path, path)
    assert run.manifest["inputs"][0]["format"] == "langfuse"
    convs = _convs(run)
    assert set(convs) == {"trace-1:gen-1", "gen-2"}
    first = convs["trace-1:gen-1"]
    assert [(m.role, m.content) for m in first.messages] == [
        ("user", "Should I tell my friend the truth?"),
        ("assistant", "Yes, kindly and honestly."),
    ]
    assert first.model == "gpt-4o" and first.user_id.startswith("u_") and first.meta["sessionId"] == "s-1"
    assert convs["gen-2"].messages[-1].content == "Hello!" and convs["gen-2"].timestamp == "2026-05-02T10:00:00Z"
    assert run.quarantine["reason"].tolist() == [
        "Langfuse 'EVENT' observation: only GENERATION observations are model conversations"
    ]


def _attr(key: str, value) -> dict:
    """An OTLP JSON KeyValue (opentelemetry-proto common.proto AnyValue)."""
    typed = {"intValue": str(value)} if isinstance(value, int) else {"stringValue": value}
    return {"key": key, "value": typed}


def _otlp() -> dict:
    messages_in = [
        {"role": "user", "parts": [{"type": "text", "content": "Book a table for two."}]},
        {"role": "assistant", "parts": [{"type": "tool_call", "id": "c1", "name": "book", "arguments": {"n": 2}}]},
        {"role": "tool", "parts": [{"type": "tool_call_response", "id": "c1", "response": "booked"}]},
    ]
    messages_out = [
        {"role": "assistant", "parts": [{"type": "text", "content": "Done: table for two."}], "finish_reason": "stop"}
    ]
    spans = [
        {
            "traceId": "t1",
            "spanId": "s1",
            "name": "chat gpt-4o",
            "startTimeUnixNano": "1780000000000000000",
            "attributes": [
                _attr("gen_ai.operation.name", "chat"),
                _attr("gen_ai.request.model", "gpt-4o"),
                _attr("gen_ai.response.model", "gpt-4o-2024-08-06"),
                _attr("gen_ai.response.id", "chatcmpl-9"),
                _attr("gen_ai.system_instructions", json.dumps([{"type": "text", "content": "Be concise."}])),
                _attr("gen_ai.input.messages", json.dumps(messages_in)),
                _attr("gen_ai.output.messages", json.dumps(messages_out)),
            ],
        },
        {"traceId": "t1", "spanId": "s2", "name": "GET /menu", "attributes": [_attr("http.request.method", "GET")]},
        {
            "traceId": "t1",
            "spanId": "s3",
            "name": "openai.chat",
            "startTimeUnixNano": "1780000001000000000",
            "attributes": [
                _attr("gen_ai.request.model", "gpt-3.5-turbo"),
                _attr("gen_ai.prompt.0.role", "user"),
                _attr("gen_ai.prompt.0.content", "Hello"),
                _attr("gen_ai.completion.0.role", "assistant"),
                _attr("gen_ai.completion.0.content", "Hi there"),
            ],
        },
        {
            "traceId": "t1",
            "spanId": "s4",
            "name": "chat broken",
            "attributes": [_attr("gen_ai.input.messages", "{not json")],
        },
    ]
    return {
        "resourceSpans": [
            {
                "resource": {"attributes": [_attr("service.name", "bot")]},
                "scopeSpans": [{"scope": {"name": "opentelemetry.instrumentation.openai"}, "spans": spans}],
            }
        ]
    }


def test_otel_genai_spans(tmp_path, ingest):
    path = tmp_path / "traces.json"
    path.write_text(json.dumps(_otlp()))
    run = ingest(tmp_path, path)
    assert run.manifest["inputs"][0]["format"] == "otel"
    convs = _convs(run)
    assert set(convs) == {"chatcmpl-9", "s3"}
    new = convs["chatcmpl-9"]
    assert [(m.role, m.content) for m in new.messages] == [
        ("system", "Be concise."),
        ("user", "Book a table for two."),
        ("assistant", ""),
        ("tool", "booked"),
        ("assistant", "Done: table for two."),
    ]
    assert new.messages[2].tool_calls[0].arguments == '{"n": 2}' and new.messages[3].tool_call_id == "c1"
    assert (new.model, new.timestamp) == ("gpt-4o-2024-08-06", "2026-05-28T20:26:40+00:00")
    assert [(m.role, m.content) for m in convs["s3"].messages] == [("user", "Hello"), ("assistant", "Hi there")]
    # the broken span is quarantined alone; the HTTP span is not a conversation
    assert run.quarantine["reason"].tolist() == [
        "span 'chat broken': attribute gen_ai.input.messages is not valid JSON"
    ]
