"""probe(): send the suite, then run every later stage of `valuescope analyze` over the answers."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from valuescope import api
from valuescope.config import RunConfig, with_environment
from valuescope.engine.rundir import RunDir
from valuescope.engine.runner import run_stages
from valuescope.extract.llm.window import estimate_tokens
from valuescope.probe.stage import ProbeStage
from valuescope.probe.suite import Scenario, load_suite
from valuescope.probe.target import TargetConfig

#: assumed answer length for --dry-run (tokens): prior answers are part of the next turn's input
EST_ANSWER_TOKENS = 300


def probe_cache_dir(out: str | Path) -> str:
    """Target answers stay in the run unless $VALUESCOPE_CACHE_DIR shares them (like the extractor's)."""
    env = os.environ.get("VALUESCOPE_CACHE_DIR")
    return str(Path(env) / "probe") if env else str(Path(out) / ".cache" / "probe")


def probe(
    target: TargetConfig,
    out: str | Path,
    suite: str | Path | None = "default",
    turns: int = 2,
    samples: int = 1,
    config: RunConfig | None = None,
    quiet: bool = True,
) -> api.Run:
    """Probe `target` with the suite into run directory OUT and analyze it (extract, taxonomy, analysis, report)."""
    from valuescope.extract.llm.backends import get_backend

    config = api._keep_llm_cache_in_run(with_environment(config or RunConfig()), out)
    refuse_ingested_run(out)
    get_backend(target.extract_config())  # a bad backend name or a missing key: an error now, before any work
    scenarios = load_suite(suite)
    name = "default" if suite in (None, "default") else str(suite)
    stage = ProbeStage(scenarios, target, turns, samples, config.privacy, name, probe_cache_dir(out))
    try:
        stages = [stage, *api.build_stages(config, None)]
    except ValueError as exc:
        raise api.ConfigError(str(exc)) from exc
    with api._working(out, config) as run:
        with api.executor_for(config) as executor:
            run_stages(run, stages, quiet=quiet, executor=executor)
    return api.Run(run.path)


def refuse_ingested_run(out: str | Path) -> None:
    """A probe writes conversations.parquet: never over a run that holds ingested (real) conversations."""
    manifest = Path(out) / "manifest.json"
    if not manifest.is_file():
        return
    import json

    data = json.loads(manifest.read_text("utf-8"))
    if RunDir(out, create=False).has_table("conversations") and "probe" not in data:
        raise api.ConfigError(f"{out} holds ingested conversations, not a probe: probe into a new --out directory")


def dry_run(target: TargetConfig, scenarios: list[Scenario], turns: int, samples: int) -> dict[str, Any]:
    """Requests and token estimates (characters / 4), without sending anything."""
    requests = input_tokens = 0
    system = estimate_tokens(target.system_prompt or "")
    for s in scenarios:
        for t, _ in enumerate(s.turns[:turns]):
            requests += samples
            users = sum(estimate_tokens(u) for u in s.turns[: t + 1])
            input_tokens += samples * (system + users + t * EST_ANSWER_TOKENS + 4 * (2 * t + 1))
    return {
        "scenarios": len(scenarios),
        "samples": samples,
        "turns": turns,
        "requests": requests,
        "input_tokens": input_tokens,
        "output_tokens (upper bound)": requests * target.max_output_tokens,
        "output_tokens (at ~300 per answer)": requests * EST_ANSWER_TOKENS,
        "token_method": "characters / 4",
    }
