"""`valuescope ingest | stats | analyze | demo`: thin wrappers over valuescope.api."""

from __future__ import annotations

import os
import re
from collections import Counter
from pathlib import Path
from typing import Any

import typer
from pydantic import ValidationError
from rich.table import Table

from valuescope import api
from valuescope.cli.app import UserError, app, console
from valuescope.cli.options import (
    AddressOpt,
    ColumnOpt,
    ConfigOpt,
    EngineOpt,
    FormatOpt,
    InputsArg,
    KeepRawOpt,
    OutOpt,
    QuietOpt,
    RayWorkersOpt,
    ScrubOpt,
    StrictOpt,
    WorkersOpt,
    column_map,
    engine_settings,
)
from valuescope.config import RunConfig, with_environment
from valuescope.engine.rundir import RunDir, RunLockedError
from valuescope.errors import ValuescopeError
from valuescope.ingest.draft import IngestError
from valuescope.privacy.ids import SaltError


def _config(config_file: Path | None, **overrides: Any) -> RunConfig:
    """run.toml, then the environment (config.ENVIRONMENT), then the options given: the later wins. The
    commands then call the API with ``environ={}``, so the environment cannot override an option again."""
    try:
        return api.apply_overrides(with_environment(api.load_config(config_file)), **overrides)
    except FileNotFoundError as exc:
        raise UserError(str(exc)) from None
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc']))}: {e['msg'].removeprefix('Value error, ')}" for e in exc.errors()
        )
        raise UserError(f"bad configuration: {problems}") from None
    except ValueError as exc:  # TOML/JSON syntax, unknown setting
        raise UserError(f"bad configuration: {str(exc).splitlines()[0]}") from None


def one_line(exc: BaseException) -> str:
    """The error as one line: `No space left on device: RUN/judgments.parquet` for an OSError with a file."""
    if isinstance(exc, OSError) and exc.strerror and exc.filename:
        return f"{exc.strerror}: {exc.filename}"
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _guard(fn, *args: Any, **kwargs: Any) -> Any:
    """Input, ingest, configuration, lock and file-system errors become one-line user errors, exit 2
    (VALUESCOPE_DEBUG=1: traceback). A full or read-only disk is the user's to fix, not a bug.

    Anything else is a bug and keeps its traceback.
    """
    try:
        return fn(*args, **kwargs)
    except (ValuescopeError, IngestError, OSError, RunLockedError, SaltError) as exc:
        if os.environ.get("VALUESCOPE_DEBUG"):
            raise
        raise UserError(one_line(exc)) from None


SKIPPED_SHOWN = 20


def found_summary(inputs: list[dict[str, Any]]) -> list[str]:
    """What detection found, per format: 'ChatGPT export, 2 shards, 431 conversations'."""
    from valuescope.ingest.formats import LABELS

    out = []
    for fmt in dict.fromkeys(f["format"] for f in inputs):
        files = [f for f in inputs if f["format"] == fmt]
        unit = "shards" if fmt == "chatgpt" and len(files) > 1 else "files" if len(files) > 1 else "file"
        ok = sum(f["ok"] for f in files)
        joined = sum(f.get("joined", 0) for f in files)
        extra = f" ({joined:,} requests joined to their answers)" if joined else ""
        out.append(f"{LABELS.get(fmt, fmt)}, {len(files)} {unit}, {ok:,} conversations{extra}")
    return out


def _print_ingest(run: api.Run) -> None:
    inputs = run.manifest.get("inputs", [])
    table = Table(title="ingest", show_lines=False)
    for col in ("input", "format", "read", "ok", "quarantined"):
        table.add_column(col, justify="left" if col in ("input", "format") else "right")
    for f in inputs:
        table.add_row(Path(f["path"]).name, f["format"], f"{f['read']:,}", f"{f['ok']:,}", f"{f['quarantined']:,}")
    if len(inputs) > 1:
        table.add_row("total", "", *(f"{sum(f[k] for f in inputs):,}" for k in ("read", "ok", "quarantined")))
    console.print(table)
    for line in found_summary(inputs):
        console.print(f"found: {line}")
    skipped = run.manifest.get("skipped_files", [])
    for item in skipped[:SKIPPED_SHOWN]:
        console.print(f"skipped {item['path']}: {item['reason']}", markup=False, highlight=False, soft_wrap=True)
    if len(skipped) > SKIPPED_SHOWN:
        console.print(f"... and {len(skipped) - SKIPPED_SHOWN:,} more skipped file(s) (manifest.json skipped_files)")
    total_q = sum(f["quarantined"] for f in inputs)
    if total_q:
        console.print(f"{total_q:,} quarantined with reasons in {run.path / 'quarantine.jsonl'}")


@app.command()
def ingest(
    inputs: list[str] = InputsArg,
    out: Path = OutOpt,
    format: str | None = FormatOpt,
    strict: bool = StrictOpt,
    keep_raw: bool = KeepRawOpt,
    scrub: str | None = ScrubOpt,
    column: list[str] | None = ColumnOpt,
    config: Path | None = ConfigOpt,
    workers: int | None = WorkersOpt,
    engine: str | None = EngineOpt,
    address: str | None = AddressOpt,
    ray_workers: int | None = RayWorkersOpt,
    quiet: bool = QuietOpt,
) -> None:
    """Read, validate and scrub conversations into a run directory (RUN/conversations/ + quarantine.jsonl)."""
    cfg = _config(
        config,
        format=format,
        strict=strict or None,
        keep_raw=keep_raw or None,
        scrub=scrub,
        column_map=column_map(column),
        workers=workers,
        **engine_settings(engine, address, ray_workers),
    )
    run = _guard(api.ingest, inputs, out, cfg, quiet=quiet, environ={})
    _print_ingest(run)


@app.command()
def analyze(
    inputs: list[str] | None = typer.Argument(
        None, help="Input files or folders; none = rerun the later stages over the conversations already in --out."
    ),
    out: Path = OutOpt,
    format: str | None = FormatOpt,
    strict: bool = StrictOpt,
    keep_raw: bool = KeepRawOpt,
    scrub: str | None = ScrubOpt,
    column: list[str] | None = ColumnOpt,
    extractor: str | None = typer.Option(None, "--extractor", help="offline (default) | llm | reference."),
    backend: str | None = typer.Option(None, "--backend", help="LLM backend, e.g. openai | anthropic."),
    model: str | None = typer.Option(None, "--model", help="LLM model name."),
    base_url: str | None = typer.Option(
        None, "--base-url", help="OpenAI-compatible server URL (e.g. a local llama.cpp)."
    ),
    reference: Path | None = typer.Option(
        None, "--reference", help="Judgments in GUIDELINES.md JSONL (with --extractor reference)."
    ),
    concurrency: int | None = typer.Option(None, "--concurrency", help="Concurrent LLM requests."),
    llm_processes: int | None = typer.Option(
        None,
        "--llm-processes",
        help="Processes sharing the LLM requests (each keeps concurrency/N in flight; needs --workers >= N).",
    ),
    answers: Path | None = typer.Option(
        None, "--answers", help="Stored answers {key, answer} JSONL for --backend replay."
    ),
    dry_run: bool = typer.Option(
        False,
        "--dry-run",
        help="Ingest, print the extractor's cost estimate, write the LLM requests to OUT/requests.jsonl, stop.",
    ),
    place_second: bool | None = typer.Option(
        None,
        "--place-second/--no-place-second",
        envvar="VALUESCOPE_PLACE_SECOND",
        show_envvar=True,
        help="Place values with the second encoder (e5) too (default on; off: ~5x faster, a few points lower).",
    ),
    place_tuned: bool | None = typer.Option(
        None,
        "--place-tuned/--no-place-tuned",
        envvar="VALUESCOPE_PLACE_TUNED",
        show_envvar=True,
        help="Use the bundled fine-tuned placement heads (default on, for the tree they were trained on).",
    ),
    offline_model: Path | None = typer.Option(
        None,
        "--offline-model",
        envvar="VALUESCOPE_OFFLINE_MODEL",
        show_envvar=True,
        help="Folder of another offline-extractor bundle (model.npz + model.json).",
    ),
    threads: int | None = typer.Option(
        None,
        "--threads",
        envvar="VALUESCOPE_THREADS",
        show_envvar=True,
        min=1,
        help="Embedder threads per process (default: 1 in engine workers; old names VALUESCOPE_ORT_THREADS, "
        "VALUESCOPE_EMBED_THREADS still read, deprecated).",
    ),
    cache_dir: Path | None = typer.Option(
        None,
        "--cache-dir",
        envvar="VALUESCOPE_CACHE_DIR",
        show_envvar=True,
        help="Share LLM and probe answers across runs in this folder (default: inside the run).",
    ),
    llm_http: str | None = typer.Option(
        None,
        "--llm-http",
        envvar="VALUESCOPE_LLM_HTTP",
        show_envvar=True,
        help="auto (default: lean transport for plain-http servers) | default (always the SDK's HTTP stack).",
    ),
    config: Path | None = ConfigOpt,
    workers: int | None = WorkersOpt,
    engine: str | None = EngineOpt,
    address: str | None = AddressOpt,
    ray_workers: int | None = RayWorkersOpt,
    quiet: bool = QuietOpt,
) -> None:
    """Ingest INPUTS and run every stage: extract, taxonomy, analyses, report."""
    if not inputs and not (out.is_dir() and RunDir(out, create=False).has_table("conversations")):
        raise UserError(f"no INPUT given and {out} holds no ingested conversations; pass input files")
    if reference is not None and extractor is None:
        extractor = "reference"
    cfg = _config(
        config,
        format=format,
        strict=strict or None,
        keep_raw=keep_raw or None,
        scrub=scrub,
        column_map=column_map(column),
        extractor=extractor,
        backend=backend,
        model=model,
        base_url=base_url,
        reference=str(reference) if reference else None,
        concurrency=concurrency,
        dry_run=dry_run or None,
        answers=str(answers) if answers else None,
        workers=workers,
        llm_processes=llm_processes,
        place_second=place_second,
        place_tuned=place_tuned,
        offline_model=str(offline_model) if offline_model else None,
        threads=threads,
        cache_dir=str(cache_dir) if cache_dir else None,
        http=llm_http.lower() if llm_http else None,
        **engine_settings(engine, address, ray_workers),
    )
    if cfg.extract.dry_run:
        _dry_run(inputs, out, cfg, quiet)
        return
    run = _guard(api.analyze, inputs, out, cfg, quiet=quiet, environ={})
    _print_ingest(run)
    _print_outputs(run)


def _dry_run(inputs: list[str] | None, out: Path, cfg: RunConfig, quiet: bool) -> None:
    from valuescope.extract.registry import get_extractor
    from valuescope.ingest.table import table_to_conversations

    run = _guard(api.ingest, inputs, out, cfg, quiet=quiet, environ={}) if inputs else api.load_run(out)
    _print_ingest(run)
    try:
        extractor = get_extractor(cfg.extract)
    except (ValueError, FileNotFoundError) as exc:
        raise UserError(str(exc)) from None
    conversations = table_to_conversations(run.dir.read_table("conversations"))
    estimate = extractor.estimate(conversations)
    if hasattr(extractor, "requests"):  # the LLM extractor: the exact requests, for --backend replay
        from valuescope.extract.llm.requests import write_requests

        console.print(f"requests: {write_requests(extractor.requests(conversations), run.path / 'requests.jsonl')}")
    if estimate is None:
        console.print(f"dry run: the {extractor.name} extractor sends nothing anywhere; no cost.")
        return
    table = Table(title=f"dry run: {extractor.name}")
    table.add_column("item")
    table.add_column("estimate", justify="right")
    for key, value in estimate.items():
        table.add_row(
            str(key),
            f"{value:,.4g}" if isinstance(value, float) else f"{value:,}" if isinstance(value, int) else str(value),
        )
    console.print(table)


def _print_outputs(run: api.Run) -> None:
    by_stage = Counter(q.get("stage", "?") for q in run.dir.read_quarantine())
    later = {stage: n for stage, n in by_stage.items() if stage != "ingest"}
    if later:
        shown = ", ".join(f"{stage} {n:,}" for stage, n in later.items())
        console.print(f"quarantined by later stages: {shown} (reasons: valuescope stats {run.path})")
    console.print(f"run directory: {run.path}")
    report = run.path / "report.html"
    if report.is_file():
        console.print(f"report: {report}")
    console.print(f"query with SQL: duckdb {run.path / 'valuescope.duckdb'}")


@app.command()
def demo(
    out: Path = typer.Option(Path("runs/demo"), "--out", "-o", help="Run directory."),
    quiet: bool = QuietOpt,
) -> None:
    """Analyze the bundled sample corpus (hh-rlhf + JailbreakBench; CONTENT WARNING: red-team text)."""
    run = _guard(api.demo, out, quiet=quiet)
    _print_ingest(run)
    _print_outputs(run)


def reason_kind(reason: str) -> str:
    """Group similar reasons: drop details in parentheses, quoted values and numbers."""
    reason = re.sub(r"\s*\(.*?\)", "", reason)
    reason = re.sub(r"'[^']*'|\"[^\"]*\"", "…", reason)
    return re.sub(r"\d[\d,]*", "N", reason).strip()


@app.command()
def stats(run_path: Path = typer.Argument(..., metavar="RUN", help="A run directory.")) -> None:
    """Counts per table, quarantine reasons and stage timings of a run."""
    try:
        run = api.load_run(run_path)
    except FileNotFoundError as exc:
        raise UserError(str(exc)) from None
    manifest = run.manifest
    if not manifest:
        raise UserError(f"{run_path} is not a valuescope run (no manifest.json)")
    cfg = manifest.get("config", {})
    if cfg:
        console.print(
            f"run {run.path}: scrub={cfg.get('privacy', {}).get('scrub')}, "
            f"extractor={cfg.get('extract', {}).get('extractor')}, started {manifest.get('started', '?')}, "
            f"valuescope {manifest.get('versions', {}).get('valuescope', '?')}"
        )
    status = manifest.get("status")
    if status == "running":
        holder = run.dir.holder()
        status = f"running ({holder})" if holder else "interrupted: rerun the same command to resume"
    if status:
        console.print(f"status: {status}")
    if manifest.get("inputs"):
        _print_ingest(run)
    tables = Table(title="tables")
    tables.add_column("table")
    tables.add_column("rows", justify="right")
    for name in run.tables:
        tables.add_row(name, f"{run.dir.num_rows(name):,}")
    console.print(tables)

    quarantine = run.dir.read_quarantine()
    if quarantine:
        kinds = Counter((q.get("stage", "?"), reason_kind(q.get("reason", ""))) for q in quarantine)
        qt = Table(title=f"quarantine ({len(quarantine):,} records)")
        for col in ("stage", "reason", "count"):
            qt.add_column(col, justify="right" if col == "count" else "left")
        for (stage, kind), n in kinds.most_common(15):
            qt.add_row(stage, kind, f"{n:,}")
        console.print(qt)

    stages = manifest.get("stages", {})
    if stages:
        st = Table(title="stages")
        for col in ("stage", "seconds", "stats"):
            st.add_column(col, justify="right" if col == "seconds" else "left")
        for name, info in sorted(stages.items(), key=lambda kv: kv[1].get("finished", 0)):
            shown = ", ".join(
                f"{k}={v:,}" if isinstance(v, int | float) else f"{k}={v}"
                for k, v in list((info.get("stats") or {}).items())[:8]
            )
            st.add_row(name, f"{info.get('seconds', 0):.1f}", shown)
        console.print(st)
    cache = run.path / ".cache"
    if cache.is_dir():
        size = sum(f.stat().st_size for f in cache.rglob("*") if f.is_file())
        console.print(f"checkpoints: {size / 1e6:,.1f} MB in {cache} (safe to delete; a rerun recomputes)")
