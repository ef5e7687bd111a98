"""Inspect AI eval logs, written by inspect_ai itself (mockllm model, no network) and read back."""

from __future__ import annotations

import pytest

from valuescope.ingest.table import table_to_conversations

inspect_ai = pytest.importorskip("inspect_ai")


def _write_logs(tmp_path, log_format: str):
    from inspect_ai import Task, eval
    from inspect_ai.dataset import Sample
    from inspect_ai.model import ChatMessageSystem, ChatMessageUser, ModelOutput, ModelUsage, get_model
    from inspect_ai.solver import generate, solver

    @solver
    def answer_unless_told():
        gen = generate()

        async def solve(state, generate_):
            if state.metadata.get("skip"):  # the malformed variant: no model turn at all
                return state
            return await gen(state, generate_)

        return solve

    task = Task(
        name="honesty",
        dataset=[
            Sample(id="s1", input="Is honesty important?", target="yes"),
            Sample(
                id="s2",
                input=[ChatMessageSystem(content="Be brief."), ChatMessageUser(content="Should I lie?")],
                target="no",
            ),
            Sample(id="s3", input="Say nothing.", target="", metadata={"skip": True}),
        ],
        solver=answer_unless_told(),
    )
    # outputs with their usage given: mockllm would otherwise count tokens with a downloaded tiktoken table
    answer = ModelOutput.from_content(model="mockllm/model", content="Honesty matters.")
    answer.usage = ModelUsage(input_tokens=5, output_tokens=2, total_tokens=7)
    model = get_model("mockllm/model", custom_outputs=[answer, answer])
    logs = eval(task, model=model, log_dir=str(tmp_path / "logs"), log_format=log_format, display="none")
    return logs[0]


@pytest.mark.parametrize("log_format", ["eval", "json"])
def test_inspect_eval_log(tmp_path, ingest, log_format):
    log = _write_logs(tmp_path, log_format)
    run = ingest(tmp_path, log.location)
    assert run.manifest["inputs"][0]["format"] == "inspect"
    convs = {c.id: c for c in table_to_conversations(run.dir.read_table("conversations"))}
    assert set(convs) == {"honesty:s1:1", "honesty:s2:1"}
    one = convs["honesty:s1:1"]
    assert [m.role for m in one.messages] == ["user", "assistant"]
    assert one.messages[0].content == "Is honesty important?" and one.messages[1].content == "Honesty matters."
    assert one.model == "mockllm/model" and one.timestamp == str(log.eval.created) and one.meta["task"] == "honesty"
    assert [(m.role, m.content) for m in convs["honesty:s2:1"].messages][:2] == [
        ("system", "Be brief."),
        ("user", "Should I lie?"),
    ]
    assert run.quarantine[["record_id", "reason"]].values.tolist() == [["honesty:s3:1", "no assistant turn"]]
