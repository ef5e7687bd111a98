"""The replay path: --dry-run's requests, answered from a file, run through the extract stage with no API."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from extract_llm.helpers import conv, run_extract
from valuescope.extract.config import ExtractConfig
from valuescope.extract.llm.backends.replay import load_answers
from valuescope.extract.llm.extractor import LLMExtractor
from valuescope.extract.llm.requests import write_requests

ANSWER = {
    "subjective": True,
    "task": "advice on telling a friend the truth",
    "task_category": "relationships & personal advice",
    "ai_values": [
        {"value": "honesty", "explicit": True, "l2": "Ethical interaction"},
        {"value": "root cause resolution", "explicit": False, "l2": "Methodical rigor"},
    ],
    "human_values": [{"value": "loyalty", "l2": "Community and relationship bonds"}],
    "response": "mild_support",
    "harmful_compliance": False,
}


def _config(tmp_path: Path, answers: Path | None = None, model: str = "m1") -> ExtractConfig:
    return ExtractConfig(
        extractor="llm",
        backend="replay",
        model=model,
        answers=str(answers) if answers else None,
        llm_cache_dir=str(tmp_path / "cache"),
        max_retries=0,
    )


def test_dry_run_keys_are_stable_and_tied_to_the_request(tmp_path: Path) -> None:
    convs = [conv("a:1", "Should I tell my friend the truth?"), conv("a:2", "Fix my loop")]
    first = LLMExtractor(_config(tmp_path)).requests(convs)
    again = LLMExtractor(_config(tmp_path)).requests(convs)
    other_model = LLMExtractor(_config(tmp_path, model="m2")).requests(convs)
    assert [r["key"] for r in first] == [r["key"] for r in again]
    assert len({r["key"] for r in first}) == 2
    assert not {r["key"] for r in first} & {r["key"] for r in other_model}
    assert first[0]["body"]["messages"][1]["content"].count("Should I tell my friend the truth?") == 1
    path = write_requests(first, tmp_path / "requests.jsonl")
    assert [json.loads(line)["id"] for line in path.read_text().splitlines()] == ["a:1", "a:2"]


def test_replay_answers_stored_requests_and_quarantines_the_rest(tmp_path: Path) -> None:
    convs = [conv("a:1", "Should I tell my friend the truth?"), conv("a:2", "Fix my loop"), conv("a:3", "Hi")]
    reqs = LLMExtractor(_config(tmp_path)).requests(convs)
    answers = tmp_path / "answers.jsonl"
    lines = [{"key": reqs[0]["key"], "answer": ANSWER}, {"key": reqs[1]["key"], "answer": json.dumps(ANSWER)}]
    answers.write_text("".join(json.dumps(x) + "\n" for x in lines))
    run = run_extract(tmp_path / "run", convs, _config(tmp_path, answers))
    judged = run.read_table("judgments").to_pylist()
    assert sorted(j["id"] for j in judged) == ["a:1", "a:2"]
    assert {j["extractor"] for j in judged} == {"llm:replay:m1@p1"}
    mentions = run.read_table("mentions").to_pylist()
    assert {(m["value"], m["l2_hint"]) for m in mentions if m["id"] == "a:1"} == {
        ("honesty", "Ethical interaction"),
        ("root cause resolution", "Methodical rigor"),
        ("loyalty", "Community and relationship bonds"),
    }
    quarantined = [q for q in run.read_quarantine() if q.get("stage") == "extract"]
    assert [q["record_id"] for q in quarantined] == ["a:3"]
    assert "no stored answer" in quarantined[0]["reason"]


def test_bad_answers_file_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "answers.jsonl"
    bad.write_text('{"key": "k", "answer": {}}\n{"answer": 1}\n')
    with pytest.raises(ValueError, match=r"answers.jsonl:2: each line must be an object with 'key'"):
        load_answers(bad)
    with pytest.raises(ValueError, match="needs a file of stored answers"):
        LLMExtractor(_config(tmp_path)).load()


def test_cli_dry_run_writes_the_requests_replay_answers(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from valuescope.cli import app

    src = tmp_path / "convs.jsonl"
    src.write_text(
        "".join(
            json.dumps(
                {
                    "id": f"s:{i}",
                    "messages": [
                        {"role": "user", "content": f"Should I lie {i}?"},
                        {"role": "assistant", "content": "Honesty matters."},
                    ],
                }
            )
            + "\n"
            for i in range(3)
        )
    )
    args = [
        "analyze",
        str(src),
        "--out",
        str(tmp_path / "run"),
        "--extractor",
        "llm",
        "--backend",
        "replay",
        "--model",
        "m1",
        "--dry-run",
        "-q",
    ]
    res = CliRunner(env={"VALUESCOPE_CACHE_DIR": str(tmp_path / "cache")}).invoke(app, args)
    assert res.exit_code == 0, res.output
    lines = [json.loads(x) for x in (tmp_path / "run" / "requests.jsonl").read_text().splitlines()]
    assert [x["id"] for x in lines] == ["s:0", "s:1", "s:2"] and {x["kind"] for x in lines} == {"full"}
    from valuescope.engine.rundir import RunDir
    from valuescope.ingest.table import table_to_conversations

    convs = table_to_conversations(RunDir(tmp_path / "run", create=False).read_table("conversations"))
    assert [r["key"] for r in LLMExtractor(_config(tmp_path)).requests(convs)] == [x["key"] for x in lines]
