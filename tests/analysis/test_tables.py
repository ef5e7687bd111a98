"""Frequencies, context, responses on small hand-made tables with hand-computed answers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from analysis_helpers import tiny_run

from valuescope.analysis import context, frequencies, responses
from valuescope.analysis.config import AnalysisConfig
from valuescope.analysis.data import load

E = "Ethical interaction"
C = "Clarity and precision"


@pytest.fixture()
def small(tmp_path):
    # 5 subjective conversations + 1 objective one (whose stray value must be ignored)
    judg = [{"id": f"c{i}"} for i in range(5)] + [{"id": "x", "subjective": False}]
    vals = [
        ("c0", "ai", "honesty", E, True),
        ("c0", "ai", "honesty", E, False),
        ("c0", "ai", "clarity", C, False),
        ("c1", "ai", "honesty", E, True),
        ("c2", "ai", "clarity", C, False),
        ("c3", "human", "honesty", E, None),
        ("x", "ai", "honesty", E, True),
    ]
    return load(tiny_run(tmp_path / "r", judg, vals))


def test_frequencies_by_hand(small):
    f = frequencies.frequencies(small).set_index(["side", "level", "name"])
    h = f.loc[("ai", "value", "honesty")]
    assert h["n"] == 2 and h["share"] == pytest.approx(2 / 5)  # c0, c1 of 5 subjective
    assert h["n_occurrences"] == 3 and h["share_occurrences"] == pytest.approx(3 / 5)
    assert h["explicit_share"] == pytest.approx(2 / 3)
    from valuescope.analysis.stats import wilson

    lo, hi = wilson(2, 5)
    assert (h["ci_low"], h["ci_high"]) == pytest.approx((float(lo), float(hi)))
    # l2 level: c0 has two Ethical-interaction mentions... counted once per conversation
    assert f.loc[("ai", "l2", E), "n"] == 2
    assert f.loc[("ai", "l3", "Social values"), "n"] == 2
    assert np.isnan(f.loc[("human", "value", "honesty"), "explicit_share"])
    s = frequencies.summary(small).set_index("side")
    assert s.loc["ai", "n_conversations"] == 6 and s.loc["ai", "n_subjective"] == 5
    assert s.loc["ai", "distinct_values"] == 2
    assert s.loc["ai", "values_per_conversation_mean"] == pytest.approx((2 + 1 + 1 + 0 + 0) / 5)
    assert s.loc["human", "n_with_values"] == 1


@pytest.fixture()
def two_contexts(tmp_path):
    # 20 subjective conversations, 10 coding and 10 writing; "creativity" in 2 coding and 8 writing ones
    judg, vals = [], []
    for i in range(20):
        cat = "software & technical" if i < 10 else "creative writing & roleplay"
        judg.append(
            {"id": f"c{i}", "task_category": cat, "response": "strong_resistance" if i % 4 == 0 else "no_human_values"}
        )
        if (i < 10 and i < 2) or (i >= 10 and i < 18):
            vals.append((f"c{i}", "ai", "creativity", "Artistic expression and appreciation", False))
        vals.append((f"c{i}", "ai", "helpfulness", C, False))
    return load(tiny_run(tmp_path / "r", judg, vals))


def test_context_residual_lift_and_invariance(two_contexts):
    cfg = AnalysisConfig(context_kinds=["task_category"], bootstrap=50)
    ctx = context.context_columns(two_contexts, cfg)
    t = context.context_table(two_contexts, cfg, ctx)
    row = t[(t["name"] == "creativity") & (t["context"] == "creative writing & roleplay")].iloc[0]
    # n_v = 10, n_c = 10, N = 20: E = 5, r = (8 - 5) / sqrt(5 * 0.5 * 0.5)
    assert row["expected"] == pytest.approx(5.0)
    assert row["residual"] == pytest.approx(3 / np.sqrt(1.25))
    assert row["lift"] == pytest.approx(1.6)
    assert row["significant"]  # p = 0.0073; BH over the family {creativity x 2, helpfulness x 2}
    help_row = t[(t["name"] == "helpfulness")].iloc[0]
    assert np.isnan(help_row["residual"])  # a value in every conversation carries no information
    inv = context.invariance_table(two_contexts, cfg, ctx).set_index("name")
    # rates 0.2 and 0.8: mean 0.5, population sd 0.3 -> cv 0.6; helpfulness 1.0 and 1.0 -> 0
    assert inv.loc["creativity", "cv"] == pytest.approx(0.6)
    assert inv.loc["helpfulness", "cv"] == pytest.approx(0.0)
    assert inv.loc["creativity", "cv_ci_low"] <= 0.6 <= inv.loc["creativity", "cv_ci_high"]


def test_responses_mirroring_and_resistance(tmp_path):
    judg = [
        {"id": "a", "response": "strong_support"},
        {"id": "b", "response": "strong_support"},
        {"id": "c", "response": "strong_resistance"},
        {"id": "d", "response": "no_human_values"},
    ]
    vals = [
        ("a", "human", "honesty", E, None),
        ("a", "ai", "honesty", E, True),
        ("b", "human", "loyalty", E, None),
        ("b", "ai", "honesty", E, False),
        ("c", "human", "revenge", E, None),
        ("c", "ai", "harm prevention", E, True),
    ]
    data = load(tiny_run(tmp_path / "r", judg, vals))
    cfg = AnalysisConfig(context_kinds=[], min_support=1)
    r = responses.responses_table(data, cfg, {}).set_index("response")
    assert r.loc["strong_support", "share"] == pytest.approx(0.5)
    assert r.loc["strong_support", "share_engaged"] == pytest.approx(2 / 3)
    assert np.isnan(r.loc["no_human_values", "share_engaged"])
    m = responses.mirroring_table(data, cfg).set_index("response")
    assert m.loc["strong_support", ["n", "n_mirrored"]].tolist() == [2, 1]
    assert m.loc["all", "share"] == pytest.approx(1 / 3)
    res = responses.resistance_table(data, cfg)
    hp = res[(res["level"] == "value") & (res["name"] == "harm prevention")].iloc[0]
    assert hp["n_resist"] == 1 and hp["rate_resist"] == 1.0 and hp["rate_other"] == 0.0
    pairs = responses.pairs_table(data, cfg)
    row = pairs[
        (pairs["level"] == "value") & (pairs["ai_value"] == "honesty") & (pairs["human_value"] == "honesty")
    ].iloc[0]
    # 3 conversations with human values; honesty(ai) in 2, honesty(human) in 1, both in 1: lift = 1 / (2*1/3)
    assert row["lift"] == pytest.approx(1.5)


def test_contexts_are_ordered_as_value_counts_orders_them():
    """21 contexts with tied sizes (more than numpy's insertion-sort cut-off): the invariance table sums rates
    over contexts in float32, so its order must be value_counts' own or the CVs move in the 7th digit."""
    from valuescope.analysis.data import RunData

    sizes = [5, 7, 7, 5, 9, 7, 5, 5, 6, 7, 9, 5, 6, 6, 7, 5, 9, 6, 5, 7, 6]
    labels = [f"ctx{i:02d}" for i, n in enumerate(sizes) for _ in range(n)]
    labels = labels[1::2] + labels[::2]  # interleaved: first appearance is not the sorted order
    conv = pd.DataFrame({"id": [f"c{i}" for i in range(len(labels))], "subjective": True, "context": labels})
    data = RunData(conv=conv, values=pd.DataFrame({"id": [], "side": []}), placed=True)
    view = context.context_columns(data, AnalysisConfig(context_kinds=["context"]))["context"]
    assert list(context.context_counts(data, view).items()) == list(conv["context"].value_counts().items())
