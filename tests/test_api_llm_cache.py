"""LLM answers default to the run's own cache folder, not a user-level one."""

from __future__ import annotations

from pathlib import Path

from valuescope import api
from valuescope.config import RunConfig, with_environment


def test_llm_cache_defaults_into_the_run(tmp_path, monkeypatch):
    monkeypatch.delenv("VALUESCOPE_CACHE_DIR", raising=False)
    cfg = api.apply_overrides(RunConfig(), extractor="llm", model="m")
    kept = api._keep_llm_cache_in_run(cfg, tmp_path / "run")
    assert Path(kept.extract.llm_cache_dir) == tmp_path / "run" / ".cache" / "llm"


def test_explicit_cache_settings_win(tmp_path, monkeypatch):
    cfg = api.apply_overrides(RunConfig(), extractor="llm", model="m", llm_cache_dir=str(tmp_path / "shared"))
    assert api._keep_llm_cache_in_run(cfg, tmp_path / "run").extract.llm_cache_dir == str(tmp_path / "shared")
    monkeypatch.setenv("VALUESCOPE_CACHE_DIR", str(tmp_path / "env"))
    plain = with_environment(api.apply_overrides(RunConfig(), extractor="llm", model="m"))  # as api.analyze does
    kept = api._keep_llm_cache_in_run(plain, tmp_path / "run").extract.llm_cache_dir
    assert kept == str(tmp_path / "env" / "llm")  # $VALUESCOPE_CACHE_DIR/llm, not the run's folder


def test_offline_runs_are_untouched(tmp_path):
    assert api._keep_llm_cache_in_run(RunConfig(), tmp_path).extract.llm_cache_dir is None
