"""Both SDK backends, structured-output fallback, both batch APIs (incl. resume), --dry-run estimates."""

from __future__ import annotations

import json

import pytest

from extract_llm.helpers import conv, llm_config, run_extract, scripted
from valuescope.extract.config import ExtractConfig
from valuescope.extract.llm.backends import get_backend
from valuescope.extract.llm.batch import _state_path, get_provider
from valuescope.extract.llm.extractor import LLMExtractor
from valuescope.extract.registry import get_extractor


def _anthropic_url(url: str) -> str:
    return url.removesuffix("/v1")  # the anthropic SDK adds /v1 itself


def test_registry_builds_the_extractor_from_config_alone(tmp_path):
    ex = get_extractor(ExtractConfig(extractor="llm", model="m", llm_cache_dir=str(tmp_path)))
    assert isinstance(ex, LLMExtractor) and ex.parallel is False and ex.batch_size >= 128
    assert ex.name == "llm:openai:m@p1"
    assert ex.cache_config()["prompt_version"] == "p1"
    with pytest.raises(ValueError, match="--model"):
        LLMExtractor(ExtractConfig(extractor="llm"))
    with pytest.raises(ValueError, match="unknown LLM backend"):
        get_backend(ExtractConfig(backend="nope", model="m"))


def test_anthropic_backend_end_to_end(fake, tmp_path):
    app, url = fake
    config = llm_config(_anthropic_url(url), tmp_path, backend="anthropic")
    run = run_extract(tmp_path / "run", scripted(["ok", "badjson,ok", "429,ok", "schema,schema"]), config)
    assert app.by_path["/v1/messages"] >= 6
    assert run.read_table("judgments").num_rows == 3
    (q,) = [q for q in run.read_quarantine() if q["stage"] == "extract"]
    assert "violates the schema" in q["reason"]
    body = app.bodies[0]
    assert body["tool_choice"] == {"type": "tool", "name": "record_full"}


def test_auto_response_format_falls_back_to_llama_cpp_json_object(fake, tmp_path):
    app, url = fake
    ex = LLMExtractor(llm_config(url, tmp_path))
    ex.load()
    results = ex.extract(scripted(["rfjson", "rfjson"]))
    ex.close()
    assert all(r.error is None for r in results)
    assert ex.backend.mode == "json_object"
    assert app.bodies[-1]["response_format"]["type"] == "json_object"
    assert "schema" in app.bodies[-1]["response_format"]


def test_complete_json_helper_for_other_stages(fake, tmp_path):
    _, url = fake
    backend = get_backend(llm_config(url, tmp_path))
    schema = {"type": "object", "properties": {"subjective": {"type": "boolean"}}, "required": ["subjective"]}
    out = backend.complete_json("Name this cluster.", "values: honesty, candour", schema)
    backend.close()
    assert out["subjective"] is True


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_batch_api_collects_and_quarantines(fake, tmp_path, provider):
    app, url = fake
    url = url if provider == "openai" else _anthropic_url(url)
    config = llm_config(url, tmp_path, backend=provider, batch_api=True, batch_poll_s=0.01)
    run = run_extract(tmp_path / "run", scripted(["ok", "ok", "badjson,ok", "500", "schema,schema"]), config)
    assert run.read_table("judgments").num_rows == 3
    reasons = sorted(q["reason"] for q in run.read_quarantine() if q["stage"] == "extract")
    assert reasons[0].startswith("batch: ") and "invalid answer after one repair" in reasons[1]
    assert len(app.batches) == 1
    # only the repair went live
    live = app.by_path["/v1/chat/completions"] + app.by_path["/v1/messages"]
    assert live == 2
    stats = run.read_manifest()["stages"]["extract"]["stats"]
    assert stats["usage:batch_requests"] == 5


def test_batch_resumes_polling_after_a_restart(fake, tmp_path):
    """A process killed after submitting finds the batch id in the run and polls it; no second submission."""
    app, url = fake
    app.batch_polls_until_done = 3
    config = llm_config(url, tmp_path, batch_api=True, batch_poll_s=0.01)
    convs = scripted(["ok", "ok", "ok"])
    ex = LLMExtractor(config)
    ex.load()
    jobs = [ex._job(c, "full") for c in convs]
    # what the killed process had done: submit, persist the id, poll once
    provider = get_provider(ex.backend)

    def body(j):
        return ex.backend.request_body(j.system, [{"role": "user", "content": j.user}], j.schema, "record_full", 100)

    batch_id = provider.submit([(j.key, body(j)) for j in jobs])
    path = _state_path(ex.cache.folder, jobs)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"batch_id": batch_id, "status": "in_progress"}))
    assert provider.poll(batch_id) == (False, "in_progress")
    ex.close()

    ex2 = LLMExtractor(config)
    ex2.load()
    results = ex2.extract(convs)
    ex2.close()
    assert all(r.error is None for r in results)
    assert len(app.batches) == 1 and app.by_path["/v1/batches"] == 1
    assert json.loads(path.read_text())["status"] == "completed"


def test_dry_run_estimates_without_sending(fake, tmp_path):
    app, url = fake
    config = llm_config(url, tmp_path, price_input_per_mtok=1.0, price_output_per_mtok=4.0)
    convs = [
        conv(f"d:{i}", f"Should I tell my friend the truth? ({i}) " * 20, "Honesty matters. " * 50) for i in range(10)
    ]
    ex = LLMExtractor(config)
    est = ex.estimate(convs)
    assert app.requests == 0
    assert est["calls"] == 10 and est["cached"] == 0
    per_conv = est["input_tokens"] / 10
    assert 500 < per_conv < 4000
    assert est["cost_usd"] == pytest.approx(est["input_tokens"] / 1e6 + est["output_tokens"] * 4 / 1e6, abs=1e-4)
    # after extraction, the same conversations cost nothing
    ex.load()
    ex.extract(convs[:4])
    est2 = ex.estimate(convs)
    ex.close()
    assert est2["calls"] == 6 and est2["cached"] == 4
    screened = LLMExtractor(config.model_copy(update={"screen_subjective": True})).estimate(convs)
    assert screened["calls"] == 10 + 6 and "upper bound" in screened["note"]
