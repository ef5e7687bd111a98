"""The probe stage on its own: retries, resume, quarantine, fatal errors, dry run, CLI errors."""

from __future__ import annotations

import pytest

from valuescope.config import RunConfig
from valuescope.engine.rundir import RunDir
from valuescope.engine.runner import run_stages
from valuescope.probe.run import dry_run
from valuescope.probe.stage import ProbeStage
from valuescope.probe.suite import load_suite
from valuescope.probe.target import TargetConfig

from .conftest import stratified
from .fake_targets import FakeTarget


@pytest.fixture
def few():
    return stratified(load_suite(), {"unethical_justified": 3, "neutral": 3})


def _probe(out, scenarios, url, **kw):
    run = RunDir(out)
    stage = ProbeStage(scenarios, TargetConfig(model="m", base_url=url, **kw), privacy=RunConfig().privacy)
    run_stages(run, [stage], quiet=True)
    return run


def test_transient_failures_are_retried_and_rerun_sends_nothing(tmp_path, few, unethical_turns):
    with FakeTarget("resister", unethical_turns, fail_first=4) as fake:
        run = _probe(tmp_path / "r", few, fake.url)
        assert run.read_table("conversations").num_rows == 2 * len(few)
        assert fake.requests == 4 + 2 * len(few)  # the four 503s were retried
        before = fake.requests
        _probe(tmp_path / "r", few, fake.url)
        assert fake.requests == before


def test_unreachable_target_stops_the_run_and_a_rerun_resumes(tmp_path, few, unethical_turns):
    with FakeTarget("resister", unethical_turns, fail_first=10_000) as fake:
        with pytest.raises(RuntimeError, match="failed after retries"):
            _probe(tmp_path / "r", few, fake.url, max_retries=1)
        assert not RunDir(tmp_path / "r").has_table("conversations")
    with FakeTarget("resister", unethical_turns) as fake:
        run = _probe(tmp_path / "r", few, fake.url)
        assert run.read_table("conversations").num_rows == 2 * len(few)


def test_bad_key_stops_the_run_with_the_reason(tmp_path, few, unethical_turns):
    with FakeTarget("resister", unethical_turns, fail_first=10_000, fail_status=401) as fake:
        with pytest.raises(RuntimeError, match="probe target openai:m: HTTP 401"):
            _probe(tmp_path / "r", few, fake.url)
        assert fake.requests <= 2 * TargetConfig(model="m").concurrency  # no retries of a fatal error


def test_rejected_request_is_quarantined_not_retried(tmp_path, few, unethical_turns):
    with FakeTarget("resister", unethical_turns, fail_first=1, fail_status=400) as fake:
        run = _probe(tmp_path / "r", few, fake.url)
    q = [r for r in run.read_quarantine() if r["stage"] == "probe"]
    assert len(q) == 1 and "HTTP 400" in q[0]["reason"] and "refused the request at turn 1" in q[0]["reason"]
    assert run.read_table("conversations").num_rows == 2 * (len(few) - 1)


def test_empty_answer_is_quarantined_like_ingest(tmp_path, few, unethical_turns, monkeypatch):
    from . import fake_targets

    monkeypatch.setattr(fake_targets, "REFUSE", " ")
    with FakeTarget("resister", unethical_turns) as fake:
        run = _probe(tmp_path / "r", few, fake.url)
    q = [r for r in run.read_quarantine() if r["stage"] == "probe"]
    assert len(q) == 3 and all("empty assistant turn" in r["reason"] for r in q)
    assert run.read_table("conversations").num_rows == 2 * 3  # the three benign scenarios


def test_system_prompt_is_sent_and_stored(tmp_path, few, unethical_turns):
    with FakeTarget("resister", unethical_turns) as fake:
        run = _probe(tmp_path / "r", few[:1], fake.url, system_prompt="You are Acme's assistant.")
    msgs = run.read_table("conversations").column("messages").to_pylist()
    assert msgs and all((m[0]["role"], m[0]["content"]) == ("system", "You are Acme's assistant.") for m in msgs)


def test_dry_run_counts_requests(few):
    est = dry_run(TargetConfig(model="m", max_output_tokens=100), few, turns=2, samples=3)
    assert est["requests"] == len(few) * 2 * 3 and est["output_tokens (upper bound)"] == est["requests"] * 100
    assert est["input_tokens"] > 0


@pytest.mark.parametrize(
    "extra, env, message",
    [
        (["--baseline", "{tmp}/nothing", "--gate", "default"], {}, "is not a finished probe run"),
        (["--baseline", "{tmp}"], {}, "--baseline is used by the release gate"),
        (["--suite", "{tmp}/bad.jsonl"], {}, "bad.jsonl line 1: id"),
        (["--gate", "{tmp}/none.toml"], {}, "gate file not found"),
        (["--backend", "anthropic"], {"ANTHROPIC_API_KEY": ""}, "needs ANTHROPIC_API_KEY"),
        ([], {"OPENAI_API_KEY": "", "OPENAI_BASE_URL": ""}, "needs OPENAI_API_KEY"),
    ],
)
def test_usage_errors_are_one_line_exit_2_before_any_work(tmp_path, monkeypatch, capsys, extra, env, message):
    import sys

    from valuescope.cli import main

    (tmp_path / "bad.jsonl").write_text('{"id": 1}\n', "utf-8")
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    out = tmp_path / "run"
    monkeypatch.setattr(
        sys,
        "argv",
        ["valuescope", "probe", "--model", "m", "--out", str(out), *(a.replace("{tmp}", str(tmp_path)) for a in extra)],
    )
    monkeypatch.setenv("COLUMNS", "300")
    with pytest.raises(SystemExit) as done:
        main()
    err = capsys.readouterr().err
    assert done.value.code == 2 and message in err and "Traceback" not in err
    assert not out.exists()  # nothing started


def test_anthropic_target_plain_messages_with_system_and_retries(tmp_path, monkeypatch):
    """The anthropic path: the system prompt as `system`, no tools, text answers; a 429 is retried like the extractor's."""
    from fakes.fake_server import FakeLLM, ServerThread
    from valuescope.probe.suite import Scenario

    monkeypatch.setenv("ANTHROPIC_API_KEY", "test-key")
    scenario = Scenario(
        id="s",
        context="other",
        pressure="emotional",
        turns=["FAKE[429,ok] please help", "are you sure?"],
        provenance={"source": "test", "license": "CC0-1.0"},
    )
    app = FakeLLM(retry_after=0.05)
    with ServerThread(app) as url:
        run = RunDir(tmp_path / "r")
        stage = ProbeStage(
            [scenario],
            TargetConfig(
                backend="anthropic", model="claude-test", base_url=url.removesuffix("/v1"), system_prompt="Be kind."
            ),
            privacy=RunConfig().privacy,
        )
        run_stages(run, [stage], quiet=True)
    assert app.steps["429"] == 1
    sent = [b for b in app.bodies if "messages" in b]
    assert all(b["system"] == "Be kind." and "tools" not in b and "temperature" not in b for b in sent)
    assert [len(b["messages"]) for b in sent][-2:] == [1, 3]  # turn 1, then turn 1 + answer + pushback
    msgs = run.read_table("conversations").column("messages").to_pylist()
    assert [len(m) for m in msgs] == [3, 5] and msgs[1][2]["content"] == msgs[0][2]["content"]


def test_probe_refuses_a_run_of_ingested_conversations(tmp_path, conversations_dir):
    from valuescope import api
    from valuescope.probe.run import probe

    lines = (conversations_dir / "mt_bench.jsonl").read_text("utf-8").splitlines()[:3]
    (tmp_path / "in.jsonl").write_text("\n".join(lines) + "\n", "utf-8")
    api.ingest([tmp_path / "in.jsonl"], tmp_path / "real")
    before = RunDir(tmp_path / "real").table_digest("conversations")
    with pytest.raises(api.ConfigError, match="holds ingested conversations"):
        probe(TargetConfig(model="m", base_url="http://127.0.0.1:9/v1"), tmp_path / "real", "default")
    assert RunDir(tmp_path / "real").table_digest("conversations") == before
