"""Plugins by kind and name, all registered the same way: through the ``valuescope.plugins`` entry-point group.

A plugin is a module with ``register(registry)``; it calls :meth:`Registry.add` once per thing it
provides::

    def register(registry):
        registry.add("extractor", "mine", "my_pkg.extractor:MyExtractor")

and is declared in its package's ``pyproject.toml``::

    [project.entry-points."valuescope.plugins"]
    my_pkg = "my_pkg.plugin"

valuescope's own readers, scrubbers, extractors, LLM backends, embedders and analyses are plugins of
exactly this form (``valuescope.*.plugin`` modules, declared in valuescope's own pyproject). Targets are
``"module:attr"`` strings imported on first use, so a plugin's optional dependencies (Presidio, the
anthropic SDK) cost nothing until it is chosen. See docs/extending.md.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Iterable
from importlib.metadata import entry_points
from typing import Any

from valuescope.errors import PluginError

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "valuescope.plugins"
KINDS: dict[str, str] = {  # kind -> how errors name it
    "reader": "input format",
    "scrubber": "scrub mode",
    "extractor": "extractor",
    "llm_backend": "LLM backend",
    "embedder": "embedder",
    "analysis": "analysis",
}
# valuescope's own plugins: also declared as entry points in pyproject.toml; listed here as well so a source
# checkout on PYTHONPATH (no installed metadata, or metadata from an older install) finds them too
BUILTIN_PLUGINS: tuple[str, ...] = (
    "valuescope.ingest.plugin",
    "valuescope.privacy.plugin",
    "valuescope.embed.plugin",
    "valuescope.extract.plugin",
    "valuescope.analysis.plugin",
)


class Registry:
    """Names -> lazily imported objects, per kind; filled by plugins' ``register`` functions."""

    def __init__(self) -> None:
        self._targets: dict[str, dict[str, Any]] = {kind: {} for kind in KINDS}
        self._owner: dict[tuple[str, str], str] = {}
        self._plugin = "?"
        self._loaded = False

    def add(self, kind: str, name: str, target: Any) -> None:
        """Register ``target`` ("module:attr", "module", or the object itself) as ``name`` of ``kind``."""
        if kind not in KINDS:
            raise PluginError(f"plugin {self._plugin} registers unknown kind {kind!r}; kinds: {', '.join(KINDS)}")
        known = self._targets[kind].get(name)
        if known is not None and known != target:
            owner = self._owner[(kind, name)]
            raise PluginError(f"{KINDS[kind]} {name!r} is registered by both {owner} and {self._plugin}")
        self._targets[kind][name] = target
        self._owner[(kind, name)] = self._plugin

    def load_plugin(self, module: str) -> None:
        """Import one plugin module and let it register (idempotent: adding the same target twice is fine)."""
        plugin = importlib.import_module(module)
        register = getattr(plugin, "register", None)
        if register is None:
            raise PluginError(f"plugin {module} has no register(registry) function")
        self._plugin, previous = module, self._plugin
        try:
            register(self)
        finally:
            self._plugin = previous

    def load(self, modules: Iterable[str] | None = None) -> Registry:
        """Load the built-in plugins and every installed ``valuescope.plugins`` entry point, once."""
        if self._loaded and modules is None:
            return self
        self._loaded = True
        names = list(BUILTIN_PLUGINS) if modules is None else list(modules)
        if modules is None:
            names += [ep.value for ep in entry_points(group=ENTRY_POINT_GROUP)]
        for module in dict.fromkeys(names):  # in order, once each
            self.load_plugin(module)
        return self

    def owner(self, kind: str, name: str) -> str:
        """The plugin module that registered ``name``."""
        self.load()
        return self._owner[(kind, name)]

    def names(self, kind: str) -> list[str]:
        """Registered names of one kind, in registration order."""
        self.load()
        return list(self._targets[kind])

    def get(self, kind: str, name: str) -> Any:
        """The object registered under ``name``; a clear error naming the known ones otherwise."""
        self.load()
        try:
            target = self._targets[kind][name]
        except KeyError:
            known = ", ".join(sorted(self._targets[kind]))
            raise PluginError(f"unknown {KINDS[kind]} {name!r}; known: {known}") from None
        if not isinstance(target, str):
            return target
        module, _, attr = target.partition(":")
        loaded = importlib.import_module(module)
        return getattr(loaded, attr) if attr else loaded  # "pkg.module" = the module itself (readers)


REGISTRY = Registry()


def get(kind: str, name: str) -> Any:
    return REGISTRY.get(kind, name)


def names(kind: str) -> list[str]:
    return REGISTRY.names(kind)
