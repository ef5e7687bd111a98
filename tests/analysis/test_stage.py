"""The analysis stages on a real run: every contract table, the privacy floor, reruns."""

from __future__ import annotations

import pytest

from valuescope.analysis.config import AnalysisConfig
from valuescope.analysis.stage import analysis_stages
from valuescope.engine.runner import run_stages
from valuescope.privacy.config import PrivacyConfig

CONTRACT = {
    "frequencies": ["side", "level", "name", "n", "share", "ci_low", "ci_high", "share_occurrences", "explicit_share"],
    "summary": ["side", "n_conversations", "n_subjective", "distinct_values", "values_per_conversation_mean"],
    "context": [
        "context_kind",
        "context",
        "side",
        "level",
        "name",
        "n",
        "expected",
        "residual",
        "p_value",
        "q_value",
        "lift",
        "significant",
    ],
    "context_invariance": ["side", "level", "name", "n_contexts", "cv"],
    "responses": ["context_kind", "context", "response", "n", "share", "ci_low", "ci_high"],
    "mirroring": ["response", "n", "n_mirrored", "share", "ci_low", "ci_high"],
    "resistance_values": ["level", "name", "n_resist", "rate_resist", "rate_other", "lift", "residual", "q_value"],
    "value_pairs": ["level", "ai_value", "human_value", "n", "lift", "residual", "q_value"],
    "alerts": ["id", "anomaly_score", "reasons", "policy_matches", "harmful_score", "rarity"],
    "compare": [
        "group_a",
        "group_b",
        "side",
        "level",
        "name",
        "n_a",
        "n_b",
        "rate_a",
        "rate_b",
        "diff",
        "ci_low",
        "ci_high",
        "p_value",
        "q_value",
        "significant",
        "status",
    ],
    "compare_responses": [
        "group_a",
        "group_b",
        "response",
        "rate_a",
        "rate_b",
        "diff",
        "p_value",
        "q_value",
        "significant",
    ],
}


@pytest.mark.parametrize("run_name", ["dev_run", "dev_run_no_users"])
def test_all_tables_follow_the_contract_and_the_floor(run_name, request):
    dev_run = request.getfixturevalue(run_name)
    cfg = AnalysisConfig(context_kinds=["task_category", "context"], bootstrap=30)
    privacy = PrivacyConfig(min_conversations=5, min_users=3)
    run_stages(dev_run, analysis_stages(cfg, privacy), quiet=True)
    for name, cols in CONTRACT.items():
        df = dev_run.read_df(f"analysis/{name}")
        assert set(cols) <= set(df.columns), (name, set(cols) - set(df.columns))
        assert len(df) > 0, name
        for n_col in ("n", "n_resist"):
            if n_col in df.columns and name not in ("summary", "mirroring", "responses"):
                assert (df[n_col] >= 5).all(), name
    assert (dev_run.path / "analysis" / "drift_summary.json").is_file()
    floor = dev_run.read_manifest()["privacy_floor"]
    assert floor["min_conversations"] == 5 and floor["suppressed"]["frequencies"] > 0
    assert set(floor["suppressed"]) >= {"frequencies", "context", "responses", "value_pairs", "compare"}
    resp = dev_run.read_df("analysis/responses")
    overall = resp[resp["context_kind"] == "all"]
    assert overall["share"].sum() <= 1.0 + 1e-9 and overall["ci_low"].le(overall["share"]).all()
    ctx = dev_run.read_df("analysis/context")
    assert set(ctx["context_kind"]) == {"task_category", "context"}
    freq = dev_run.read_df("analysis/frequencies")
    if run_name == "dev_run":  # real user counts: every shown cell has >= 3 distinct users
        assert (freq["n_users"] >= 3).all() and (freq["n_users"] <= freq["n"]).all()
    else:
        assert freq["n_users"].isna().all()
    # a rerun with nothing changed recomputes nothing and leaves every table's bytes as they were
    before = {n: dev_run.table_digest(n) for n in dev_run.tables()}
    finished = {k: v["finished"] for k, v in dev_run.read_manifest()["stages"].items()}
    manifest = run_stages(dev_run, analysis_stages(cfg, privacy), quiet=True)
    assert {n: dev_run.table_digest(n) for n in dev_run.tables()} == before
    assert {k: v["finished"] for k, v in manifest["stages"].items()} == finished


def test_stricter_floor_suppresses_more(dev_run, tmp_path):
    from valuescope.analysis.data import load
    from valuescope.analysis.frequencies import frequencies
    from valuescope.privacy.floor import apply_floor

    f = frequencies(load(dev_run))
    kept5, s5 = apply_floor(f, min_conversations=5, min_users=3)
    kept20, s20 = apply_floor(f, min_conversations=20, min_users=3)
    assert s20 > s5 and len(kept20) < len(kept5) and len(kept5) + s5 == len(f)
