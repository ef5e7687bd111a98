"""valuescope command line: one module per command group, each calling the library.

Command modules (owner in parentheses):
  run.py       ingest, stats, analyze, demo          (foundation)
  evaluate.py  evaluate                              (extract)
  taxonomy.py  taxonomy place / build                (taxonomy)
  compare.py   compare                               (analysis)
  report.py    report, serve                         (report)
  audit.py     audit, scrub                          (privacy)
  probe.py     probe                                 (probe)
"""

from __future__ import annotations

import importlib
import os
import sys

from rich.markup import escape

from valuescope.cli.app import UserError, app, console

COMMAND_MODULES = ("run", "evaluate", "taxonomy", "compare", "report", "audit", "probe")

for _name in COMMAND_MODULES:  # each registers its commands on `app`
    importlib.import_module(f"valuescope.cli.{_name}")


def main() -> None:
    """Run the CLI; user errors, and file-system, lock and salt errors from any command, are one line, exit 2."""
    from valuescope.cli.run import one_line
    from valuescope.engine.rundir import RunLockedError
    from valuescope.privacy.ids import SaltError

    try:
        app()
    except UserError as exc:
        _fail(str(exc))
    except (OSError, RunLockedError, SaltError) as exc:  # a full or read-only disk is the user's to fix, not a bug
        if os.environ.get("VALUESCOPE_DEBUG"):
            raise
        _fail(one_line(exc))


def _fail(message: str) -> None:
    console.print(f"[red]error:[/red] {escape(message)}", soft_wrap=True)  # one line, text verbatim
    sys.exit(2)
