"""Comparison: no difference found where there is none, the planted one found where it is."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
from typer.testing import CliRunner

from valuescope.analysis import compare
from valuescope.analysis.config import AnalysisConfig
from valuescope.analysis.data import RunData, load
from valuescope.cli import app
from valuescope.engine.rundir import RunDir


def _relabel(data: RunData, suffix: str) -> RunData:
    conv = data.conv.assign(id=data.conv["id"] + suffix)
    return RunData(conv=conv, values=data.values.assign(id=data.values["id"] + suffix), placed=data.placed)


def test_run_against_itself_finds_nothing(dev_run, tmp_path):
    result = CliRunner().invoke(app, ["compare", str(dev_run.path), str(dev_run.path), "--out", str(tmp_path / "cmp")])
    assert result.exit_code == 0, result.output
    vals = RunDir(tmp_path / "cmp").read_df("compare")
    assert len(vals) > 50 and not vals["significant"].any()
    assert (vals["diff"] == 0).all() and set(vals["status"]) == {"both"}
    drift = json.loads((tmp_path / "cmp" / "drift_summary.json").read_text())
    assert drift["pairs"][0]["families"]["ai/value"]["significant"] == 0
    manifest = json.loads((tmp_path / "cmp" / "manifest.json").read_text())
    assert manifest["privacy_floor"]["suppressed"]["compare"] > 0


def test_random_halves_of_one_run_do_not_differ(dev_run):
    data = load(dev_run)
    half = pd.Series(np.random.default_rng(7).random(len(data.conv)) < 0.5)
    a = compare.group_of(compare.subset(data, half), "half 1")
    b = compare.group_of(compare.subset(data, ~half), "half 2")
    vals = compare.compare_values(a, b, AnalysisConfig())
    assert vals["p_value"].notna().sum() > 50  # many values tested...
    assert not vals["significant"].any()  # ...none survives the correction


def test_planted_difference_is_found(dev_run):
    data = load(dev_run)
    rng = np.random.default_rng(1)
    subj = data.conv.loc[data.conv["subjective"], "id"]
    planted_ids = subj[rng.random(len(subj)) < 0.3]
    plant = pd.DataFrame(
        {
            "id": planted_ids,
            "side": "ai",
            "value": "planted value",
            "value_norm": "planted value",
            "explicit": False,
            "l2": "Ethical interaction",
            "l3": "Social values",
        }
    )
    b_values = pd.concat([data.values[data.values["value_norm"] != "helpfulness"], plant], ignore_index=True)
    b = RunData(conv=data.conv, values=b_values, placed=data.placed)
    ga, gb = compare.group_of(_relabel(data, ":a"), "A"), compare.group_of(_relabel(b, ":b"), "B")
    vals, resp, drift, _ = compare.compare_pair(ga, gb, AnalysisConfig(), 5, 3)
    v = vals[(vals["side"] == "ai") & (vals["level"] == "value")].set_index("name")
    assert v.loc["planted value", "significant"] and v.loc["planted value", "status"] == "only_b"
    assert v.loc["planted value", "ci_high"] < 0  # rate_a - rate_b < 0
    assert v.loc["helpfulness", "significant"] and v.loc["helpfulness", "status"] == "only_a"
    assert set(v.index[v["significant"]]) == {"planted value", "helpfulness"}
    assert not resp["significant"].any()
    assert drift["top_higher_in_b"][0]["name"] == "planted value"


def test_within_run_by_model_and_by_week(tmp_path):
    from analysis_helpers import tiny_run

    judg, convs, vals = [], [], []
    for i in range(40):
        model = "m1" if i < 20 else "m2"
        judg.append({"id": f"c{i}"})
        convs.append(
            {
                "id": f"c{i}",
                "model": model,
                "timestamp": "2024-01-02T10:00:00Z" if i % 2 else "2024-01-10T10:00:00Z",
                "user_id": f"u{i}",
                "context": None,
            }
        )
        vals.append((f"c{i}", "ai", "rigor" if model == "m1" else "warmth", "Methodical rigor", False))
    run = tiny_run(tmp_path / "r", judg, vals, convs)
    data = load(run)
    pairs = compare.groups_within(data, "model")
    assert [(a.label, b.label) for a, b in pairs] == [("m1", "m2")]
    vals_df, _, _, _ = compare.compare_many(pairs, AnalysisConfig(), 5, 3)
    v = vals_df[(vals_df["level"] == "value")].set_index("name")
    assert v.loc["rigor", "rate_a"] == 1.0 and v.loc["rigor", "significant"]
    weeks = compare.groups_within(data, "week")
    assert [(a.label, b.label) for a, b in weeks] == [("2024-W01", "2024-W02")]
    assert compare.week_of(pd.Series(["2024-01-10T10:00:00Z", "garbage", None])).tolist()[1:] == [None, None]


def test_cli_errors_are_one_line(tmp_path, dev_run):
    from valuescope.cli import main  # noqa: F401  (registers the commands)

    r = CliRunner().invoke(
        app, ["compare", str(tmp_path / "nope"), str(tmp_path / "nope2"), "--out", str(tmp_path / "o")]
    )
    assert r.exit_code != 0
    r = CliRunner().invoke(app, ["compare", str(dev_run.path), "--by", "week", "--out", str(tmp_path / "o")])
    assert r.exit_code != 0 and "fewer than two groups" in str(r.exception or r.output)
    r = CliRunner().invoke(app, ["compare", str(dev_run.path), "--a", "no-such-model", "--out", str(tmp_path / "o")])
    assert r.exit_code != 0 and "no group" in str(r.exception or r.output)
