"""`valuescope compare`: what differs between two models, two weeks or two runs."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from valuescope.cli.app import UserError, app, console


@app.command()
def compare(
    runs: list[Path] = typer.Argument(..., metavar="RUN_A [RUN_B]", help="Two run directories, or one with --by."),
    out: Path = typer.Option(
        ..., "--out", "-o", help="Folder for compare.parquet, compare_responses.parquet, drift_summary.json."
    ),
    by: str = typer.Option("model", "--by", help="Within one run: compare groups by 'model' or 'week'."),
    group_a: str = typer.Option(None, "--a", help="Within one run: group A (default: every pair of groups)."),
    group_b: str = typer.Option(None, "--b", help="Within one run: group B (default: the rest of the run)."),
    correction: str = typer.Option("bh", "--correction", help="Multiple-testing correction: bh | bonferroni."),
    alpha: float = typer.Option(0.05, "--alpha", help="Significance level after correction."),
    min_support: int = typer.Option(5, "--min-support", help="Test values seen in at least this many conversations."),
    min_conversations: int = typer.Option(
        None, "--min-conversations", help="Privacy floor (default: PrivacyConfig, 5)."
    ),
    min_users: int = typer.Option(
        None, "--min-users", help="Privacy floor on distinct users (default: PrivacyConfig, 3)."
    ),
    top: int = typer.Option(10, "--top", help="Rows to print per direction."),
) -> None:
    """Per-value rate differences with 95% intervals and corrected significance, response shifts and a drift summary."""
    from valuescope.analysis.compare import compare_runs
    from valuescope.analysis.config import AnalysisConfig
    from valuescope.privacy.config import PrivacyConfig

    if len(runs) not in (1, 2):
        raise UserError("give two runs, or one run with --by model|week")
    if by not in ("model", "week"):
        raise UserError(f"--by must be 'model' or 'week', not {by!r}")
    if correction not in ("bh", "bonferroni"):
        raise UserError(f"--correction must be 'bh' or 'bonferroni', not {correction!r}")
    privacy = PrivacyConfig()
    cfg = AnalysisConfig(correction=correction, alpha=alpha, min_support=min_support)
    try:
        drift = compare_runs(
            [str(r) for r in runs],
            str(out),
            cfg,
            privacy.min_conversations if min_conversations is None else min_conversations,
            privacy.min_users if min_users is None else min_users,
            by=by,
            group_a=group_a,
            group_b=group_b,
        )
    except (FileNotFoundError, ValueError) as exc:
        raise UserError(str(exc)) from None
    for pair in drift["pairs"]:
        _print_pair(pair, top)
    console.print(f"wrote {out}/compare.parquet, compare_responses.parquet, drift_summary.json")
    if len(runs) == 2:  # probes: pressure metrics side by side, or values only seen under pressure
        from valuescope.cli.probe import compare_probes

        compare_probes(runs[0], runs[1], out, alpha, correction, top)


def _print_pair(pair: dict, top: int) -> None:
    a, b = pair["group_a"], pair["group_b"]
    fam = pair["families"].get("ai/value", {})
    console.print(
        f"[bold]{a}[/bold] ({pair['n_conversations']['a']} conversations) vs [bold]{b}[/bold] "
        f"({pair['n_conversations']['b']}): {fam.get('significant', 0)} of {fam.get('tested', 0)} tested AI values "
        f"differ significantly; {pair['n_ai_values_only_in_a']} only in A, {pair['n_ai_values_only_in_b']} only in B"
    )
    rows = pair["top_higher_in_a"][:top] + pair["top_higher_in_b"][:top]
    if not rows:
        return
    table = Table("AI value", f"rate {a}", f"rate {b}", "diff [95% CI]", "q")
    for r in rows:
        table.add_row(
            r["name"],
            f"{r['rate_a']:.1%}",
            f"{r['rate_b']:.1%}",
            f"{r['diff']:+.1%} [{r['ci_low']:+.1%}, {r['ci_high']:+.1%}]",
            f"{r['q_value']:.2g}",
        )
    console.print(table)
