"""docs/extending.md's worked examples, run for real: an input format and an analysis, each one new module.

Each plugin is found the way an installed package's would be: through the ``valuescope.plugins``
entry-point group (a real dist-info folder for the CLI subprocess; the same lookup, faked, in process).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import types
from pathlib import Path

import pytest

from valuescope import registry, tables
from valuescope.config import RunConfig
from valuescope.engine.runner import run_stages
from valuescope.pipeline import build_stages

TESTS = Path(__file__).resolve().parents[1]
DOC = TESTS.parent / "docs" / "extending.md"
CLI = "from valuescope.cli import main; main()"

LMSYS_ROWS = [  # the shape of LMSYS-Chat-1M rows (text made up for this test)
    {
        "conversation_id": "a1f0c3",
        "model": "vicuna-13b",
        "turn": 1,
        "language": "English",
        "redacted": False,
        "conversation": [
            {"role": "user", "content": "Should I tell my friend I broke her vase?"},
            {"role": "assistant", "content": "Yes: honesty usually protects the friendship more."},
        ],
    },
    {
        "conversation_id": "b2e9d4",
        "model": "koala-13b",
        "turn": 2,
        "language": "English",
        "redacted": True,
        "conversation": [
            {"role": "user", "content": "Write a haiku about rain."},
            {"role": "assistant", "content": "Soft rain on the roof / ..."},
            {"role": "user", "content": "Shorter."},
            {"role": "assistant", "content": "Rain. Roof. Sleep."},
        ],
    },
    {"conversation_id": "c3d8e5", "model": "vicuna-13b", "conversation": "not a list"},  # quarantined with a reason
]


def installed_plugin(site: Path, name: str, module: str) -> Path:
    """A minimal installed distribution declaring one valuescope plugin (what `pip install` leaves behind)."""
    dist = site / f"{name}-1.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(f"[{registry.ENTRY_POINT_GROUP}]\n{name} = {module}\n")
    return site


def vs(*args: str, paths: list[Path]) -> subprocess.CompletedProcess:
    pythonpath = os.pathsep.join([*map(str, paths), os.environ.get("PYTHONPATH", "")])
    return subprocess.run(
        [sys.executable, "-c", CLI, *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": pythonpath, "COLUMNS": "200"},
    )


def test_an_input_format_is_one_module(tmp_path):
    data = tmp_path / "lmsys.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in LMSYS_ROWS))

    before = vs("ingest", str(data), "--out", str(tmp_path / "before"), "--scrub", "off", "-q", paths=[TESTS])
    assert before.returncode == 2 and "cannot tell the format" in before.stderr  # no reader knows these rows

    site = installed_plugin(tmp_path / "site", "acme-lmsys", "extending.lmsys_reader")
    after = vs("ingest", str(data), "--out", str(tmp_path / "run"), "--scrub", "off", "-q", paths=[site, TESTS])
    assert after.returncode == 0, after.stderr
    from valuescope.engine.rundir import RunDir

    run = RunDir(tmp_path / "run", create=False)
    convs = run.read_df("conversations")
    assert convs["id"].tolist() == ["a1f0c3", "b2e9d4"] and convs["model"].tolist() == ["vicuna-13b", "koala-13b"]
    assert [m["role"] for m in convs["messages"][1]] == ["user", "assistant", "user", "assistant"]
    assert json.loads(convs["meta"][1]) == {"language": "English", "turn": 2, "redacted": True}
    assert [q["reason"] for q in run.read_quarantine()] == ["'conversation' must be a list of {role, content}"]
    assert run.read_manifest()["inputs"][0]["format"] == "lmsys"


@pytest.fixture
def plugins(monkeypatch):
    """Install plugin modules for this test only (a fresh registry finding them as entry points)."""
    known_tables = set(tables.TABLES)

    def install(*modules: str) -> None:
        eps = [types.SimpleNamespace(value=m) for m in modules]
        monkeypatch.setattr(registry, "entry_points", lambda group: eps if group == registry.ENTRY_POINT_GROUP else [])
        monkeypatch.setattr(registry, "REGISTRY", registry.Registry())

    yield install
    for name in set(tables.TABLES) - known_tables:
        del tables.TABLES[name]


def test_an_analysis_is_one_module(tmp_path, plugins, conversations_dir, reference_dir):
    sys.path.insert(0, str(TESTS / "analysis"))
    try:
        from analysis_helpers import build_reference_run
    finally:
        sys.path.remove(str(TESTS / "analysis"))
    run = build_reference_run(tmp_path / "run", conversations_dir, reference_dir, users=150)
    assert "analysis.values_per_conversation" not in [s.name for s in build_stages(RunConfig())]

    plugins("extending.values_per_conversation")
    stages = build_stages(RunConfig())
    names = [s.name for s in stages]
    assert names.index("analysis.values_per_conversation") < names.index("report")
    run_stages(run, [s for s in stages if s.name in ("analysis.values_per_conversation", "report")], quiet=True)

    table = run.read_df("analysis/values_per_conversation")
    assert len(table) >= 5 and (table["n"] >= 5).all() and (table["n_users"] >= 3).all()  # the privacy floor
    judged = run.read_df("judgments")
    subjective = judged[judged["subjective"]]
    mentions = run.read_df("mentions")
    cat = table["task_category"].iloc[0]
    ids = set(subjective.loc[subjective["task_category"] == cat, "id"])
    expected = sum((mentions["side"] == "ai") & mentions["id"].isin(ids)) / len(ids)
    assert table["mean_values"].iloc[0] == pytest.approx(expected)
    assert "values_per_conversation" in run.read_manifest()["privacy_floor"]["suppressed"]
    html = (run.path / "report.html").read_text("utf-8")
    assert "Values per conversation" in html and "AI values per subjective conversation, by task category" in html


@pytest.mark.parametrize("module", ["lmsys_reader.py", "values_per_conversation.py"])
def test_the_docs_show_exactly_the_tested_modules(module):
    source = (TESTS / "extending" / module).read_text("utf-8")
    assert f"```python\n{source}```" in DOC.read_text("utf-8"), f"docs/extending.md is out of step with {module}"
