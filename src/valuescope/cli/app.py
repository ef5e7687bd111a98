"""The typer application object; command modules register themselves on it."""

from __future__ import annotations

import typer
from rich.console import Console

from valuescope.errors import ValuescopeError

app = typer.Typer(
    name="valuescope",
    help="Measure which values an AI assistant expresses in real conversations, and how.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console(stderr=True)


class UserError(ValuescopeError):
    """An error the user can fix (bad path, bad option): printed as one line, exit 2."""
