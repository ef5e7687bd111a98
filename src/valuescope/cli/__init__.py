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
import sys

from rich.markup import escape

from valuescope.cli.app import UserError, app, console

COMMAND_MODULES = ("run", "evaluate", "taxonomy", "compare", "report", "audit", "probe")

for _name in COMMAND_MODULES:
    try:
        importlib.import_module(f"valuescope.cli.{_name}")
    except ModuleNotFoundError as exc:  # a command group not built yet
        if exc.name != f"valuescope.cli.{_name}":
            raise


def main() -> None:
    try:
        app()
    except UserError as exc:
        console.print(f"[red]error:[/red] {escape(str(exc))}", soft_wrap=True)  # one line, text verbatim
        sys.exit(2)
