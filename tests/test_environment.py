"""Environment variables are read once, at the CLI/API boundary, into the config (issue #16).

A module deeper down that reads ``os.environ`` makes a setting that no config, manifest or stage key
shows; the scan below fails on any such read. Credentials (API keys, the salt) go through
``valuescope.settings.credential`` because they must never be copied into a config.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import valuescope
from valuescope.config import DEPRECATED, ENVIRONMENT, RunConfig, with_environment

PACKAGE = Path(valuescope.__file__).resolve().parent
BOUNDARY = {"config.py", "settings.py", "api.py", "cli"}  # first path part under src/valuescope
# variables that are no valuescope setting: the interpreter's import path, which the Ray engine hands to
# the workers of a local instance it starts (saved and restored around ray.init)
NOT_SETTINGS = ('"PYTHONPATH"',)


def environment_reads(source: str) -> list[int]:
    """Lines that read the environment: ``os.environ`` (except as an assignment target), ``os.getenv``,
    ``from os import environ/getenv``."""
    tree = ast.parse(source)
    written = {
        id(node.value) for node in ast.walk(tree) if isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Store)
    }
    lines = []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and node.attr in ("environ", "environb", "getenv", "getenvb")
            and isinstance(node.value, ast.Name)
            and node.value.id == "os"
            and id(node) not in written
        ):
            lines.append(node.lineno)
        elif isinstance(node, ast.ImportFrom) and node.module == "os":
            if any(a.name in ("environ", "environb", "getenv", "getenvb") for a in node.names):
                lines.append(node.lineno)
    return sorted(lines)


def test_the_scan_finds_reads_and_allows_writes():
    assert environment_reads("import os\nx = os.environ.get('A')\ny = os.getenv('B')\n") == [2, 3]
    assert environment_reads("from os import environ\n") == [1]
    assert environment_reads("import os\nos.environ['OMP_NUM_THREADS'] = '1'\n") == []


def test_no_module_below_the_boundary_reads_the_environment():
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE)
        if rel.parts[0] in BOUNDARY:
            continue
        text = path.read_text(encoding="utf-8")
        lines = text.splitlines()
        found += [
            f"{rel}:{line}"
            for line in environment_reads(text)
            if not any(name in lines[line - 1] for name in NOT_SETTINGS)
        ]
    assert not found, f"environment read below the CLI/API boundary (add it to config.ENVIRONMENT): {found}"


def test_threads_cache_dir_and_http_come_from_the_environment():
    config = with_environment(
        RunConfig(), {"VALUESCOPE_THREADS": "3", "VALUESCOPE_CACHE_DIR": "/c", "VALUESCOPE_LLM_HTTP": "DEFAULT"}
    )
    assert (config.threads, config.cache_dir, config.extract.http) == (3, "/c", "default")
    assert config.taxonomy_for_run().llm.http == "default"  # the namer shares the extractor's LLM settings


@pytest.mark.parametrize("old", sorted(DEPRECATED))
def test_old_thread_variables_still_work_with_a_warning(old):
    with pytest.warns(FutureWarning, match="VALUESCOPE_THREADS"):
        assert with_environment(RunConfig(), {old: "2"}).threads == 2
    assert with_environment(RunConfig(), {old: "0"}).threads is None  # their 0 meant "runtime decides"
    assert with_environment(RunConfig(), {old: "2", "VALUESCOPE_THREADS": "4"}).threads == 4


def test_a_bad_thread_count_names_the_variable():
    from valuescope.errors import ConfigError

    with pytest.raises(ConfigError, match="VALUESCOPE_THREADS"):
        with_environment(RunConfig(), {"VALUESCOPE_THREADS": "many"})


def test_cache_dir_moves_llm_answers_out_of_the_run(tmp_path):
    from valuescope.api import _keep_llm_cache_in_run
    from valuescope.probe.run import probe_cache_dir

    llm = RunConfig.model_validate({"extract": {"extractor": "llm"}})
    assert _keep_llm_cache_in_run(llm, tmp_path).extract.llm_cache_dir == str(tmp_path / ".cache" / "llm")
    shared = llm.model_copy(update={"cache_dir": "/shared"})
    assert _keep_llm_cache_in_run(shared, tmp_path).extract.llm_cache_dir == str(Path("/shared") / "llm")
    assert probe_cache_dir(tmp_path, shared) == str(Path("/shared") / "probe")


def test_every_environment_setting_names_a_real_setting():
    data = RunConfig().model_dump()
    for var, setting in ENVIRONMENT.items():
        section, _, field = setting.rpartition(".")
        assert field in (data[section] if section else data), var


def test_the_thread_setting_reaches_the_embedders(tmp_path, monkeypatch):
    from valuescope import api
    from valuescope.embed import base
    from valuescope.embed.minilm import MiniLMEmbedder

    monkeypatch.setattr(base, "_THREADS", [None])
    monkeypatch.setenv("VALUESCOPE_THREADS", "3")
    monkeypatch.setattr("valuescope.ingest.stage.ingest_stages", lambda inputs, config: [])
    api.ingest([], tmp_path / "run")  # the API boundary reads the environment into the config and applies it
    assert base.default_threads() == 3
    assert MiniLMEmbedder().session.get_session_options().intra_op_num_threads == 3


def test_an_option_given_beats_its_environment_variable(tmp_path, monkeypatch):
    import json
    import sys

    from valuescope import api
    from valuescope.cli import main

    monkeypatch.setenv("VALUESCOPE_PLACE_SECOND", "off")
    monkeypatch.setenv("VALUESCOPE_THREADS", "2")
    out = tmp_path / "run"
    argv = ["valuescope", "analyze", str(api.sample_path()), "--out", str(out), "--dry-run", "-q"]
    monkeypatch.setattr(sys, "argv", [*argv, "--place-second", "--threads", "1"])
    with pytest.raises(SystemExit) as done:
        main()
    assert done.value.code in (0, None)
    config = json.loads((out / "manifest.json").read_text())["config"]
    assert config["taxonomy"]["place_second"] is True and config["threads"] == 1
