"""Settings cannot be mistyped: an unknown key anywhere is one error naming the nearest valid key."""

from __future__ import annotations

import sys

import pytest
from pydantic import ValidationError

from valuescope.config import RunConfig, with_environment
from valuescope.errors import ConfigError, PluginError, ValuescopeError
from valuescope.extract.config import ExtractConfig
from valuescope.extract.registry import get_extractor


def test_a_typo_in_a_section_names_the_nearest_key():
    with pytest.raises(ValidationError, match=r"unknown setting 'modle'; did you mean 'model'\?"):
        RunConfig.model_validate({"extract": {"modle": "gpt-4o-mini"}})
    with pytest.raises(ValidationError, match=r"unknown setting 'taxnomy'; did you mean 'taxonomy'\?"):
        RunConfig.model_validate({"taxnomy": {}})


def test_a_key_near_nothing_lists_the_valid_ones():
    with pytest.raises(ValidationError, match="valid keys: .*min_conversations"):
        RunConfig.model_validate({"privacy": {"zzzz": 1}})


def test_a_typo_in_run_toml_is_one_line_at_the_cli(tmp_path, capsys, monkeypatch):
    from valuescope.cli import main

    toml = tmp_path / "run.toml"
    toml.write_text('[extract]\nextractor = "offline"\nmodle = "x"\n')
    monkeypatch.setattr(
        sys, "argv", ["valuescope", "analyze", "nothing.jsonl", "--config", str(toml), "--out", str(tmp_path / "run")]
    )
    monkeypatch.setenv("COLUMNS", "200")
    with pytest.raises(SystemExit) as exc:
        main()
    err = capsys.readouterr().err
    assert exc.value.code != 0
    assert "did you mean 'model'" in err and "Traceback" not in err
    assert not (tmp_path / "run" / "conversations").exists()


def test_environment_is_read_into_the_config_and_checked():
    config = with_environment(RunConfig(), {"VALUESCOPE_PLACE_TUNED": "off", "VALUESCOPE_OFFLINE_MODEL": "/m"})
    assert config.taxonomy.place_tuned is False and config.extract.offline_model == "/m"
    assert config.taxonomy.place_second is True  # unset variables leave settings alone
    with pytest.raises(ConfigError, match="VALUESCOPE_PLACE_SECOND"):
        with_environment(RunConfig(), {"VALUESCOPE_PLACE_SECOND": "maybe"})


def test_user_facing_errors_share_one_root():
    with pytest.raises(PluginError, match="known: .*offline") as exc:
        get_extractor(ExtractConfig(extractor="offlien"))
    assert isinstance(exc.value, ValuescopeError) and isinstance(exc.value, ValueError)


def test_environment_settings_are_cli_options_listed_in_help(tmp_path, capsys, monkeypatch):
    import json

    from valuescope import api
    from valuescope.cli import main
    from valuescope.config import ENVIRONMENT

    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.setattr(sys, "argv", ["valuescope", "analyze", "--help"])
    with pytest.raises(SystemExit):
        main()
    shown = capsys.readouterr().out
    assert all(var in shown for var in ENVIRONMENT), shown

    monkeypatch.setenv("VALUESCOPE_PLACE_SECOND", "off")
    out = tmp_path / "run"
    monkeypatch.setattr(
        sys, "argv", ["valuescope", "analyze", str(api.sample_path()), "--out", str(out), "--dry-run", "-q"]
    )
    with pytest.raises(SystemExit) as done:
        main()
    assert done.value.code in (0, None)
    config = json.loads((out / "manifest.json").read_text())["config"]
    assert config["taxonomy"]["place_second"] is False and config["taxonomy"]["place_tuned"] is True
