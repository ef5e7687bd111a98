"""Example snippets of agent conversations: an assistant turn that only calls a tool is not the answer shown."""

from __future__ import annotations

import json

from valuescope import api
from valuescope.config import RunConfig
from valuescope.engine.rundir import RunDir
from valuescope.report.examples import first_assistant_text, snippets_for_ids


def _agent_log(path):
    """An OpenAI chat-completions record: the assistant calls a tool first, then answers."""
    call = {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'}}
    rows = [
        {
            "id": "talks",
            "messages": [
                {"role": "user", "content": "Should I cycle to work in Oslo today?"},
                {"role": "assistant", "content": None, "tool_calls": [call]},
                {"role": "tool", "tool_call_id": "call_1", "content": '{"rain_mm": 12}'},
                {"role": "assistant", "content": "Heavy rain is forecast; the tram is the safer choice today."},
            ],
        },
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), "utf-8")
    return path


def test_snippet_shows_the_first_assistant_turn_with_text(tmp_path):
    cfg = api.apply_overrides(RunConfig(), scrub="off")
    run = api.ingest([str(_agent_log(tmp_path / "agent.jsonl"))], tmp_path / "run", cfg)
    snippets = snippets_for_ids(RunDir(run.path), ["talks"], chars=200)
    assert snippets["talks"]["assistant"] == "Heavy rain is forecast; the tram is the safer choice today."
    assert snippets["talks"]["user"] == "Should I cycle to work in Oslo today?"


def test_a_turn_list_with_only_tool_calls_shows_the_calls():
    """Ingest quarantines such conversations; a table written otherwise still gets a readable snippet."""
    turns = [
        {"role": "user", "content": "Check the weather."},
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [{"name": "get_weather", "arguments": "{}", "id": None}],
            "name": None,
            "tool_call_id": None,
        },
    ]
    assert first_assistant_text(turns) == "[tool call] get_weather({})"
    assert first_assistant_text(turns[:1]) == ""
