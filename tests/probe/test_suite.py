"""The bundled suite: size, coverage, provenance; user suites in JSONL and YAML; bad suites as one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from valuescope.probe.suite import PRESSURES, SuiteError, bundled_suite_path, load_suite
from valuescope.records import TASK_CATEGORIES

REPO = Path(__file__).resolve().parents[2]


def test_bundled_suite_covers_contexts_and_pressures_with_provenance():
    suite = load_suite("default")
    assert len(suite) >= 300
    assert set(Counter(s.pressure for s in suite)) == set(PRESSURES)
    assert {s.context for s in suite} == set(TASK_CATEGORIES)
    assert all(s.provenance.source and s.provenance.license for s in suite)
    assert all(len(s.turns) == 2 for s in suite)  # every scenario pushes back once
    jbb = {s.provenance.source_id for s in suite if s.provenance.source.startswith("JailbreakBench")}
    assert len(jbb) == 100 and all(s.unethical for s in suite if s.provenance.source.startswith("JailbreakBench"))
    mtb = [s for s in suite if s.provenance.source.startswith("MT-Bench")]
    assert (
        len(mtb) == 80
        and {s.provenance.license for s in mtb} == {"Apache-2.0"}
        and all(s.pressure == "neutral" for s in mtb)
    )


def test_build_script_regenerates_the_bundled_suite(tmp_path, shared_dir):
    out = tmp_path / "suite.jsonl"
    subprocess.run(
        [
            sys.executable,
            str(REPO / "scripts" / "build_probe_suite.py"),
            "--shared",
            str(shared_dir),
            "--out",
            str(out),
        ],
        check=True,
        capture_output=True,
    )
    assert out.read_bytes() == bundled_suite_path().read_bytes()


def test_shipped_mt_bench_items_hold_questions_only(shared_dir):
    """The MT-Bench answers are not shippable: an MT-Bench item is its first question verbatim plus our own pushback."""
    questions = {}
    for line in (shared_dir / "data/conversations/mt_bench.jsonl").open():
        rec = json.loads(line)
        questions[rec["id"].rsplit(":", 1)[-1]] = rec["messages"][0]["content"]
    items = [s for s in load_suite() if s.provenance.source.startswith("MT-Bench")]
    for s in items:
        qid = s.provenance.source_id.rsplit(" ", 1)[-1]
        assert s.turns[0] == questions[qid]
    assert len({s.turns[1] for s in items}) == 1  # one written pushback turn, not MT-Bench's own second turn


def test_user_suite_yaml(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(
        "scenarios:\n  - id: a\n    context: other\n    pressure: emotional\n    turns: [hi, please]\n"
        "    provenance: {source: me, license: CC0-1.0}\n",
        "utf-8",
    )
    [s] = load_suite(path)
    assert s.id == "a" and s.turns == ["hi", "please"] and not s.unethical


@pytest.mark.parametrize(
    "line, reason",
    [
        (
            '{"id": "a", "context": "cooking", "pressure": "neutral", "turns": ["x"], "provenance": {"source": "s", "license": "l"}}',
            "unknown context",
        ),
        (
            '{"id": "a", "context": "other", "pressure": "flattery", "turns": ["x"], "provenance": {"source": "s", "license": "l"}}',
            "pressure",
        ),
        ('{"id": "a", "context": "other", "pressure": "neutral", "turns": ["x"]}', "provenance"),
        (
            '{"id": "a", "context": "other", "pressure": "neutral", "turns": [" "], "provenance": {"source": "s", "license": "l"}}',
            "non-empty",
        ),
        ("{not json", "not valid JSON"),
    ],
)
def test_bad_suite_is_one_line_error_with_location(tmp_path, line, reason):
    path = tmp_path / "bad.jsonl"
    path.write_text(
        '{"id": "ok", "context": "other", "pressure": "neutral", "turns": ["x"], "provenance": {"source": "s", "license": "l"}}\n'
        + line
        + "\n",
        "utf-8",
    )
    with pytest.raises(SuiteError) as err:
        load_suite(path)
    assert ":2" in str(err.value) or "line 2" in str(err.value)
    assert reason in str(err.value) and "\n" not in str(err.value)


def test_duplicate_ids_rejected(tmp_path):
    item = '{"id": "a", "context": "other", "pressure": "neutral", "turns": ["x"], "provenance": {"source": "s", "license": "l"}}\n'
    (tmp_path / "d.jsonl").write_text(item * 2, "utf-8")
    with pytest.raises(SuiteError, match="duplicate scenario id 'a'"):
        load_suite(tmp_path / "d.jsonl")
