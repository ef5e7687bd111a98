"""kill -9 mid-ingest, rerun: the same tables as an uninterrupted run; reruns skip finished work."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from valuescope import api
from valuescope.engine.rundir import RunDir
from valuescope.privacy.ids import SALT_ENV

CLI = "from valuescope.cli import main; main()"


@pytest.fixture(scope="module")
def big_input(tmp_path_factory, conversations_dir) -> Path:
    """Real hh-rlhf lines repeated 3x under new ids (~14k records), plus a few broken lines."""
    path = tmp_path_factory.mktemp("big") / "big.jsonl"
    lines = (conversations_dir / "hh_rlhf_harmless_base_test.jsonl").read_text("utf-8").splitlines()
    with path.open("w", encoding="utf-8") as out:
        for copy in range(3):
            for n, line in enumerate(lines):
                rec = json.loads(line)
                rec["id"] = f"{rec['id']}#{copy}"
                out.write(json.dumps(rec, ensure_ascii=False) + "\n")
                if n % 2000 == 7:
                    out.write('{"broken": \n')
    return path


@pytest.fixture(scope="module")
def config_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("cfg") / "run.toml"
    path.write_text('[ingest]\nbatch_size = 150\n\n[privacy]\nscrub = "off"\n')
    return path


def _tables(run: Path) -> dict[str, object]:
    out = {name: RunDir(run).read_table(name) for name in ("conversations",)}
    out["quarantine"] = (run / "quarantine.jsonl").read_text()
    out["inputs"] = json.loads((run / "manifest.json").read_text())["inputs"]
    return out


def test_kill_9_then_rerun_gives_identical_tables(tmp_path, big_input, config_file, monkeypatch):
    monkeypatch.setenv(SALT_ENV, "resume-test-salt-0123456789abcdef0123")
    cfg = api.load_config(config_file)
    reference = api.ingest([big_input], tmp_path / "uninterrupted", cfg)

    killed = tmp_path / "killed"
    env = {**os.environ, SALT_ENV: "resume-test-salt-0123456789abcdef0123"}
    proc = subprocess.Popen(
        [sys.executable, "-c", CLI, "ingest", str(big_input), "--out", str(killed), "--config", str(config_file), "-q"],
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    cache = killed / ".cache" / "ingest"
    deadline = time.time() + 60
    while time.time() < deadline and proc.poll() is None:
        if cache.is_dir() and sum(1 for _ in cache.glob("*/DONE")) >= 8:
            break
        time.sleep(0.02)
    assert proc.poll() is None, f"ingest ended before it could be killed: {proc.stderr.read().decode()[-500:]}"
    os.killpg(proc.pid, signal.SIGKILL)  # the CLI and its worker processes, like a crash
    proc.wait()
    assert not RunDir(killed).has_table("conversations")

    resumed = api.ingest([big_input], killed, cfg)
    stats = resumed.manifest["stages"]["ingest"]["stats"]
    assert 0 < stats["chunks_computed"] < stats["chunks"]
    assert _tables(killed) == _tables(reference.path)
    assert RunDir(killed).table_digest("conversations") == RunDir(reference.path).table_digest("conversations")
    assert (
        stats["read"] == stats["ok"] + stats["quarantined"] and stats["quarantined"] == 9 + 12
    )  # broken + real empty turns

    again = api.ingest([big_input], killed, cfg)  # nothing left to do
    assert again.manifest["stages"]["ingest"]["stats"]["chunks_computed"] == 0
    assert _tables(killed) == _tables(reference.path)
