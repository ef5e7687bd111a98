"""The options `ingest`, `analyze`, `demo` and `probe` share, and how the engine options become config."""

from __future__ import annotations

from typing import Any

import typer

from valuescope.cli.app import UserError
from valuescope.ingest.formats import FORMATS

InputsArg = typer.Argument(
    ...,
    help="Input files, folders or .zip archives (chat exports, API logs, traces, JSONL, JSON, text, CSV, Parquet, Arrow; .gz read transparently).",
)
OutOpt = typer.Option(..., "--out", "-o", help="Run directory to create or resume.")
FormatOpt = typer.Option(None, "--format", help=f"Force the input format: {', '.join(FORMATS)} (default: detect).")
StrictOpt = typer.Option(False, "--strict", help="Fail if any record is quarantined.")
KeepRawOpt = typer.Option(False, "--keep-raw", help="Also keep unscrubbed text in conversations_raw.parquet.")
ScrubOpt = typer.Option(None, "--scrub", help="Personal-data scrubbing: off | regex | ner (default: regex).")
ColumnOpt = typer.Option(
    None, "--column", help="CSV/Parquet column mapping FIELD=COLUMN, e.g. messages=chat (repeatable)."
)
ConfigOpt = typer.Option(None, "--config", help="RunConfig as TOML or JSON (sections ingest, privacy, extract, ...).")
WorkersOpt = typer.Option(None, "--workers", help="Local engine processes (default: up to 2).")
QuietOpt = typer.Option(False, "--quiet", "-q", help="No progress bars.")
EngineOpt = typer.Option(
    None, "--engine", help="Who computes batches and chunks: local (processes here) | ray (a Ray cluster). Same tables."
)
AddressOpt = typer.Option(
    None,
    "--address",
    help="With --engine ray: auto (the running cluster) | ray://HOST:PORT (default: a local instance).",
)
RayWorkersOpt = typer.Option(
    None, "--ray-workers", help="With --engine ray: actors per stage at most, and a local instance's CPUs."
)


def engine_settings(engine: str | None, address: str | None, ray_workers: int | None) -> dict[str, Any]:
    """The engine options as config overrides; --address / --ray-workers without --engine ray are a mistake."""
    if (address or ray_workers) and engine not in (None, "ray"):
        raise UserError("--address and --ray-workers go with --engine ray")
    if engine not in (None, "local", "ray"):
        raise UserError(f"unknown --engine {engine!r}: local | ray")
    if ray_workers is not None and ray_workers < 1:
        raise UserError("--ray-workers must be at least 1")
    return {
        "engine": engine or ("ray" if address or ray_workers else None),
        "ray_address": address,
        "ray_workers": ray_workers,
    }


def column_map(columns: list[str] | None) -> dict[str, str] | None:
    if not columns:
        return None
    out = {}
    for spec in columns:
        field, sep, column = spec.partition("=")
        if not sep or not field or not column:
            raise UserError(f"--column expects FIELD=COLUMN, got {spec!r}")
        out[field.strip()] = column.strip()
    return out
