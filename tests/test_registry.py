"""Every extension point is a registry kind; built-ins and third-party plugins register the same way."""

from __future__ import annotations

import sys
import tomllib
import types
from pathlib import Path

import pytest

from valuescope import registry
from valuescope.errors import PluginError
from valuescope.extract.config import ExtractConfig
from valuescope.extract.registry import get_extractor
from valuescope.privacy.base import NullScrubber, get_scrubber
from valuescope.privacy.config import PrivacyConfig

ROOT = Path(__file__).resolve().parents[1]


def test_builtins_are_declared_as_entry_points_like_any_plugin():
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["entry-points"][
        registry.ENTRY_POINT_GROUP
    ]
    assert sorted(declared.values()) == sorted(registry.BUILTIN_PLUGINS)
    assert {"offline", "llm", "reference"} <= set(registry.names("extractor"))
    assert {"openai", "anthropic", "replay"} <= set(registry.names("llm_backend"))
    assert registry.names("scrubber")[:3] == ["off", "regex", "ner"]


@pytest.fixture
def plugin_module(monkeypatch):
    """A third-party plugin module, found through a (faked) installed entry point."""
    module = types.ModuleType("acme_plugin")

    class ShoutingScrubber(NullScrubber):
        name = "shout"

    def register(reg):
        reg.add("scrubber", "shout", ShoutingScrubber)

    module.register = register
    monkeypatch.setitem(sys.modules, "acme_plugin", module)
    fake_ep = types.SimpleNamespace(value="acme_plugin")
    monkeypatch.setattr(
        registry, "entry_points", lambda group: [fake_ep] if group == registry.ENTRY_POINT_GROUP else []
    )
    fresh = registry.Registry()
    monkeypatch.setattr(registry, "REGISTRY", fresh)
    return ShoutingScrubber


def test_an_installed_plugin_is_found_and_validated_by_the_config(plugin_module):
    config = PrivacyConfig(scrub="shout")  # the config accepts the plugin's name...
    assert isinstance(get_scrubber(config), plugin_module)  # ...and the stage gets the plugin's scrubber
    assert registry.names("scrubber")[:3] == ["off", "regex", "ner"]  # built-ins still there, loaded first


def test_two_plugins_cannot_claim_one_name(plugin_module):
    clash = types.ModuleType("clash_plugin")
    clash.register = lambda reg: reg.add("scrubber", "regex", "clash_plugin:Other")
    sys.modules["clash_plugin"] = clash
    try:
        with pytest.raises(
            PluginError, match="'regex' is registered by both valuescope.privacy.plugin and clash_plugin"
        ):
            registry.REGISTRY.load().load(["clash_plugin"])
    finally:
        del sys.modules["clash_plugin"]


def test_unknown_names_and_kinds_are_one_line_errors():
    with pytest.raises(PluginError, match=r"unknown extractor 'ofline'; known: llm, offline, reference"):
        get_extractor(ExtractConfig(extractor="ofline"))
    with pytest.raises(PluginError, match="unknown kind 'widget'"):
        registry.Registry().add("widget", "x", "m:X")


def test_builtin_readers_are_registered_under_their_names_in_sniffing_order():
    from valuescope.ingest import formats

    assert all(reader.NAME == name for name, reader in formats.JSON_READERS.items())
    assert list(formats.JSON_READERS)[0] == "valuescope" and list(formats.JSON_READERS)[-1] == "openai"
    assert set(formats.JSON_READERS) <= set(formats.EXPECTS)  # every built-in says what it looks for
