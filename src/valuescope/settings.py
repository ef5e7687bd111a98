"""The base of every configuration section: unknown keys are one clear error naming the nearest valid key.

A typo such as ``[extract] modle = ...`` in run.toml used to pass silently (the default model ran); now it
fails before any work with ``unknown setting 'modle'; did you mean 'model'?``.
"""

from __future__ import annotations

import difflib
from typing import Any

from pydantic import BaseModel, ConfigDict, model_validator


def unknown_key_message(key: str, known: list[str], where: str = "") -> str:
    """``unknown setting 'x'; did you mean 'y'?`` (or the list of valid keys when nothing is close)."""
    name = f"{where}.{key}" if where else key
    near = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    if near:
        hint = f"did you mean {(where + '.' if where else '') + near[0]!r}?"
    else:
        hint = f"valid keys: {', '.join(sorted(known))}"
    return f"unknown setting {name!r}; {hint}"


class StrictModel(BaseModel):
    """A settings model that refuses keys it does not declare."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _known_keys(cls, data: Any) -> Any:
        if isinstance(data, dict):
            known = list(cls.model_fields)
            for key in data:
                if key not in cls.model_fields:
                    raise ValueError(unknown_key_message(str(key), known))
        return data


def credential(name: str) -> str | None:
    """A credential from the environment: a provider's API key or endpoint (``OPENAI_API_KEY``,
    ``ANTHROPIC_BASE_URL``, the names the SDKs themselves read) or the user-id salt (``VALUESCOPE_SALT``).

    The one environment read allowed below the CLI/API boundary, and only for secrets: a credential is never
    copied into a config, because configs are written to the run's manifest. Every other environment variable
    is a setting, read once at the boundary into the config (valuescope.config.ENVIRONMENT).
    """
    import os

    return os.environ.get(name) or None
