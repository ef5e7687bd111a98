"""`valuescope taxonomy place / build`: placement into a tree, discovery of a new one."""

from __future__ import annotations

from pathlib import Path

import typer

from valuescope.cli.app import UserError, app, console

taxonomy_app = typer.Typer(help="Place values into a taxonomy, or discover one.", no_args_is_help=True)
app.add_typer(taxonomy_app, name="taxonomy")


@taxonomy_app.command("place")
def place(
    input: Path = typer.Option(
        ..., "--input", "-i", help="Values: .txt (one per line), or .csv/.parquet with a 'value' column."
    ),
    output: Path = typer.Option(..., "--output", "-o", help="CSV with columns value, leaf, l1, l2, l3, score."),
    tree: Path | None = typer.Option(
        None, "--tree", "-t", help="Tree CSV in the published schema (default: bundled Values in the Wild)."
    ),
    embedder: str = typer.Option("minilm", help="Embedder name (valuescope.embed registry)."),
    threshold: float | None = typer.Option(None, help="Below this similarity a value is new: empty leaf and l1."),
) -> None:
    """Place every value into a tree: exact match first, then the learned placement."""
    from valuescope.taxonomy.api import read_values
    from valuescope.taxonomy.place import Placer
    from valuescope.taxonomy.reference import load_tree, published_tree
    from valuescope.taxonomy.vectors import TextVectors

    try:
        df = read_values(input)
        t = load_tree(tree) if tree else published_tree()
        placer = Placer(t, TextVectors(embedder), new_threshold=threshold)
    except (FileNotFoundError, ValueError) as exc:
        raise UserError(str(exc)) from None
    placed = placer.place(df["value"].tolist())
    output.parent.mkdir(parents=True, exist_ok=True)
    placed[["value", "leaf", "l1", "l2", "l3", "score"]].to_csv(output, index=False)
    console.print(
        f"placed {len(placed)} values ({int((placed['score'] >= 1).sum())} exact, "
        f"{int(placed['is_new'].sum())} new) -> {output}"
    )


@taxonomy_app.command("build")
def build(
    input: Path = typer.Option(
        ...,
        "--input",
        "-i",
        help="Values file (.txt/.csv/.parquet; optional count or pct_convos column) or a run directory.",
    ),
    output: Path | None = typer.Option(
        None, "--output", "-o", help="Folder for values_tree.csv + values_frequencies.csv (run: RUN/taxonomy)."
    ),
    levels: str | None = typer.Option(
        None, help="Clusters per level, bottom-up, e.g. 266,26,5 (default: geometric to 5)."
    ),
    embedder: str = typer.Option("minilm", help="Embedder name."),
    backend: str | None = typer.Option(
        None, help="LLM backend for Clio-style naming (e.g. openai, anthropic); default offline names."
    ),
    model: str | None = typer.Option(None, help="LLM model for naming."),
    base_url: str | None = typer.Option(None, "--base-url", help="OpenAI-compatible endpoint for naming."),
    seed: int = typer.Option(0, help="Clustering seed."),
) -> None:
    """Discover a hierarchy over values and export it in the published CSV schema."""
    from valuescope.taxonomy.config import TaxonomyConfig

    try:
        sizes = [int(x) for x in levels.split(",")] if levels else None
        config = TaxonomyConfig(
            embedder=embedder,
            level_sizes=sizes,
            namer="llm" if backend or model or base_url else "offline",
            llm={"backend": backend, "model": model, "base_url": base_url},
            seed=seed,
        )
    except ValueError as exc:
        raise UserError(f"bad option: {exc}") from None
    try:
        if input.is_dir():
            _build_run(input, config, output)
            return
        from valuescope.taxonomy.api import build_values, read_values

        out = output or Path("taxonomy")
        h = build_values(read_values(input), config, out)
    except (FileNotFoundError, ValueError) as exc:
        raise UserError(str(exc)) from None
    sizes_found = [len(level.names) for level in h.levels] if h else []
    console.print(f"{len(h.values) if h else 0} values -> clusters per level {sizes_found} -> {out}/values_tree.csv")
    if h is not None and h.llm_stats:
        _print_llm_stats(h.llm_stats)


def _print_llm_stats(stats: dict) -> None:
    """Say how much of the hierarchy the LLM shaped: a call that fell back used the offline rule instead."""
    console.print(
        f"Clio restructuring: {int(stats.get('llm_calls', 0))} LLM calls, "
        f"{int(stats.get('llm_fallbacks', 0))} fell back to the offline rule, "
        f"{int(stats.get('llm_item_fallbacks', 0))} single choices rejected, {stats.get('llm_seconds', 0)} s"
    )
    if stats.get("llm_offline_levels"):
        console.print(
            f"[yellow]{int(stats['llm_offline_levels'])} level(s) kept the offline clustering: most of "
            "their LLM calls failed (check the endpoint and model).[/yellow]"
        )


def _build_run(path: Path, config, output: Path | None) -> None:
    import shutil

    from valuescope.engine.rundir import RunDir
    from valuescope.taxonomy.stage import BuildStage

    run = RunDir(path, create=False)
    if not run.has_table("values"):
        raise UserError(f"{path} has no values.parquet; run the pipeline's taxonomy placement first")
    with run.lock():  # not while an analyze is writing this run
        stats = BuildStage(config).run(run)
    src = run.path / "taxonomy"
    if output:
        output.mkdir(parents=True, exist_ok=True)
        shutil.copy(src / "discovered_tree.csv", output / "values_tree.csv")
        shutil.copy(src / "discovered_frequencies.csv", output / "values_frequencies.csv")
    console.print(f"{stats.get('distinct_values', 0)} values, {stats.get('levels', 0)} levels -> {output or src}")
    if stats.get("llm_calls") is not None:
        _print_llm_stats(stats)
