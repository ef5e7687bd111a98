"""The report stays small however big the run: plotly.js (~2 MB packed) plus bounded data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from valuescope.engine.rundir import RunDir
from valuescope.records import L3_TO_L2, RESPONSE_TYPES, TASK_CATEGORIES
from valuescope.report.html import write_report

LIMIT = 5_000_000


def _big_run(path: Path, n_values: int = 4000, per_value: int = 6, n_models: int = 12) -> RunDir:
    """Every value above the floor, every context and model present: the worst case for page size."""
    rng = np.random.default_rng(0)
    run = RunDir(path)
    l2s = [(l3, l2) for l3, l2s in L3_TO_L2.items() for l2 in l2s]
    rows = []
    for v in range(n_values):
        l3, l2 = l2s[v % len(l2s)]
        for k in range(per_value):
            rows.append(
                {
                    "id": f"c{(v * per_value + k) % 20000}",
                    "side": "ai" if v % 4 else "human",
                    "value": f"value {v}",
                    "value_norm": f"value {v}",
                    "leaf": f"value {v}",
                    "l1": f"{l2} / cluster {v % 266}",
                    "l2": l2,
                    "l3": l3,
                    "score": 0.9,
                    "is_new": False,
                }
            )
    values = pd.DataFrame(rows)
    run.write_table("values", values)
    ids = values["id"].unique()
    run.write_table(
        "judgments",
        pd.DataFrame(
            {
                "id": ids,
                "subjective": True,
                "task": "t",
                "task_category": rng.choice(TASK_CATEGORIES, len(ids)),
                "response": rng.choice(RESPONSE_TYPES, len(ids)),
                "harmful_score": 0.0,
                "extractor": "x",
            }
        ),
    )
    run.write_table("anomaly_scores", pd.DataFrame({"id": ids, "anomaly_score": rng.random(len(ids))}))
    run.write_table(
        "conversations",
        pd.DataFrame({"id": ids, "model": [f"model-{i % n_models}" for i in range(len(ids))], "user_id": None}),
    )
    names = values["value_norm"].unique()
    freq = pd.DataFrame(
        {
            "side": "ai",
            "level": "value",
            "name": names,
            "n": per_value,
            "share": 0.01,
            "ci_low": 0.005,
            "ci_high": 0.02,
            "share_occurrences": 0.001,
            "explicit_share": 0.5,
        }
    )
    run.write_table("analysis/frequencies", freq)
    ctx = pd.DataFrame(
        [
            {
                "context_kind": "task_category",
                "context": c,
                "side": "ai",
                "level": lv,
                "name": n,
                "n": 6,
                "expected": 3.0,
                "residual": float(rng.normal()),
                "p_value": 0.5,
                "q_value": 0.5,
                "lift": 1.0,
                "significant": False,
            }
            for c in TASK_CATEGORIES
            for lv, n in [("l2", l2) for _, l2 in l2s] + [("value", x) for x in names[:300]]
        ]
    )
    run.write_table("analysis/context", ctx)
    models = [f"model-{i}" for i in range(n_models)]
    comp = pd.DataFrame(
        [
            {
                "group_a": m,
                "group_b": f"rest (not {m})",
                "side": "ai",
                "level": "value",
                "name": n,
                "n_a": 6,
                "n_b": 6,
                "rate_a": 0.1,
                "rate_b": 0.05,
                "diff": float(rng.normal(0, 0.05)),
                "ci_low": -0.1,
                "ci_high": 0.1,
                "p_value": 0.01,
                "q_value": 0.02,
                "significant": True,
                "status": "both",
            }
            for m in models
            for n in names[:400]
        ]
    )
    run.write_table("analysis/compare", comp)
    alerts = pd.DataFrame(
        {
            "id": ids[:5000],
            "anomaly_score": 0.9,
            "reasons": "rare",
            "policy_matches": "",
            "harmful_score": 0.0,
            "rarity": 0.9,
        }
    )
    run.write_table("analysis/alerts", alerts)
    return run


def test_worst_case_report_stays_under_5_mb(tmp_path: Path) -> None:
    run = _big_run(tmp_path / "big")
    path = write_report(run.path)
    size = path.stat().st_size
    assert size < LIMIT, f"report is {size / 1e6:.2f} MB"
    html = path.read_text("utf-8")
    assert 'id="chart-taxonomy"' in html and 'id="chart-compare-overview"' in html
