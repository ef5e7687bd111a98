"""Every conversation ends judged or quarantined with the right reason, whatever the server does."""

from __future__ import annotations

import time

import pyarrow.parquet as pq

from extract_llm.helpers import llm_config, run_extract, scripted
from valuescope.extract.llm.extractor import LLMExtractor

# step script -> expected fate ("ok" or a substring of the quarantine reason)
CASES = {
    "ok": "ok",
    "429,ok": "ok",
    "500,ok": "ok",
    "hang,ok": "ok",
    "trunc,ok": "ok",
    "badjson,ok": "ok",  # repaired
    "schema,ok": "ok",  # repaired
    "cut,ok": "ok",  # cut off at max tokens, repaired
    "badjson,badjson": "invalid answer after one repair attempt: answer is not valid JSON",
    "schema,schema": "invalid answer after one repair attempt: answer violates the schema",
    "cut,cut": "answer cut off at the output token limit",
    "500": "request failed: gave up after 4 attempts: HTTP 500",
    "hang": "request failed: gave up after 4 attempts: timeout",
    "trunc": "request failed: gave up after 4 attempts: connection error",
    "429": "request failed: gave up after 4 attempts: HTTP 429",
}


def test_every_fault_ends_judged_or_quarantined_with_reason(fake, tmp_path):
    app, url = fake
    app.retry_after = 0.2
    steps = list(CASES)
    convs = scripted(steps)
    run = run_extract(tmp_path / "run", convs, llm_config(url, tmp_path, timeout_s=0.5))

    judged = set(pq.read_table(run.table_path("judgments")).column("id").to_pylist())
    quarantined = {q["record_id"]: q for q in run.read_quarantine() if q["stage"] == "extract"}
    assert len(judged) + len(quarantined) == len(convs)  # counts add up: nothing lost
    assert not judged & set(quarantined)
    for conv, step in zip(convs, steps, strict=True):
        fate = CASES[step]
        if fate == "ok":
            assert conv.id in judged, step
        else:
            assert conv.id in quarantined, step
            assert fate in quarantined[conv.id]["reason"], (step, quarantined[conv.id]["reason"])
    # invalid answers keep the raw model output for inspection
    assert "DAN" in quarantined["t:8"]["raw"]
    stats = run.read_manifest()["stages"]["extract"]["stats"]
    assert stats["rows_out:judgments"] + stats["quarantined"] == len(convs)
    assert stats["usage:input_tokens"] > 0 and stats["usage:output_tokens"] > 0
    assert stats["usage:requests"] == app.requests


def test_rerun_of_finished_run_sends_zero_requests(fake, tmp_path):
    app, url = fake
    convs = scripted(["ok", "badjson,badjson", "500", "ok"])
    config = llm_config(url, tmp_path, max_retries=1)
    run_extract(tmp_path / "run", convs, config)
    first = app.requests
    assert first > 0
    run_extract(tmp_path / "run", convs, config)
    assert app.requests == first


def test_interrupted_run_resumes_from_the_answer_cache(fake, tmp_path):
    """A run killed mid-batch left answers in the cache; the next run asks only for the rest."""
    app, url = fake
    convs = scripted(["ok"] * 6)
    config = llm_config(url, tmp_path)
    ex = LLMExtractor(config)
    ex.load()
    ex.extract(convs[:4])  # the "interrupted" part: answers cached, no checkpoint written
    ex.close()
    assert app.requests == 4
    run = run_extract(tmp_path / "run", convs, config)
    assert app.requests == 6
    assert run.read_table("judgments").num_rows == 6


def test_retry_after_is_honoured(fake, tmp_path):
    app, url = fake
    ex = LLMExtractor(llm_config(url, tmp_path))
    ex.load()
    started = time.perf_counter()
    (res,) = ex.extract(scripted(["429,ok"]))
    elapsed = time.perf_counter() - started
    ex.close()
    assert res.error is None
    assert elapsed >= 1.0  # the fake says retry-after: 1; backoff alone would be ~0.02 s
    assert res.usage["retries"] == 1


def test_concurrency_is_bounded(tmp_path):
    from fakes.fake_server import FakeLLM, ServerThread

    app = FakeLLM(latency=0.2)
    with ServerThread(app) as url:
        ex = LLMExtractor(llm_config(url, tmp_path, concurrency=4))
        ex.load()
        started = time.perf_counter()
        results = ex.extract(scripted(["ok"] * 12))
        elapsed = time.perf_counter() - started
        ex.close()
    assert all(r.error is None for r in results)
    # 12 requests, 4 at a time, 0.2 s each: at least 3 rounds, and parallel (not 12 rounds)
    assert 0.55 <= elapsed < 1.8


def test_fatal_errors_stop_the_run_with_a_clear_message(tmp_path):
    import pytest

    from fakes.fake_server import FakeLLM, ServerThread

    class Unauthorised(FakeLLM):
        async def _chat(self, req, send, anthropic):  # type: ignore[override]
            from fakes.fake_server import _send_json

            await _send_json(send, 401, {"error": {"message": "bad key", "type": "auth"}})

    with ServerThread(Unauthorised()) as url:
        ex = LLMExtractor(llm_config(url, tmp_path))
        ex.load()
        with pytest.raises(RuntimeError, match="HTTP 401"):
            ex.extract(scripted(["ok"]))
        ex.close()


def test_kill_9_mid_batch_then_resume_asks_only_for_the_rest(tmp_path):
    import os
    import signal
    import subprocess
    import sys

    from fakes.fake_server import FakeLLM, ServerThread

    app = FakeLLM(latency=0.1)
    with ServerThread(app) as url:
        config = llm_config(url, tmp_path, concurrency=4)
        code = (
            "import sys, json\n"
            "sys.path.insert(0, sys.argv[2])\n"
            "from extract_llm.helpers import scripted\n"
            "from valuescope.extract.config import ExtractConfig\n"
            "from valuescope.extract.llm.extractor import LLMExtractor\n"
            "ex = LLMExtractor(ExtractConfig.model_validate_json(sys.argv[1])); ex.load()\n"
            "ex.extract(scripted(['ok'] * 60))\n"
        )
        tests_dir = str(__import__("pathlib").Path(__file__).resolve().parents[1])
        proc = subprocess.Popen([sys.executable, "-c", code, config.model_dump_json(), tests_dir])
        deadline = time.monotonic() + 60
        while app.requests < 30 and time.monotonic() < deadline:
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        sent_before = app.requests
        assert 30 <= sent_before < 60

        ex = LLMExtractor(config)
        ex.load()
        results = ex.extract(scripted(["ok"] * 60))
        ex.close()
    assert all(r.error is None for r in results)
    resent = app.requests - sent_before
    cached = sum(r.usage.get("cached", 0) for r in results)
    assert cached >= 10  # answers committed before the kill were not asked again
    assert resent == 60 - cached
