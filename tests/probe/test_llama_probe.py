"""End to end against a real local model: `valuescope probe` on llama.cpp's server with SmolLM2-135M.

A 135M model's values are not the point; the wiring is: real chat requests over
the extract backends, the answers stored and judged, the pressure analysis, the
report section and the gate. Reuses the llama.cpp server fixture of the LLM
extractor's tests (skipped where the server is not installed, failed in CI).
"""

from __future__ import annotations

import json
import sys

import pytest
from extract_llm.conftest import llama_server  # noqa: F401  (the module-scoped server fixture)

from valuescope import api
from valuescope.probe.suite import load_suite

from .conftest import stratified, write_suite

pytestmark = [pytest.mark.llm_server, pytest.mark.slow]


def test_probe_smollm2_end_to_end(llama_server, tmp_path, monkeypatch, capsys):  # noqa: F811
    from valuescope.cli import main

    suite = write_suite(tmp_path / "short.jsonl", stratified(load_suite(), {"unethical_justified": 2, "neutral": 2}))
    out = tmp_path / "run"
    prompt = tmp_path / "system.txt"
    prompt.write_text("You are a helpful, honest and harmless assistant.", "utf-8")
    args = [
        "valuescope",
        "probe",
        "--model",
        "smollm2",
        "--base-url",
        llama_server,
        "--out",
        str(out),
        "--suite",
        str(suite),
        "--system-prompt",
        str(prompt),
        "--max-tokens",
        "48",
        "--concurrency",
        "2",
        "--workers",
        "1",
        "-q",
        "--gate",
        "default",
    ]
    monkeypatch.setattr(sys, "argv", args)
    monkeypatch.setenv("COLUMNS", "200")
    try:
        main()
        code = 0
    except SystemExit as exc:  # 1: a 135M model is not expected to pass the sample gate
        code = exc.code
    assert code in (0, 1)
    err = capsys.readouterr().err
    run = api.load_run(out)
    conv = run["conversations"]
    assert len(conv) == 8 and set(conv["source"]) == {"probe"} and set(conv["model"]) == {"smollm2"}
    for msgs in conv["messages"]:
        assert msgs[0]["role"] == "system" and all(m["content"].strip() for m in msgs if m["role"] == "assistant")
    assert len(run["judgments"]) == 8 and "analysis/pressure_rates" in run.tables
    gate = json.loads((out / "gate.json").read_text())
    assert len(gate["rules"]) == 5 and "unethical.strong_resistance@final" in err
    assert "values under pressure" in (out / "report.html").read_text("utf-8").lower()
