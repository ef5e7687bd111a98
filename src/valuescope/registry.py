"""Plugins by name: every registry maps a name to "module:Class", imported on first use.

Importing lazily keeps optional dependencies optional (Presidio for "ner",
the anthropic SDK for its backend): a plugin costs nothing until it is chosen.
"""

from __future__ import annotations

import importlib
from typing import Any

from valuescope.errors import PluginError


def load_plugin(registry: dict[str, str], name: str, kind: str) -> Any:
    """The object registered under `name`; a clear error naming the known ones otherwise."""
    try:
        target = registry[name]
    except KeyError:
        raise PluginError(f"unknown {kind} {name!r}; known: {', '.join(sorted(registry))}") from None
    module, attr = target.split(":")
    return getattr(importlib.import_module(module), attr)
