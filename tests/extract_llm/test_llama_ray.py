"""The LLM extractor on the Ray engine: `analyze --engine ray --extractor llm --backend openai --base-url`
against the real llama.cpp server (SmolLM2-135M, see conftest.llama_server) — the wiring a GPU
cluster uses with one vLLM server per node (docs/engine-ray.md). Tests the plumbing, not quality:
every conversation ends up judged or quarantined with a reason, none lost.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from extract_llm.helpers import load_real
from valuescope.engine.rundir import RunDir
from valuescope.records import Judgment

pytestmark = [pytest.mark.llm_server, pytest.mark.slow]
REPO = Path(__file__).resolve().parents[2]


def _ray_or_skip() -> None:
    if os.environ.get("CI"):  # `make test` installs the [ray] extra: missing Ray in CI is a failure
        import ray.data  # noqa: F401
    else:
        pytest.importorskip("ray.data", reason="Ray is not installed: pip install 'valuescope[ray]'")


def test_llm_extractor_on_ray_against_llama_server(llama_server, conversations_dir, tmp_path):
    _ray_or_skip()
    convs = load_real(conversations_dir, 4)
    inp = tmp_path / "in.jsonl"
    inp.write_text("".join(c.model_dump_json() + "\n" for c in convs), "utf-8")
    config = tmp_path / "run.json"
    config.write_text(
        json.dumps(
            {
                "extract": {  # the server answers one request at a time: 2 in flight, a long timeout
                    "extractor": "llm",
                    "backend": "openai",
                    "model": "smollm2",
                    "base_url": llama_server,
                    "timeout_s": 600,
                    "max_retries": 2,
                    "concurrency": 2,
                    "max_input_tokens": 1300,
                    "max_output_tokens": 256,
                    "llm_cache_dir": str(tmp_path / "llm-cache"),
                }
            }
        ),
        "utf-8",
    )
    out = tmp_path / "run"
    cmd = [sys.executable, "-c", "from valuescope.cli import main; main()", "analyze", str(inp), "--out", str(out)]
    cmd += ["--config", str(config), "--engine", "ray", "--ray-workers", "1", "-q"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "src"), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]

    run = RunDir(out)
    manifest = run.read_manifest()
    assert manifest["status"] == "complete"
    assert manifest["stages"]["extract"]["engine"] == "ray"
    judgments = run.read_table("judgments").to_pylist()
    quarantined = [q for q in run.read_quarantine() if q["stage"] == "extract"]
    judged, held = [j["id"] for j in judgments], [q["record_id"] for q in quarantined]
    assert sorted(judged + held) == sorted(c.id for c in convs)  # each exactly once: nothing lost
    assert all(q["reason"] for q in quarantined)
    for j in judgments:
        Judgment.model_validate(j)
        assert j["extractor"] == "llm:openai:smollm2@p1"
    stats = manifest["stages"]["extract"]["stats"]
    assert stats.get("usage:requests", 0) + stats.get("usage:cached", 0) >= len(judgments)
    print(
        f"\nRay + llama.cpp: {len(judgments)} judged, {len(quarantined)} quarantined {[q['reason'][:60] for q in quarantined]}"
    )
