"""`valuescope evaluate`: agreement of a run's judgments and values with a labelled set."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.table import Table

from valuescope.cli.app import UserError, app, console

HEADLINE = (
    ("subjective_accuracy", "subjective accuracy"),
    ("task_category_accuracy", "task_category accuracy"),
    ("ai_l3_micro_f1", "AI values micro-F1 @ l3 (5)"),
    ("ai_l2_micro_f1", "AI values micro-F1 @ l2 (26)"),
    ("human_l3_micro_f1", "human values micro-F1 @ l3"),
    ("human_l2_micro_f1", "human values micro-F1 @ l2"),
    ("response_macro_f1", "response macro-F1"),
    ("harmful_auroc", "harmful-compliance ROC AUC"),
    ("harmful_ece", "harmful_score calibration error (ECE)"),
)


@app.command()
def evaluate(
    run: Path = typer.Argument(..., help="Run directory with judgments (+ values or mentions)."),
    reference: Path = typer.Option(..., "--reference", "-r", help="Labels in GUIDELINES.md JSONL format."),
    out: Path | None = typer.Option(None, "--out", "-o", help="JSON output (default RUN/evaluation.json)."),
) -> None:
    """Score any extractor's run against labelled conversations (metrics: docs/evaluate.md)."""
    from valuescope.evaluate import evaluate_run

    if not reference.is_file():
        raise UserError(f"labels file not found: {reference}")
    try:
        metrics = evaluate_run(run, reference)
    except (FileNotFoundError, ValueError) as exc:
        raise UserError(str(exc)) from None
    if not metrics.get("n_matched"):
        raise UserError(f"no conversation id of {reference} is in {run}/judgments.parquet")
    target = out or run / "evaluation.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(metrics, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    table = Table(title=f"{run} vs {reference.name}: {metrics['n_matched']} of {metrics['n_labels']} labelled conversations")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, label in HEADLINE:
        v = metrics.get(key)
        table.add_row(label, "n/a" if v is None else f"{v:.3f}")
    console.print(table)
    console.print(f"values from {metrics['values_source']}; all metrics in {target}")
    typer.echo(json.dumps({k: metrics.get(k) for k, _ in HEADLINE}))
