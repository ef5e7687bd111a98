"""The root of every error valuescope shows a user as one line (the CLI exits 2, no traceback).

Anything that is not a :class:`ValuescopeError` (or an ``OSError`` from the disk) is a bug and keeps its
traceback. Subclasses also derive from the builtin the code raised before (``ValueError``, ``RuntimeError``)
so callers that caught those keep working.
"""

from __future__ import annotations


class ValuescopeError(Exception):
    """A problem the user can fix: bad input, bad configuration, a missing plugin, a refused run."""


class ConfigError(ValuescopeError, ValueError):
    """The configuration cannot make a pipeline (raised before any work is done)."""


class PluginError(ConfigError):
    """No plugin is registered under the requested name (the message lists the known ones)."""
