"""API logs with tool use: OpenAI chat completions and Batch files, Anthropic Messages logs.

Each fixture record is checked against the provider SDK's own types
(``openai.types.chat.ChatCompletion``, ``anthropic.types.Message``, and the
request param TypedDicts' field names), so the field names are the APIs', not ours.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from valuescope.config import RunConfig
from valuescope.extract.llm.window import render_transcript
from valuescope.ingest.table import table_to_conversations
from valuescope.privacy.base import get_scrubber

openai_types = pytest.importorskip("openai.types.chat")
anthropic_types = pytest.importorskip("anthropic.types")

WEATHER_CALL = {
    "id": "call_abc",
    "type": "function",
    "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
}
OPENAI_REQUEST = [
    {"role": "system", "content": "You are a helpful assistant."},
    {"role": "user", "content": "Weather in Paris? Reply to me at jane.doe@example.com"},
    {"role": "assistant", "content": None, "tool_calls": [WEATHER_CALL]},  # a turn that only calls a tool
    {"role": "tool", "tool_call_id": "call_abc", "content": '{"temp_c": 21}'},
]
COMPLETION = {  # openai.types.chat.ChatCompletion
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "created": 1733000000,
    "model": "gpt-4o-2024-08-06",
    "choices": [
        {
            "index": 0,
            "finish_reason": "stop",
            "logprobs": None,
            "message": {"role": "assistant", "content": "It is 21 °C and sunny in Paris.", "refusal": None},
        }
    ],
}
ANTHROPIC_RESPONSE = {  # anthropic.types.Message
    "id": "msg_01",
    "type": "message",
    "role": "assistant",
    "model": "claude-sonnet-4-20250514",
    "content": [{"type": "text", "text": "It is 21 °C in Paris."}],
    "stop_reason": "end_turn",
    "stop_sequence": None,
    "usage": {"input_tokens": 10, "output_tokens": 5},
}
ANTHROPIC_MESSAGES = [  # anthropic.types.MessageParam, with ToolUseBlockParam / ToolResultBlockParam
    {"role": "user", "content": "Weather in Paris?"},
    {
        "role": "assistant",
        "content": [
            {"type": "thinking", "thinking": "The user wants weather.", "signature": "sig"},
            {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}},
        ],
    },
    {
        "role": "user",
        "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": [{"type": "text", "text": "21 C"}]}],
    },
]


def test_fixtures_match_the_sdk_types():
    openai_types.ChatCompletion.model_validate(COMPLETION)
    anthropic_types.Message.model_validate(ANTHROPIC_RESPONSE)
    for key in ("tool_calls", "content", "role"):
        assert key in openai_types.ChatCompletionAssistantMessageParam.__annotations__
    assert "tool_call_id" in openai_types.ChatCompletionToolMessageParam.__annotations__
    assert {"tool_use_id", "content"} <= set(anthropic_types.ToolResultBlockParam.__annotations__)
    assert {"id", "name", "input"} <= set(anthropic_types.ToolUseBlockParam.__annotations__)


def _write(path: Path, records: list) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))
    return path


def _convs(run):
    return table_to_conversations(run.dir.read_table("conversations"))


def test_openai_tool_turns_and_completion_log(tmp_path, ingest):
    path = _write(
        tmp_path / "chat.jsonl",
        [
            {"messages": OPENAI_REQUEST, **COMPLETION},  # flat: the request's messages + the response's fields
            {
                "request": {"model": "gpt-4o", "messages": OPENAI_REQUEST[:2]},
                "response": {**COMPLETION, "id": "chatcmpl-2"},
            },
            {
                "request": {"messages": OPENAI_REQUEST[:2]},
                "response": {**COMPLETION, "id": "chatcmpl-3", "choices": []},
            },
        ],
    )
    run = ingest(tmp_path, path)
    assert run.manifest["inputs"][0]["format"] == "openai"
    flat, nested = _convs(run)
    assert [m.role for m in flat.messages] == ["system", "user", "assistant", "tool", "assistant"]
    call = flat.messages[2]
    assert call.content == "" and call.tool_calls[0].model_dump() == {
        "name": "get_weather",
        "arguments": '{"city": "Paris"}',
        "id": "call_abc",
    }
    assert (
        flat.messages[3].tool_call_id == "call_abc" and flat.messages[-1].content == "It is 21 °C and sunny in Paris."
    )
    assert (flat.id, flat.model, flat.timestamp) == ("chatcmpl-1", "gpt-4o-2024-08-06", "2024-11-30T20:53:20+00:00")
    assert flat.meta["finish_reason"] == "stop"
    assert (nested.id, nested.model) == ("chatcmpl-2", "gpt-4o")
    q = run.quarantine
    assert q["line"].tolist() == [3] and q["reason"].tolist() == ["'response' has no 'choices'"]


def test_tool_arguments_are_scrubbed_and_shown_compactly(tmp_path, ingest):
    leaky = {**WEATHER_CALL, "function": {"name": "send_mail", "arguments": '{"to": "jane.doe@example.com"}'}}
    msgs = [
        *OPENAI_REQUEST[:2],
        {"role": "assistant", "content": None, "tool_calls": [leaky]},
        {"role": "tool", "tool_call_id": "call_abc", "content": "sent"},
    ]
    run = ingest(tmp_path, _write(tmp_path / "chat.jsonl", [{"messages": msgs, **COMPLETION}]), scrub="regex")
    conv = _convs(run)[0]
    assert "jane.doe@example.com" not in conv.messages[2].tool_calls[0].arguments
    assert "jane.doe@example.com" not in conv.messages[1].content
    text, _ = render_transcript(conv, 10_000)
    assert '[tool call] send_mail({"to": ' in text and "[tool result: " not in text  # OpenAI tool turns carry no name
    assert "[tool]\nsent" in text


def test_plain_turns_hash_as_before():
    """Conversations without tools keep their content hash (every per-conversation cache is keyed by it)."""
    from valuescope.records import Conversation, Message, stable_hash

    conv = Conversation(id="a", messages=[Message(role="user", content="hi"), Message(role="assistant", content="yo")])
    assert conv.content_hash() == stable_hash([["user", "hi"], ["assistant", "yo"]])


def test_openai_batch_input_and_output_joined(tmp_path, ingest):
    inputs = _write(
        tmp_path / "batch_input.jsonl",
        [
            {
                "custom_id": f"req-{i}",
                "method": "POST",
                "url": "/v1/chat/completions",
                "body": {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": f"Question {i}?"}]},
            }
            for i in range(3)
        ],
    )
    outputs = _write(
        tmp_path / "batch_output.jsonl",
        [
            {
                "id": "batch_req_0",
                "custom_id": "req-0",
                "error": None,
                "response": {"status_code": 200, "request_id": "r0", "body": {**COMPLETION, "id": "chatcmpl-b0"}},
            },
            {
                "id": "batch_req_1",
                "custom_id": "req-1",
                "response": None,
                "error": {"code": "rate_limit_exceeded", "message": "Rate limit reached"},
            },
            {
                "id": "batch_req_9",
                "custom_id": "req-9",
                "error": None,  # its request is not in the input file
                "response": {"status_code": 200, "request_id": "r9", "body": {**COMPLETION, "id": "chatcmpl-b9"}},
            },
        ],
    )
    run = ingest(tmp_path, inputs, outputs)
    convs = {c.id: c for c in _convs(run)}
    assert set(convs) == {"req-0", "req-9"}
    assert [(m.role, m.content) for m in convs["req-0"].messages] == [
        ("user", "Question 0?"),
        ("assistant", "It is 21 °C and sunny in Paris."),
    ]
    assert convs["req-0"].model == "gpt-4o-mini" and convs["req-9"].meta["batch_request_missing"] is True
    by_file = {Path(f["path"]).name: f for f in run.manifest["inputs"]}
    assert (by_file["batch_input.jsonl"]["joined"], by_file["batch_input.jsonl"]["quarantined"]) == (2, 1)
    assert (by_file["batch_output.jsonl"]["ok"], by_file["batch_output.jsonl"]["quarantined"]) == (2, 1)
    reasons = dict(zip(run.quarantine["record_id"].fillna(""), run.quarantine["reason"], strict=True))
    assert reasons["req-2"] == "no assistant turn"  # a request without its answer: nothing to judge
    assert "batch request failed: Rate limit reached" in run.quarantine["reason"].tolist()


def test_anthropic_tool_results_are_tool_turns(tmp_path, ingest):
    path = _write(
        tmp_path / "anthropic.jsonl",
        [
            {
                "model": "claude-sonnet-4-20250514",
                "system": "Be brief.",
                "messages": ANTHROPIC_MESSAGES,
                "response": ANTHROPIC_RESPONSE,
            },
            {
                "request": {"model": "claude-x", "messages": ANTHROPIC_MESSAGES[:1]},
                "response": {**ANTHROPIC_RESPONSE, "id": "msg_02"},
            },
            {
                "request": {"messages": ANTHROPIC_MESSAGES[:1]},
                "response": {
                    **ANTHROPIC_RESPONSE,
                    "id": "msg_03",
                    "content": [{"type": "thinking", "thinking": "hmm", "signature": "s"}],
                },
            },
        ],
    )
    run = ingest(tmp_path, path)
    assert run.manifest["inputs"][0]["format"] == "anthropic"
    first, second = _convs(run)
    assert [(m.role, m.content) for m in first.messages] == [
        ("system", "Be brief."),
        ("user", "Weather in Paris?"),
        ("assistant", ""),
        ("tool", "21 C"),
        ("assistant", "It is 21 °C in Paris."),
    ]
    assert (
        first.messages[2].tool_calls[0].arguments == '{"city": "Paris"}' and first.messages[3].tool_call_id == "toolu_1"
    )
    assert first.meta["thinking_blocks"] == 1 and first.id == "msg_01"
    assert (second.id, second.model) == ("msg_02", "claude-x")
    q = run.quarantine
    assert q["line"].tolist() == [3] and q["reason"].tolist() == ["empty assistant turn (message 2)"]


def test_sharegpt_speaker_names_the_model(tmp_path, ingest):
    path = _write(
        tmp_path / "sharegpt.jsonl",
        [
            {
                "id": "s1",
                "conversations": [{"from": "human", "value": "hi"}, {"from": "bing", "value": "Hello, this is Bing."}],
            },
            {"id": "s2", "conversations": [{"from": "human", "value": "hi"}, {"from": "gpt", "value": "Hello."}]},
            {
                "id": "s3",
                "conversations": [
                    {"from": "human", "value": "weather?"},
                    {"from": "function_call", "value": '{"name": "get_weather", "arguments": {"city": "Paris"}}'},
                    {"from": "observation", "value": "21 C"},
                    {"from": "gpt", "value": "21 C."},
                ],
            },
        ],
    )
    run = ingest(tmp_path, path)
    convs = {c.id: c for c in _convs(run)}
    assert (convs["s1"].model, convs["s2"].model) == ("bing", None)
    assert [m.role for m in convs["s3"].messages] == ["user", "assistant", "tool", "assistant"]
    assert convs["s3"].messages[1].tool_calls[0].name == "get_weather"


def test_scrubber_keeps_tool_fields():
    from valuescope.records import Conversation, Message, ToolCall

    conv = Conversation(
        id="a",
        messages=[
            Message(role="user", content="mail bob@example.com"),
            Message(
                role="assistant",
                content="",
                tool_calls=[ToolCall(name="mail", arguments='{"to": "bob@example.com"}', id="c1")],
            ),
            Message(role="tool", content="ok", name="mail", tool_call_id="c1"),
            Message(role="assistant", content="Sent."),
        ],
        context="ctx",
        meta={"note": "bob@example.com"},
    )
    out = get_scrubber(RunConfig().privacy).scrub_conversation(conv)
    assert out.messages[1].tool_calls[0].id == "c1" and "bob@example.com" not in out.messages[1].tool_calls[0].arguments
    assert (out.messages[2].name, out.messages[2].tool_call_id, out.context) == ("mail", "c1", "ctx")
    assert "bob@example.com" not in out.meta["note"]


def test_batch_rerun_with_the_outputs_joins(tmp_path, ingest):
    """Resuming a run after adding the output file must not reuse the input's request-only chunks."""
    inputs = _write(
        tmp_path / "in.jsonl",
        [
            {
                "custom_id": "r1",
                "method": "POST",
                "url": "/v1/chat/completions",
                "body": {"messages": [{"role": "user", "content": "Q?"}]},
            }
        ],
    )
    outputs = _write(
        tmp_path / "out.jsonl",
        [{"id": "b1", "custom_id": "r1", "error": None, "response": {"status_code": 200, "body": COMPLETION}}],
    )
    with pytest.raises(Exception, match="no conversation read"):
        ingest(tmp_path, inputs)  # the request alone: nothing to judge
    run = ingest(tmp_path, inputs, outputs)  # the same run directory, now with the answers
    assert [f["joined"] for f in run.manifest["inputs"]] == [1, 0]
    assert [(m.role, m.content) for m in _convs(run)[0].messages] == [
        ("user", "Q?"),
        ("assistant", COMPLETION["choices"][0]["message"]["content"]),
    ]
