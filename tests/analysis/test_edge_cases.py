"""Ordinary data that used to crash the analyses: user ids, and empty inputs of every kind.

Every case runs the real analysis stages and the report, with user ids and
without, and checks the report says what is missing instead of failing.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from analysis_helpers import tiny_run

from valuescope import api
from valuescope.analysis.config import AnalysisConfig
from valuescope.analysis.stage import analysis_stages
from valuescope.engine.runner import run_stages
from valuescope.privacy.config import PrivacyConfig
from valuescope.report.html import render_report

E = "Ethical interaction"
C = "Clarity and precision"
CFG = AnalysisConfig(context_kinds=["task_category", "context"], bootstrap=10, min_support=1)
FLOOR = PrivacyConfig(min_conversations=1, min_users=1)


def _judgments(n: int, **kw) -> list[dict]:
    return [{"id": f"c{i}", **kw} for i in range(n)]


def _conversations(ids: list[str], users: bool, models: int = 1, contexts: int = 1) -> list[dict]:
    return [
        {
            "id": cid,
            "model": f"model-{i % models}",
            "context": f"ctx-{i % contexts}",
            "user_id": f"user-{i % 3}" if users else None,
            "timestamp": "2026-11-01T10:00:00",
            "source": "t",
        }
        for i, cid in enumerate(ids)
    ]


def _values(ids: list[str], human: bool = True) -> list[tuple]:
    out = []
    for i, cid in enumerate(ids):
        out.append((cid, "ai", "honesty" if i % 2 else "clarity", E if i % 2 else C, True))
        if human:
            out.append((cid, "human", "honesty" if i % 3 else "autonomy", E, None))
    return out


CASES = {
    "zero_conversations": ([], []),
    "zero_subjective": (_judgments(1, subjective=False, response="no_human_values"), []),
    "zero_human_values": (_judgments(8, response="no_human_values"), "ai_only"),
    "one_model_one_context": (_judgments(8, response="strong_support"), "both"),
}


@pytest.mark.parametrize("users", [True, False], ids=["with_users", "without_users"])
@pytest.mark.parametrize("case", list(CASES))
def test_analyses_and_report_handle_empty_inputs(tmp_path, case, users):
    judgments, kind = CASES[case]
    ids = [j["id"] for j in judgments]
    values = [] if not kind else _values(ids, human=kind == "both")
    run = tiny_run(tmp_path / "r", judgments, values, _conversations(ids, users))
    run_stages(run, analysis_stages(CFG, FLOOR), quiet=True)
    for name in ("frequencies", "summary", "responses", "mirroring", "resistance_values", "value_pairs", "alerts"):
        assert run.has_table(f"analysis/{name}"), name
    assert len(run.read_df("anomaly_scores")) == len(judgments)
    html = render_report(run.path)
    assert "Run summary" in html
    if case == "zero_conversations":
        assert "No conversations were judged in this run" in html
    elif case == "zero_subjective":
        assert "No subjective conversations" in html
    elif case == "zero_human_values":
        assert "no conversation where the user expressed values" in html


def test_mirroring_counts_users_per_response(tmp_path):
    """count_cells with a grouping key named like its own helper columns (the `x` crash)."""
    from valuescope.analysis import responses
    from valuescope.analysis.data import load

    ids = [f"c{i}" for i in range(6)]
    judg = [{"id": i, "response": "strong_support" if n < 4 else "mild_resistance"} for n, i in enumerate(ids)]
    conv = _conversations(ids, users=True)
    conv[5]["user_id"] = None  # a conversation without a user counts as its own user
    data = load(tiny_run(tmp_path / "r", judg, _values(ids), conv))
    m = responses.mirroring_table(data, CFG).set_index("response")
    assert m.loc["all", "n"] == 6 and m.loc["all", "n_users"] == 4  # user-0, user-1, user-2 + one anonymous
    assert m.loc["strong_support", "n_users"] == 3 and m.loc["mild_resistance", "n_users"] == 2


@pytest.fixture(scope="module")
def hh_with_users(tmp_path_factory, conversations_dir, reference_dir) -> tuple[Path, Path]:
    """30 annotated hh-rlhf conversations, each with a raw user id user-0..user-6, and their labels."""
    labels = {}
    for name in ("dev.jsonl", "dev2.jsonl"):
        for line in (reference_dir / name).read_text("utf-8").splitlines():
            if line.strip():
                rec = json.loads(line)
                labels[rec["id"]] = line
    rows = []
    with open(conversations_dir / "hh_rlhf_harmless_base_test.jsonl", encoding="utf-8") as fh:
        for line in fh:
            rec = json.loads(line)
            if rec["id"] in labels and len(rows) < 30:
                rows.append({**rec, "user_id": f"user-{len(rows) % 7}"})
    folder = tmp_path_factory.mktemp("hh_users")
    inp, lab = folder / "in.jsonl", folder / "labels.jsonl"
    inp.write_text("".join(json.dumps(r) + "\n" for r in rows), "utf-8")
    lab.write_text("\n".join(labels[r["id"]] for r in rows) + "\n", "utf-8")
    return inp, lab


def test_analyze_a_corpus_with_user_ids(tmp_path, hh_with_users):
    inp, lab = hh_with_users
    run = api.analyze(
        [inp],
        tmp_path / "run",
        extractor="reference",
        reference=str(lab),
        build=False,
        context_kinds=["task_category"],
        bootstrap=10,
    )
    conv = run["conversations"]
    assert conv["user_id"].nunique() == 7 and conv["user_id"].str.startswith("u_").all()
    freq = run["analysis/frequencies"]
    assert (freq["n_users"] >= 3).all()  # the floor's user rule was applied with real user counts
    mirroring = run["analysis/mirroring"]
    assert mirroring.loc[mirroring["response"] == "all", "n"].item() > 0
    assert (run.path / "report.html").is_file()


def test_analyze_a_corpus_where_only_some_conversations_have_a_user(tmp_path, conversations_dir):
    """Two real MT-Bench conversations, one with a user id and one without (count_cells crashed on this)."""
    with open(conversations_dir / "mt_bench.jsonl", encoding="utf-8") as fh:
        rows = [json.loads(next(fh)) for _ in range(2)]
    rows[0]["user_id"] = "alice"
    inp = tmp_path / "mixed.jsonl"
    inp.write_text("".join(json.dumps(r) + "\n" for r in rows), "utf-8")
    run = api.analyze(
        [inp],
        tmp_path / "run",
        build=False,
        context_kinds=["task_category"],
        bootstrap=10,
        min_conversations=1,
        min_users=1,
    )
    users = run["conversations"].set_index("id")["user_id"]
    assert users[rows[0]["id"]].startswith("u_") and pd.isna(users[rows[1]["id"]])
    assert run.manifest["status"] == "complete"
    freq = run["analysis/frequencies"]
    assert len(freq) and (freq["n_users"] >= 1).all() and (freq["n_users"] <= freq["n"]).all()
    assert (run.path / "report.html").is_file()


@pytest.mark.parametrize("users", [True, False], ids=["with_users", "without_users"])
def test_report_on_one_subjective_conversation_says_floor_not_none(tmp_path, users):
    """One subjective conversation: its response type is below the floor, which is not 'no subjective conversations'."""
    judgments = _judgments(1, response="strong_support")
    run = tiny_run(tmp_path / "r", judgments, _values(["c0"]), _conversations(["c0"], users))
    run_stages(run, analysis_stages(CFG, PrivacyConfig()), quiet=True)
    assert run.read_df("analysis/responses").empty
    html = render_report(run.path)
    assert "No subjective conversations" not in html
    assert "Every response type is below the privacy floor" in html
