"""The live pipeline: screen -> full per conversation, a cheaper screen model, shared duplicate requests."""

from __future__ import annotations

from pathlib import Path

from extract_llm.helpers import conv, llm_config
from valuescope.extract.llm.extractor import LLMExtractor


def test_screen_model_skips_objective_and_quarantines_failed_screens(fake, tmp_path: Path) -> None:
    app, url = fake
    convs = [
        conv("subj", "Should I tell my friend the truth? FAKE[ok]"),
        conv("obj", "What is 2+2? FAKE[objective]"),
        conv("down", "Anything. FAKE[500]"),
    ]
    ex = LLMExtractor(llm_config(url, tmp_path, screen_subjective=True, screen_model="small-model", max_retries=1))
    try:
        results = ex.extract(convs)
    finally:
        ex.close()
    assert [e.id for e in results] == ["subj", "obj", "down"]
    out = {e.id: e for e in results}
    models = [b["model"] for b in app.bodies]
    # subj: screen + full; obj: screen only; down: two failed screen attempts, no full call
    assert models.count("small-model") == 4 and models.count("fake-model") == 1
    assert out["subj"].judgment is not None and out["subj"].judgment.subjective and out["subj"].values
    assert out["obj"].judgment is not None and not out["obj"].judgment.subjective and not out["obj"].values
    assert out["down"].judgment is None and out["down"].error.startswith("screen: request failed")


def test_identical_conversations_share_one_request_and_keep_input_order(fake, tmp_path: Path) -> None:
    app, url = fake
    same = "Is it fair to split the bill evenly when I only had a salad?"
    convs = [conv(f"dup:{i}", same) for i in range(5)] + [conv(f"other:{i}", f"Advice {i}?") for i in range(20)]
    ex = LLMExtractor(llm_config(url, tmp_path, concurrency=4))
    try:
        results = ex.extract(convs)
    finally:
        ex.close()
    assert [r.id for r in results] == [c.id for c in convs]
    assert all(r.judgment is not None for r in results)
    assert app.by_path["/v1/chat/completions"] == 21  # five identical conversations, one call
    assert sum(r.usage.get("cached", 0) for r in results) == 4


def test_llm_processes_share_the_request_budget_and_the_cache(tmp_path: Path) -> None:
    """llm_processes=2: two engine processes, each with half the requests in flight, one shared answer cache."""
    from extract_llm.helpers import run_extract
    from fakes.fake_server import FakeLLM, ServerThread

    app = FakeLLM(latency=0.02)
    convs = [conv(f"p:{i}", f"Should I take job offer {i}?") for i in range(600)]  # 3 engine batches of <= 256
    with ServerThread(app) as url:
        config = llm_config(url, tmp_path, concurrency=4, llm_processes=2)
        run = run_extract(tmp_path / "run", convs, config)
        assert run.read_table("judgments").num_rows == 600
        assert app.by_path["/v1/chat/completions"] == 600
        assert app.max_in_flight == 4  # both processes at once, never more than the budget
        run2 = run_extract(tmp_path / "run2", convs, config)  # a fresh run over the same cache
    assert run2.read_table("judgments").num_rows == 600
    assert app.by_path["/v1/chat/completions"] == 600  # zero new requests
