"""Notebook entry points: the same runs as the CLI, returned as DataFrames.

import valuescope.api as vs
run = vs.analyze(["logs.jsonl"], "runs/mine", scrub="regex")
run["judgments"]                       # a pandas DataFrame
run.sql("select task_category, count(*) from judgments group by 1")
vs.load_run("runs/mine").quarantine
"""

from __future__ import annotations

import difflib
import functools
import json
import platform
import time
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime
from importlib import metadata, resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from valuescope.config import RunConfig, with_environment
from valuescope.embed.base import set_threads
from valuescope.engine.executors import open_executor
from valuescope.engine.rundir import RunDir
from valuescope.engine.runner import Executor, run_stages
from valuescope.errors import ConfigError
from valuescope.pipeline import build_stages
from valuescope.settings import unknown_key_message

if TYPE_CHECKING:
    import pandas as pd

SAMPLE = "sample.jsonl.gz"
_VERSIONED = ("valuescope", "pydantic", "pyarrow", "duckdb", "pandas", "numpy", "onnxruntime", "scikit-learn")


class Run:
    """A finished (or partial) run directory, read-only."""

    def __init__(self, path: str | Path) -> None:
        self.dir = RunDir(path, create=False)
        self.path = self.dir.path

    @property
    def manifest(self) -> dict[str, Any]:
        return self.dir.read_manifest()

    @property
    def tables(self) -> list[str]:
        return self.dir.tables()

    def __getitem__(self, table: str) -> pd.DataFrame:
        return self.dir.read_df(table)

    def __contains__(self, table: str) -> bool:
        return self.dir.has_table(table)

    @property
    def quarantine(self) -> pd.DataFrame:
        import pandas as pd

        rows = self.dir.read_quarantine()
        cols = ["stage", "source", "line", "record_id", "reason", "raw"]
        return pd.DataFrame(rows, columns=cols) if rows else pd.DataFrame(columns=cols)

    def sql(self, query: str) -> pd.DataFrame:
        """Query the run's tables (views named as the tables, `/` -> `_`) with DuckDB.

        The views live in an in-memory database: querying never writes to (or waits on) the run.
        """
        import duckdb

        con = duckdb.connect()
        try:
            self.dir.create_views(con)
            return con.execute(query).df()
        finally:
            con.close()

    def __repr__(self) -> str:
        return f"Run({str(self.path)!r}, tables={self.tables})"


def executor_for(config: RunConfig) -> AbstractContextManager[Executor]:
    """The engine the config names (`engine`, `ray_address`, `ray_workers`, `workers`).

    Ray actors are not forked from this process, so they are told the embedder threads themselves: the
    configured count, else 1 (one actor per CPU, as one local worker per core)."""
    setup = functools.partial(set_threads, config.threads if config.threads is not None else 1)
    return open_executor(config.engine, config.workers, config.ray_address, config.ray_workers, worker_setup=setup)


def load_run(path: str | Path) -> Run:
    return Run(path)


def sample_path() -> Path:
    """The bundled sample corpus (hh-rlhf + JailbreakBench, MIT; see data/sample/README.md)."""
    return Path(str(resources.files("valuescope.data") / "sample" / SAMPLE))


def versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for dist in _VERSIONED:
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            pass
    return out


def load_config(path: str | Path | None) -> RunConfig:
    """RunConfig from a TOML or JSON file (sections ingest, privacy, extract, ...)."""
    if path is None:
        return RunConfig()
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"config file not found: {p}")
    text = p.read_text("utf-8")
    if p.suffix.lower() == ".json":
        data = json.loads(text)
    else:
        import tomllib

        data = tomllib.loads(text)
    return RunConfig.model_validate(data)


# -- which stages exist: valuescope.pipeline.build_stages (re-exported here) ----------------------------


def _start(run: RunDir, config: RunConfig) -> None:
    run.update_manifest(
        config=config.model_dump(mode="json"),
        versions=versions(),
        started=datetime.now(UTC).isoformat(timespec="seconds"),
        status="running",  # "complete" only once every stage's tables are on disk
    )


@contextmanager
def _working(out: str | Path, config: RunConfig) -> Iterator[RunDir]:
    """Lock the run directory, mark it running, and mark how it ended (complete / failed: reason)."""
    run = RunDir(out)
    with run.lock():
        _start(run, config)
        try:
            yield run
        except BaseException as exc:
            reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            try:
                run.update_manifest(status=f"failed: {reason}"[:500])
            except OSError:  # the disk that failed the stage may fail this too: "running" stays, also not complete
                pass
            raise
        run.update_manifest(status="complete")


def ingest(
    inputs: list[str | Path],
    out: str | Path,
    config: RunConfig | None = None,
    quiet: bool = True,
    environ: Mapping[str, str] | None = None,
) -> Run:
    """Read, validate and scrub INPUTS into OUT (conversations.parquet + quarantine.jsonl).

    ``environ``: where settings named by environment variables are read (default os.environ; the CLI, which
    has already read them under its own options' precedence, passes ``{}``).
    """
    from valuescope.ingest.stage import ingest_stages

    config = with_environment(config or RunConfig(), environ)
    set_threads(config.threads)
    stages = ingest_stages([str(p) for p in inputs], config)
    with _working(out, config) as run:
        with executor_for(config) as executor:
            run_stages(run, list(stages), quiet=quiet, executor=executor)
    return Run(run.path)


def analyze(
    inputs: list[str | Path] | None,
    out: str | Path,
    config: RunConfig | None = None,
    quiet: bool = True,
    environ: Mapping[str, str] | None = None,
    **overrides: Any,
) -> Run:
    """Run every stage. `overrides` set config fields by section, e.g. scrub="off", extractor="reference".

    Settings named by environment variables (config.ENVIRONMENT) are read here, once, into the config, from
    ``environ`` (default os.environ; the CLI has read them already and passes ``{}``).
    With no inputs, later stages run over the conversations already in OUT.
    """
    config = with_environment(config or RunConfig(), environ)
    config = _keep_llm_cache_in_run(apply_overrides(config, **overrides), out)
    set_threads(config.threads)
    try:
        stages = build_stages(config, [str(p) for p in inputs] if inputs else None)
    except ValueError as exc:  # a stage rejected its settings (unknown extractor, missing labels file...)
        raise ConfigError(str(exc)) from exc
    with _working(out, config) as run:
        started = time.perf_counter()
        with executor_for(config) as executor:
            run_stages(run, stages, quiet=quiet, executor=executor)
        run.update_manifest(seconds_total=round(time.perf_counter() - started, 3))
    return Run(run.path)


def _keep_llm_cache_in_run(config: RunConfig, out: str | Path) -> RunConfig:
    """LLM answers stay in the run (RUN/.cache/llm) unless a cache folder is set explicitly.

    Answers hold task summaries and values derived from users' conversations: by
    default they live and die with the run, like every other derived table.
    Set `extract.llm_cache_dir`, or `cache_dir` ($VALUESCOPE_CACHE_DIR), to share answers across runs.
    """
    if config.extract.extractor != "llm" or config.extract.llm_cache_dir:
        return config
    folder = Path(config.cache_dir) / "llm" if config.cache_dir else Path(out) / ".cache" / "llm"
    extract = config.extract.model_copy(update={"llm_cache_dir": str(folder)})
    return config.model_copy(update={"extract": extract})


def demo(out: str | Path = "runs/demo", quiet: bool = True) -> Run:
    """Analyze the bundled sample corpus with the default (offline) pipeline."""
    return analyze([sample_path()], out, quiet=quiet)


def apply_overrides(config: RunConfig, **overrides: Any) -> RunConfig:
    """Set fields by name wherever they live (`scrub` -> privacy.scrub, or `**{"taxonomy.seed": 1}`).

    None values are ignored (an option not given); unknown or ambiguous names are an error.
    """
    data = config.model_dump()
    for key, value in overrides.items():
        if value is None:
            continue
        section, _, field = key.rpartition(".")
        if section:
            if not isinstance(data.get(section), dict):
                raise ConfigError(unknown_key_message(section, [k for k, v in data.items() if isinstance(v, dict)]))
            if field not in data[section]:
                raise ConfigError(unknown_key_message(field, list(data[section]), where=section))
            data[section][field] = value
            continue
        if key in data and not isinstance(data[key], dict):
            data[key] = value
            continue
        owners = [s for s, fields in data.items() if isinstance(fields, dict) and key in fields]
        if not owners:
            every = [f"{s}.{f}" for s, fields in data.items() if isinstance(fields, dict) for f in fields]
            every += [k for k, v in data.items() if not isinstance(v, dict)]
            near = [
                k
                for k in every
                if k.rpartition(".")[2]
                in difflib.get_close_matches(key, [e.rpartition(".")[2] for e in every], n=1, cutoff=0.6)
            ]
            raise ConfigError(f"unknown setting {key!r}" + (f"; did you mean {near[0]!r}?" if near else ""))
        if len(owners) > 1:
            raise ConfigError(f"ambiguous setting {key!r}: use one of {', '.join(f'{o}.{key}' for o in owners)}")
        data[owners[0]][key] = value
    return RunConfig.model_validate(data)
