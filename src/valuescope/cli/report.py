"""`valuescope report | serve`: the HTML report and the read-only explorer."""

from __future__ import annotations

from pathlib import Path

import typer

from valuescope.cli.app import UserError, app, console
from valuescope.config import RunConfig
from valuescope.engine.rundir import RunDir

RunArg = typer.Argument(..., help="Run directory (made by `valuescope analyze` or `valuescope compare`).")
ExamplesOpt = typer.Option(
    False, "--examples", help="Include scrubbed example snippets, only for values above the privacy floor."
)


def _run_config(run: Path) -> RunConfig:
    """The configuration the run was made with (manifest), so the report uses the run's own privacy floor."""
    try:
        manifest = RunDir(run, create=False).read_manifest()
    except FileNotFoundError as exc:
        raise UserError(str(exc)) from None
    saved = manifest.get("config") or {}
    try:
        return RunConfig.model_validate(saved)
    except ValueError:  # written by another version: keep at least its privacy floor and report settings
        config = RunConfig()
        for section in ("privacy", "report"):
            try:
                setattr(config, section, type(getattr(config, section)).model_validate(saved.get(section) or {}))
            except ValueError:
                pass
        return config


@app.command()
def report(
    run: Path = RunArg,
    examples: bool = ExamplesOpt,
    out: Path | None = typer.Option(None, "--out", "-o", help="Write the page here instead of RUN/report.html."),
    top: int | None = typer.Option(None, "--top", help="Values per chart (default 20)."),
) -> None:
    """Regenerate RUN/report.html from the run's tables (no extraction is rerun)."""
    from valuescope.report.html import write_report

    config = _run_config(run)
    config.report.examples = examples
    if top:
        config.report.top_n = top
    from valuescope.cli.run import _guard

    def write() -> Path:
        if out is not None:
            return write_report(run, config.report, config.privacy, out)
        with RunDir(run, create=False).lock():  # not while an analyze is rewriting the tables
            return write_report(run, config.report, config.privacy, out)

    path = _guard(write)
    console.print(f"report: {path} ({path.stat().st_size / 1e6:.1f} MB){' with example snippets' if examples else ''}")


@app.command()
def serve(
    run: Path = RunArg,
    host: str = typer.Option(
        "127.0.0.1", "--host", help="Interface to bind; anything but 127.0.0.1/localhost/::1 needs --token."
    ),
    port: int = typer.Option(8765, "--port"),
    token: str | None = typer.Option(
        None,
        "--token",
        envvar="VALUESCOPE_TOKEN",
        help="Require this token on every request (header X-Valuescope-Token, Bearer, or ?token=).",
    ),
    examples: bool = ExamplesOpt,
) -> None:
    """A small read-only explorer over the run: search values, walk the tree, filter, see where a value occurs."""
    from valuescope.report.serve import BindError, check_bind, create_app

    try:
        check_bind(host, token)
    except BindError as exc:
        raise UserError(str(exc)) from None
    config = _run_config(run)
    app_ = create_app(run, examples=examples, token=token, privacy=config.privacy, config=config.report)
    import uvicorn

    shown = f"[{host}]" if ":" in host else host
    console.print(f"explorer: http://{shown}:{port}/{'?token=…' if token else ''}  (read-only; Ctrl-C to stop)")
    uvicorn.run(app_, host=host, port=port, log_level="warning")


__all__ = ["report", "serve"]
