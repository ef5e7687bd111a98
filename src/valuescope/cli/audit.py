"""`valuescope audit | export | scrub`: privacy checks before anything leaves a run."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from valuescope.cli.app import UserError, app, console


@app.command()
def audit(
    run: Path = typer.Argument(..., help="Run directory to audit."),
    canaries: Path | None = typer.Option(None, "--canaries", help="File of canary strings, one per line."),
    canary: list[str] | None = typer.Option(None, "--canary", help="A canary string (repeatable)."),
    include: list[Path] | None = typer.Option(None, "--include", help="Extra file or folder to scan (repeatable)."),
    no_explorer: bool = typer.Option(False, "--no-explorer", help="Do not probe the explorer API."),
    examples: bool = typer.Option(False, "--examples", help="Probe the explorer as started with --examples."),
    max_show: int = typer.Option(50, "--max-show", help="Findings to list (all are counted)."),
) -> None:
    """Scan everything a run would share for PII patterns, canaries and the salt; exit 1 on any finding."""
    from valuescope.report.audit import audit_run, load_canaries

    try:
        strings = load_canaries(canaries, canary or [])
        report = audit_run(run, strings, include or [], explorer=not no_explorer, examples=examples)
    except (FileNotFoundError, ValueError) as exc:
        raise UserError(str(exc)) from None
    from rich.markup import escape

    for f in report.findings[:max_show]:  # str(f) holds masked previews and masked request labels only
        console.print(f"[red]finding[/red] {escape(str(f))}", markup=True, highlight=False)
    if len(report.findings) > max_show:
        console.print(f"... and {len(report.findings) - max_show} more")
    status = "[green]PASS[/green]" if report.ok else "[red]FAIL[/red]"
    console.print(
        f"{status}: {len(report.scanned)} files/responses scanned, {len(strings)} canaries, "
        f"{len(report.findings)} findings"
    )
    if not report.ok:
        raise typer.Exit(1)


@app.command()
def export(
    run: Path = typer.Argument(..., help="Run directory."),
    out: Path | None = typer.Option(None, "--out", "-o", help="Output folder (default RUN/export)."),
    min_conversations: int | None = typer.Option(None, "--min-conversations", help="Stricter floor than the run's."),
    min_users: int | None = typer.Option(None, "--min-users", help="Stricter floor than the run's."),
) -> None:
    """Write the run's aggregate tables as CSV, behind the privacy floor (plus PRIVACY.md)."""
    from valuescope.engine.rundir import RunDir
    from valuescope.privacy.config import PrivacyConfig
    from valuescope.report.export import export_run, floor_config

    try:
        override = None
        if min_conversations is not None or min_users is not None:
            base = floor_config(RunDir(run, create=False), None)
            override = PrivacyConfig(
                min_conversations=max(base.min_conversations, min_conversations or 0),
                min_users=max(base.min_users, min_users or 0),
            )
        summary = export_run(run, out, override)
    except (FileNotFoundError, ValueError) as exc:
        raise UserError(str(exc)) from None
    target = out or run / "export"
    console.print(
        f"exported {len(summary['files'])} files to {target} (floor: {summary['min_conversations']} conversations, "
        f"{summary['min_users']} users); run `valuescope audit {run}` before sharing"
    )


@app.command()
def scrub(
    text: str | None = typer.Argument(None, help="Text to scrub (or use --file, or '-' for stdin)."),
    file: Path | None = typer.Option(None, "--file", "-f", help="Scrub this text file."),
    mode: str = typer.Option("regex", "--scrub", "--mode", help="regex | ner"),
    entity: list[str] | None = typer.Option(None, "--entity", "-e", help="Only these types (repeatable)."),
    show: bool = typer.Option(False, "--show", help="List findings (type, offsets) on stderr."),
) -> None:
    """Try the scrubber: print the text with personal data replaced by [TYPE] placeholders."""
    from valuescope.privacy.base import get_scrubber
    from valuescope.privacy.config import PrivacyConfig

    if file is not None:
        if not file.is_file():
            raise UserError(f"no such file: {file}")
        content = file.read_text("utf-8", errors="replace")
    elif text == "-" or (text is None and not sys.stdin.isatty()):
        content = sys.stdin.read()
    elif text is not None:
        content = text
    else:
        raise UserError("give TEXT, --file FILE or pipe text on stdin")
    from pydantic import ValidationError

    try:
        scrubber = get_scrubber(PrivacyConfig(scrub=mode, entities=entity or []))
    except ValidationError as exc:
        raise UserError(exc.errors()[0]["msg"]) from None
    except (ValueError, RuntimeError) as exc:
        raise UserError(str(exc).splitlines()[0]) from None
    findings = scrubber.find(content)
    if show:
        for f in findings:
            console.print(f"{f.entity} {f.start}-{f.end}", highlight=False)
    typer.echo(scrubber.render(content, findings), nl=not content.endswith("\n"))
