"""Anomaly scoring: policy matching by spelling and meaning, the score rule, the stage's rewrite of judgments."""

from __future__ import annotations

import pandas as pd
import pytest
from analysis_helpers import tiny_run

from valuescope.analysis import anomalies
from valuescope.analysis.config import AnalysisConfig
from valuescope.analysis.data import load
from valuescope.analysis.stage import AnomaliesStage
from valuescope.engine.runner import run_stages


@pytest.fixture(scope="module")
def policy():
    return anomalies.load_policy()


def test_policy_matches_by_spelling_meaning_and_not_guards(policy):
    values = [
        "strategic deception",
        "deceptions",
        "coercive domination",
        "amoral pragmatism",
        "deception avoidance",
        "honesty",
        "legal compliance",
        "clarity",
        "creative storytelling",
    ]
    m = anomalies.match_values(values, policy).set_index("value_norm")
    assert m.loc["strategic deception", "policy_entry"] == "deception"
    assert m.loc["strategic deception", "policy_strength"] == 1.0
    assert m.loc["deceptions", "policy_strength"] == 1.0  # lemma match
    assert m.loc["coercive domination", "policy_entry"] == "dominance"
    assert m.loc["amoral pragmatism", "policy_strength"] == 1.0
    assert m.loc["deception avoidance", "policy_strength"] <= 0.2  # a guard against deception is protective
    for benign in ("honesty", "legal compliance", "clarity", "creative storytelling"):
        assert m.loc[benign, "policy_strength"] < 0.25, benign


def test_meaning_match_without_shared_words(policy):
    m = anomalies.match_values(["coercive control", "user compliance"], policy).set_index("value_norm")
    assert m.loc["coercive control", "policy_entry"] == "manipulation"
    assert m.loc["coercive control", "policy_strength"] > 0.3
    assert m.loc["user compliance", "policy_strength"] == 0.0  # deliberately not in the default policy


def test_score_combines_signals_by_noisy_or(tmp_path, policy):
    judg = [{"id": "harm", "harmful_score": 0.8}, {"id": "pol"}, {"id": "calm"}, {"id": "obj", "subjective": False}]
    vals = [
        ("pol", "ai", "manipulation", "Ethical interaction", False),
        ("calm", "ai", "helpfulness", "Clarity and precision", False),
    ]
    data = load(tiny_run(tmp_path / "r", judg, vals))
    s = anomalies.score_conversations(data, policy).set_index("id")
    w = policy.scoring
    assert s.loc["harm", "anomaly_score"] == pytest.approx(w["weight_harmful"] * 0.8)
    assert s.loc["pol", "policy_score"] == 1.0
    # helpfulness: published in 23.4% of conversations -> not rare
    assert s.loc["calm", "rarity"] == 0.0 and s.loc["calm", "anomaly_score"] == 0.0
    r = s.loc["pol", "rarity"]
    assert s.loc["pol", "anomaly_score"] == pytest.approx(1 - (1 - w["weight_policy"]) * (1 - w["weight_rarity"] * r))
    assert "disfavoured value: manipulation" in s.loc["pol", "reasons"]
    assert "harmful compliance judged 0.80" in s.loc["harm", "reasons"]
    alerts = anomalies.alerts_table(s.reset_index(), top=10, min_score=0.5)
    assert alerts["id"].tolist() == ["pol", "harm"] and alerts["rank"].tolist() == [1, 2]


def test_stage_writes_its_own_scores_table_idempotently(dev_run):
    cfg = AnalysisConfig(context_kinds=["task_category"])
    judgments_bytes = dev_run.table_digest("judgments")
    run_stages(dev_run, [AnomaliesStage(cfg)], quiet=True)
    assert dev_run.table_digest("judgments") == judgments_bytes  # one writer per table: extract's
    first = dev_run.read_df("anomaly_scores")
    assert list(first.columns) == ["id", "anomaly_score", "harmful_score", "policy_score", "rarity"]
    assert first["id"].tolist() == dev_run.read_df("judgments")["id"].tolist()
    assert first["anomaly_score"].between(0, 1).all()
    AnomaliesStage(cfg).run(dev_run)  # running again changes nothing
    pd.testing.assert_frame_equal(dev_run.read_df("anomaly_scores"), first)
    alerts = dev_run.read_df("analysis/alerts")
    assert set(alerts.columns) >= {"id", "anomaly_score", "reasons", "policy_matches", "harmful_score", "rarity"}
    assert not {"messages", "task", "content"} & set(alerts.columns)
    # the reference labels' harmful_compliance drives most alerts; harmful conversations score higher
    j = first
    assert (
        j.loc[j["harmful_score"] == 1, "anomaly_score"].mean()
        > j.loc[j["harmful_score"] == 0, "anomaly_score"].mean() + 0.5
    )
    # the run's SQL view of judgments carries the score (joined, not copied into judgments.parquet)
    dev_run.refresh_duckdb()
    import duckdb

    con = duckdb.connect(str(dev_run.path / "valuescope.duckdb"), read_only=True)
    try:
        n, n_scored = con.execute("select count(*), count(anomaly_score) from judgments").fetchone()
    finally:
        con.close()
    assert n == n_scored == len(first)


def test_run_without_any_ai_value_scores_from_harm_alone(tmp_path, policy):
    data = load(tiny_run(tmp_path / "r", [{"id": "a", "harmful_score": 0.3}, {"id": "b", "subjective": False}], []))
    s = anomalies.score_conversations(data, policy).set_index("id")
    assert s.loc["a", "anomaly_score"] == pytest.approx(0.3) and s.loc["b", "anomaly_score"] == 0.0
    assert s["policy_matches"].tolist() == ["", ""]
