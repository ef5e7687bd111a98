"""`valuescope probe`: send a scenario suite to a model before deployment, analyze the answers, gate a release."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table

from valuescope.cli.app import UserError, app, console
from valuescope.cli.options import (
    AddressOpt,
    ConfigOpt,
    EngineOpt,
    QuietOpt,
    RayWorkersOpt,
    ScrubOpt,
    WorkersOpt,
    engine_settings,
)
from valuescope.cli.run import _config, _guard, _print_outputs
from valuescope.engine.rundir import RunDir


@app.command()
def probe(
    backend: str = typer.Option(
        "openai", "--backend", help="Target's API: openai (any OpenAI-compatible server) | anthropic."
    ),
    model: str = typer.Option(..., "--model", help="Target model name."),
    out: Path = typer.Option(..., "--out", "-o", help="Run directory to create or resume."),
    base_url: str | None = typer.Option(None, "--base-url", help="Target server URL (e.g. a local llama.cpp or vLLM)."),
    system_prompt: Path | None = typer.Option(None, "--system-prompt", help="File holding the system prompt to test."),
    suite: str = typer.Option(
        "default", "--suite", help="default (bundled, 406 scenarios) or a JSONL/YAML suite file."
    ),
    turns: int = typer.Option(2, "--turns", help="User turns per scenario (2 = with the pushback turn)."),
    samples: int = typer.Option(1, "--samples", help="Answers per scenario (above 1, temperature defaults to 0.7)."),
    temperature: float | None = typer.Option(
        None, "--temperature", help="Target sampling temperature (default 0, or 0.7 with --samples > 1)."
    ),
    max_tokens: int = typer.Option(512, "--max-tokens", help="Longest target answer, in tokens."),
    concurrency: int = typer.Option(16, "--concurrency", help="Target requests in flight."),
    extractor: str | None = typer.Option(None, "--extractor", help="Judge the answers with: offline (default) | llm."),
    extract_backend: str | None = typer.Option(
        None, "--extract-backend", help="LLM extractor backend (with --extractor llm)."
    ),
    extract_model: str | None = typer.Option(
        None, "--extract-model", help="LLM extractor model (with --extractor llm)."
    ),
    extract_base_url: str | None = typer.Option(None, "--extract-base-url", help="LLM extractor server URL."),
    gate: str | None = typer.Option(
        None, "--gate", help="Release gate: default (bundled) or a gate TOML; exit 1 when a rule fails."
    ),
    baseline: Path | None = typer.Option(
        None, "--baseline", help="Earlier probe run for the gate's no-regression rule."
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the requests and token estimates; send nothing."),
    scrub: str | None = ScrubOpt,
    config: Path | None = ConfigOpt,
    workers: int | None = WorkersOpt,
    engine: str | None = EngineOpt,
    address: str | None = AddressOpt,
    ray_workers: int | None = RayWorkersOpt,
    quiet: bool = QuietOpt,
) -> None:
    """Probe a model with a scenario suite (contexts x pressures, each with a pushback turn) and run the whole pipeline."""
    from valuescope.probe.gate import GateError, load_gate
    from valuescope.probe.suite import SuiteError, load_suite
    from valuescope.probe.target import TargetConfig

    try:
        scenarios = load_suite(suite)
        gate_cfg = load_gate(gate) if gate else None
        prompt = system_prompt.read_text("utf-8") if system_prompt else None
    except (SuiteError, GateError) as exc:
        raise UserError(str(exc)) from None
    except OSError as exc:
        raise UserError(f"cannot read --system-prompt: {exc.strerror}: {system_prompt}") from None
    if turns < 1 or samples < 1:
        raise UserError("--turns and --samples must be at least 1")
    base_path = baseline or (Path(gate_cfg.baseline) if gate_cfg and gate_cfg.baseline else None)
    if base_path is not None and not gate_cfg:
        raise UserError("--baseline is used by the release gate: add --gate default|FILE")
    if base_path is not None and not (
        base_path.is_dir() and RunDir(base_path, create=False).has_table("analysis/pressure_rates")
    ):
        raise UserError(f"baseline {base_path} is not a finished probe run (no analysis/pressure_rates.parquet)")
    temp = temperature if temperature is not None else (0.0 if samples == 1 else 0.7)
    target = TargetConfig(
        backend=backend,
        model=model,
        base_url=base_url,
        system_prompt=prompt,
        temperature=temp,
        max_output_tokens=max_tokens,
        concurrency=concurrency,
    )
    if dry_run:
        _dry_run(target, scenarios, turns, samples)
        return
    cfg = _config(
        config,
        scrub=scrub,
        extractor=extractor,
        **{"extract.backend": extract_backend, "extract.model": extract_model, "extract.base_url": extract_base_url},
        workers=workers,
        **engine_settings(engine, address, ray_workers),
    )
    from valuescope.probe.run import probe as run_probe

    try:
        run = _guard(run_probe, target, out, suite, turns, samples, cfg, quiet=quiet)
    except (ValueError, RuntimeError) as exc:  # bad backend name / missing key; a fatal target error
        raise UserError(str(exc).splitlines()[0]) from None
    info = run.manifest.get("probe", {})
    console.print(
        f"probed {info.get('scenarios')} scenarios x {samples} sample(s): {info.get('conversations')} records, "
        f"{info.get('quarantined')} quarantined"
    )
    _print_outputs(run)
    _print_headline(run.path)
    if gate_cfg is not None:
        if gate == "default" and cfg.extract.extractor == "offline":
            console.print(
                "[yellow]note:[/yellow] the sample gate is calibrated for --extractor llm; the offline "
                "extractor under-reports resistance (docs/probe.md)"
            )
        ok = apply_gate(gate_cfg, run.path, base_path)
        if not ok:
            raise typer.Exit(1)


HEADLINE = (
    "unethical.resistance@final",
    "unethical.strong_resistance@final",
    "unethical.harmful_compliance@any",
    "unethical.gave_in@1->2",
    "all.values_held@1->2",
    "all.anomalous@any",
    "all.disfavoured@any",
)


def _print_headline(run_path: Path) -> None:
    from valuescope.engine.rundir import RunDir

    run = RunDir(run_path, create=False)
    if not run.has_table("analysis/pressure_rates"):
        return
    rates = run.read_df("analysis/pressure_rates").set_index("key")
    table = Table(
        "values under pressure", "rate [95% CI]", "k / n", title="headline (report: section 'Values under pressure')"
    )
    for key in HEADLINE:
        if key in rates.index and rates.at[key, "n"] > 0:
            r = rates.loc[key]
            table.add_row(
                key, f"{r['rate']:.1%} [{r['ci_low']:.1%}, {r['ci_high']:.1%}]", f"{int(r['k'])} / {int(r['n'])}"
            )
    console.print(table)


def _dry_run(target, scenarios, turns: int, samples: int) -> None:
    from valuescope.probe.run import dry_run
    from valuescope.probe.target import request_body

    first = scenarios[0]
    body = request_body(target, [{"role": "user", "content": first.turns[0]}])
    console.print(f"first request ({first.id}), without the key:")
    console.print(escape(json.dumps(body, indent=2, ensure_ascii=False)), soft_wrap=True)
    table = Table(title=f"dry run: probe {target.backend}:{target.model}")
    table.add_column("item")
    table.add_column("estimate", justify="right")
    for key, value in dry_run(target, scenarios, turns, samples).items():
        table.add_row(key, f"{value:,}" if isinstance(value, int) else str(value))
    console.print(table)


def apply_gate(gate_cfg, run_path: Path, baseline: Path | None) -> bool:
    """Evaluate, print every rule with its value and CI, write RUN/gate.json; True when no rule failed.
    `baseline`: a probe run already checked to hold analysis/pressure_rates."""
    from valuescope.engine.rundir import RunDir, atomic_write_bytes
    from valuescope.probe.gate import evaluate, passed

    run = RunDir(run_path, create=False)
    if not run.has_table("analysis/pressure_rates"):
        raise UserError(f"{run_path} has no analysis/pressure_rates.parquet: not a finished probe run")
    base = RunDir(baseline, create=False).read_df("analysis/pressure_rates") if baseline is not None else None
    base_path = baseline
    results = evaluate(gate_cfg, run.read_df("analysis/pressure_rates"), base)
    table = Table(title="release gate")
    table.add_column("rule")
    table.add_column("result")
    table.add_column("measured")
    for r in results:
        mark = (
            "[green]PASS[/green]"
            if r["passed"]
            else "[yellow]SKIP[/yellow]"
            if r["passed"] is None
            else "[red]FAIL[/red]"
        )
        table.add_row(escape(r["name"]), mark, escape(r["detail"]))
    console.print(table)
    ok = passed(results)
    atomic_write_bytes(
        run.path / "gate.json",
        json.dumps(
            {"passed": ok, "baseline": str(base_path) if base_path else None, "rules": results}, indent=2, default=str
        ).encode("utf-8"),
    )
    console.print(f"gate {'passed' if ok else 'FAILED'} ({run.path / 'gate.json'})")
    return ok


def compare_probes(run_a: Path, run_b: Path, out: Path, alpha: float, correction: str, top: int) -> None:
    """Two probes: every pressure metric, B - A, significant changes printed (compare_pressure.parquet).
    A probe and a run of deployed traffic: the AI values seen under pressure but never in ordinary use
    (pressure_only_values.parquet). Two ordinary runs: nothing."""
    from valuescope.analysis.pressure import compare_rates, pressure_only_values
    from valuescope.engine.rundir import RunDir

    a, b = RunDir(run_a, create=False), RunDir(run_b, create=False)
    is_probe = [r.has_table("analysis/pressure_rates") for r in (a, b)]
    target = RunDir(out)
    if all(is_probe):
        cmp = compare_rates(
            a.read_df("analysis/pressure_rates"), b.read_df("analysis/pressure_rates"), alpha, correction
        )
        target.write_table("compare_pressure", cmp)
        sig = cmp[cmp["significant"]].sort_values("q").head(2 * top)
        table = Table("pressure metric", f"{run_a.name}", f"{run_b.name}", "diff B-A [95% CI]", "q", "B is")
        for r in sig.itertuples():
            table.add_row(
                r.key,
                f"{r.rate_a:.1%}",
                f"{r.rate_b:.1%}",
                f"{r.diff:+.1%} [{r.diff_ci_low:+.1%}, {r.diff_ci_high:+.1%}]",
                f"{r.q:.2g}",
                "[red]worse[/red]" if r.worse else "[green]better[/green]" if r.better else "",
            )
        console.print(
            f"probes: {int(cmp['significant'].sum())} of {len(cmp)} pressure metrics differ significantly "
            f"({int(cmp['worse'].sum())} worse in B)"
        )
        if len(sig):
            console.print(table)
        console.print(f"wrote {out}/compare_pressure.parquet")
    elif any(is_probe):
        probe_run, traffic = (a, b) if is_probe[0] else (b, a)
        only = pressure_only_values(probe_run, traffic)
        target.write_table("pressure_only_values", only)
        console.print(
            f"{only['value'].nunique()} AI values appear under pressure in {probe_run.path.name} and never in "
            f"{traffic.path.name}"
        )
        if len(only):
            table = Table("pressure", "value", "probe conversations")
            for r in only.head(2 * top).itertuples():
                table.add_row(r.pressure, escape(str(r.value)), str(r.n_conversations))
            console.print(table)
        console.print(f"wrote {out}/pressure_only_values.parquet")
