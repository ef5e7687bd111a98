"""`valuescope evaluate`: agreement of a run's judgments and values with a labelled set."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich import box
from rich.table import Table

from valuescope.cli.app import UserError, app, console

JUDGMENT_HEADLINE = (
    ("subjective_accuracy", "subjective accuracy"),
    ("task_category_accuracy", "task_category accuracy"),
    ("response_macro_f1", "response macro-F1"),
    ("harmful_auroc", "harmful-compliance ROC AUC"),
    ("harmful_ece", "harmful_score calibration error (ECE)"),
)
VALUE_HEADLINE = (
    ("ai_l3_micro_f1", "AI values micro-F1 @ l3 (5)"),
    ("ai_l2_micro_f1", "AI values micro-F1 @ l2 (26)"),
    ("human_l3_micro_f1", "human values micro-F1 @ l3"),
    ("human_l2_micro_f1", "human values micro-F1 @ l2"),
)
HEADLINE = JUDGMENT_HEADLINE[:2] + VALUE_HEADLINE + JUDGMENT_HEADLINE[2:]
SOURCE_COLUMNS = (
    ("n_matched", "n"),
    ("subjective_accuracy", "subj"),
    ("task_category_accuracy", "task"),
    ("ai_l2_micro_f1", "AI l2"),
    ("ai_l3_micro_f1", "AI l3"),
    ("human_l2_micro_f1", "hu l2"),
    ("human_l3_micro_f1", "hu l3"),
    ("response_macro_f1", "resp"),
    ("harmful_auroc", "harm"),
)


VALUE_KEYS = {k for k, _ in VALUE_HEADLINE}


def _fmt(v: Any) -> str:
    if v is None:
        return "n/a"
    return f"{v:,}" if isinstance(v, int) else f"{v:.3f}"


def _pair(m: dict[str, Any], key: str) -> str:
    """A value metric as 'as annotated / tree-consistent'."""
    c = m.get("constructs") or {}
    return f"{_fmt((c.get('as_annotated') or {}).get(key))} / {_fmt((c.get('tree_consistent') or {}).get(key))}"


@app.command()
def evaluate(
    run: Path = typer.Argument(..., help="Run directory with judgments (+ values or mentions)."),
    reference: Path = typer.Option(..., "--reference", "-r", help="Labels in GUIDELINES.md JSONL format."),
    out: Path | None = typer.Option(None, "--out", "-o", help="JSON output (default RUN/evaluation.json)."),
    by: str | None = typer.Option(None, "--by", help="'source': every metric per source/corpus too."),
) -> None:
    """Score any extractor's run against labelled conversations (metrics: docs/evaluate.md)."""
    from valuescope.evaluate import evaluate_run

    if not reference.is_file():
        raise UserError(f"labels file not found: {reference}")
    try:
        metrics = evaluate_run(run, reference, by=by)
    except (FileNotFoundError, ValueError) as exc:
        raise UserError(str(exc)) from None
    if not metrics.get("n_matched"):
        raise UserError(f"no conversation id of {reference} is in {run}/judgments.parquet")
    target = out or run / "evaluation.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(metrics, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    table = Table(
        title=f"{run} vs {reference.name}: {metrics['n_matched']} of {metrics['n_labels']} labelled conversations"
    )
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, label in JUDGMENT_HEADLINE[:2]:
        table.add_row(label, _fmt(metrics.get(key)))
    for key, label in VALUE_HEADLINE:
        table.add_row(f"{label}, as annotated / tree-consistent", _pair(metrics, key))
    for key, label in JUDGMENT_HEADLINE[2:]:
        table.add_row(label, _fmt(metrics.get(key)))
    console.print(table)
    if metrics.get("trained_on_labels"):
        console.print(
            f"[yellow]warning: the bundled offline model was trained on {reference.name}: these are "
            "training-set scores, not its accuracy (score it on labels it has not seen).[/yellow]"
        )
    if metrics.get("l2_hint_disagreement") is not None:
        console.print(
            f"l2_hint_disagreement: {metrics['l2_hint_disagreement']:.3f} of {metrics['hinted']:,} values with an "
            "extractor cluster have another l2 in the tree's placement of their name"
        )
    if "by_source" in metrics:
        st = Table(
            title="by source (value F1: first row as annotated, second tree-consistent)",
            box=box.SIMPLE,
            pad_edge=False,
            collapse_padding=True,
        )
        st.add_column("source", no_wrap=True, max_width=18)
        for _, label in SOURCE_COLUMNS:
            st.add_column(label, justify="right", no_wrap=True, min_width=5)
        for name, m in metrics["by_source"].items():
            for construct in ("as_annotated", "tree_consistent"):
                values = (m.get("constructs") or {}).get(construct) or {}
                first = construct == "as_annotated"
                st.add_row(
                    name if first else "",
                    *(
                        _fmt(values.get(k)) if k in VALUE_KEYS else (_fmt(m.get(k)) if first else "")
                        for k, _ in SOURCE_COLUMNS
                    ),
                )
        console.print(st)
    console.print(f"values from {metrics['values_source']}; constructs: docs/evaluate.md; all metrics in {target}")
    typer.echo(
        json.dumps(
            {
                **{k: metrics.get(k) for k, _ in HEADLINE},
                "tree_consistent": {k: metrics["constructs"]["tree_consistent"].get(k) for k, _ in VALUE_HEADLINE},
            }
        )
    )
