"""Clio-style hierarchy restructuring against the scriptable fake OpenAI-compatible server (and llama.cpp)."""

from __future__ import annotations

import csv
import json
import re
from collections import Counter

import numpy as np
import pandas as pd
import pytest
from extract_llm.conftest import llama_server  # noqa: F401 - the shared llama.cpp fixture
from sklearn.metrics import normalized_mutual_info_score as nmi

import valuescope.extract.llm.client as client_mod
from fakes.fake_server import FakeLLM, ServerThread
from valuescope.extract.config import ExtractConfig
from valuescope.extract.llm.backends import get_backend
from valuescope.taxonomy.api import build_values
from valuescope.taxonomy.clio import LLMNamer
from valuescope.taxonomy.clio_hierarchy import ClioRestructurer, merge_similar
from valuescope.taxonomy.config import TaxonomyConfig
from valuescope.taxonomy.discover import build_hierarchy
from valuescope.taxonomy.naming import AUTO
from valuescope.taxonomy.reference import published_tree
from valuescope.taxonomy.vectors import TextVectors

TOPICS = [
    "Honesty and truthfulness",
    "Care for others' wellbeing",
    "Technical excellence",
    "Creative expression",
    "Harm prevention and safety",
    "Personal autonomy",
    "Learning and knowledge",
    "Fairness and justice",
    "Professional conduct",
    "Cultural respect",
    "Environmental care",
    "Emotional support",
]


class TaxonomyFake(FakeLLM):
    """FakeLLM answering the taxonomy prompts; ``script[kind]`` = steps for the n-th request of that kind."""

    def __init__(self, script: dict[str, list[str]] | None = None) -> None:
        super().__init__(hang_s=4)
        self.script = script or {}
        self.kinds: Counter[str] = Counter()
        self.prompts: list[str] = []

    @staticmethod
    def kind(user: str) -> str:
        if "Propose about" in user:
            return "propose"
        if "Merge overlapping" in user:
            return "dedupe"
        if "Items to file" in user:
            return "assign"
        return "name"

    def _user(self) -> str:
        return next(m["content"] for m in self.bodies[-1]["messages"] if m["role"] == "user")

    def _step(self, text: str) -> str:
        user = self._user()
        self.prompts.append(user)
        k = self.kind(user)
        steps = self.script.get(k, ["ok"])
        n = self.kinds[k]
        self.kinds[k] += 1
        return steps[min(n, len(steps) - 1)]

    def _answer_text(self, step: str, props):  # type: ignore[override]
        if step == "badjson":
            return "Sure! The categories are: kindness, honesty."
        if step == "schema":
            return json.dumps({"unexpected": True})
        user, n = self._user(), sum(self.kinds.values())
        kind = self.kind(user)
        if kind in ("propose", "dedupe"):
            t = int(re.search(r"about (\d+)", user).group(1))
            start = n * 3 % len(TOPICS)
            names = [TOPICS[(start + i) % len(TOPICS)] for i in range(t)]
            return json.dumps({"categories": [{"name": a, "description": f"Values about {a.lower()}."} for a in names]})
        if kind == "assign":
            items = int(re.search(r"For each of the (\d+) items", user).group(1))
            if step == "wild":
                return json.dumps({"choices": [0, 999][:items]})  # out of range, and too short
            options = [int(m.split(",")[0]) for m in re.findall(r"\(options: ([0-9, ]+)\)", user)]
            assert len(options) == items
            return json.dumps({"choices": options})
        return json.dumps({"name": f"Fake {TOPICS[n % len(TOPICS)]}", "description": "Values focusing on fake things."})


@pytest.fixture(autouse=True)
def fast_backoff(monkeypatch):
    monkeypatch.setattr(client_mod, "BACKOFF_BASE_S", 0.01)
    monkeypatch.setattr(client_mod, "BACKOFF_CAP_S", 0.05)


@pytest.fixture(scope="module")
def sample():
    tree = published_tree()
    leaves = [n.name for n in tree.leaves][::40][:80]
    w = np.array([tree.frequencies.get(v, 0.001) * 3000 for v in leaves])
    return leaves, w, TextVectors("minilm")


def _complete_json(url: str, model: str = "fake-model", **kw):
    backend = get_backend(
        ExtractConfig(backend="openai", model=model, base_url=url, **{"max_retries": 1, "timeout_s": 10, **kw})
    )
    return lambda system, user, schema: backend.complete_json(system, user, schema, "taxonomy_answer")


def _build(url, sample, sizes=(12, 4, 2), **kw):
    leaves, w, vectors = sample
    llm = _complete_json(url)
    clio = ClioRestructurer(llm, vectors, namer=LLMNamer(llm), **kw)
    h = build_hierarchy(leaves, w, vectors(leaves), sizes=list(sizes), namer=clio.namer, restructurer=clio)
    return h, clio


def _assert_strict(h, n_values, sizes):
    assert len(h.levels) == len(sizes)
    below = n_values
    for level, k in zip(h.levels, sizes):
        assert level.parent.shape == (below,)
        m = len(level.names)
        assert 1 <= m <= k and set(level.parent.tolist()) == set(range(m))  # no empty parents
        assert len(level.descriptions) == m and len(level.weights) == m
        below = m
    for path in h.value_clusters():  # every value: exactly one cluster per level
        assert path.shape == (n_values,) and path.min() >= 0


def test_restructures_upper_levels_with_llm_answers(sample):
    app = TaxonomyFake()
    with ServerThread(app) as url:
        h, clio = _build(url, sample)
    _assert_strict(h, len(sample[0]), [12, 4, 2])
    s = clio.stats
    assert (
        s.calls["propose"] >= 2
        and s.calls["assign"] >= 2
        and s.calls["rename"] == len(h.levels[1].names) + len(h.levels[2].names)
    )
    assert sum(s.fallbacks.values()) == 0 and s.item_fallbacks == 0
    assert all(n.startswith("Fake ") for lv in h.levels for n in lv.names)
    assert app.kinds["propose"] == s.calls["propose"] and app.kinds["assign"] == s.calls["assign"]
    # the values are shown as data, inside a delimited block
    assert all("<data>" in p for p in app.prompts if TaxonomyFake.kind(p) != "name")
    summary = s.summary()
    assert summary["llm_calls"] == sum(s.calls.values()) and summary["llm_fallbacks"] == 0


def test_every_call_failing_still_gives_a_complete_hierarchy(sample):
    app = TaxonomyFake({"propose": ["500"], "dedupe": ["badjson"], "assign": ["schema"], "name": ["500"]})
    with ServerThread(app) as url:
        h, clio = _build(url, sample)
    _assert_strict(h, len(sample[0]), [12, 4, 2])
    s = clio.stats
    assert s.calls["propose"] >= 2 and s.calls["assign"] >= 2
    for step in ("propose", "dedupe", "assign", "rename"):
        assert s.fallbacks[step] == s.calls[step], step
    assert all(n.endswith(AUTO) for lv in h.levels for n in lv.names)  # offline names everywhere
    assert clio.namer.failures == len(h.levels[0].names) + s.calls["rename"]
    # a level whose calls mostly failed is the offline level: same partition as building without an LLM
    assert s.offline_levels == 2 and s.summary()["llm_offline_levels"] == 2
    leaves, w, vectors = sample
    offline = build_hierarchy(leaves, w, vectors(leaves), sizes=[12, 4, 2])
    for got, want in zip(h.value_clusters(), offline.value_clusters(), strict=True):
        assert nmi(got, want) == pytest.approx(1.0)


def test_mixed_faults_are_counted(sample):
    # first propose call 500 (twice: one retry), later ones fine; every dedupe answer garbage (+ failed repair);
    # first assign answer valid JSON with invalid choices, the rest fine; names fine
    app = TaxonomyFake({"propose": ["500", "500", "ok"], "dedupe": ["badjson"], "assign": ["wild", "ok"]})
    with ServerThread(app) as url:
        h, clio = _build(url, sample)
    _assert_strict(h, len(sample[0]), [12, 4, 2])
    s = clio.stats
    assert s.fallbacks["propose"] == 1 and s.calls["propose"] >= 2
    assert s.fallbacks["dedupe"] == s.calls["dedupe"]
    assert s.fallbacks["assign"] == 0 and s.item_fallbacks >= 1
    assert s.fallbacks["rename"] == 0
    assert s.offline_levels == 0  # most calls of each level answered: the LLM's structure is kept


def test_merge_rule_caps_parents_and_merges_near_duplicates():
    vecs = np.array([[1, 0, 0], [0.999, 0.04, 0], [0, 1, 0], [0, 0, 1], [0, 0.7, 0.7]], dtype=float)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    items = [("A", ""), ("a", ""), ("B", ""), ("C", ""), ("D", "")]
    out, v = merge_similar(items, vecs, k=10, threshold=0.95)
    assert [a for a, _ in out] == ["A", "B", "C", "D"] and len(v) == 4  # exact duplicate 'a' dropped
    out, _ = merge_similar([("A", ""), ("A2", ""), ("B", "")], vecs[[0, 1, 2]], k=10, threshold=0.95)
    assert [a for a, _ in out] == ["A", "B"]  # near-duplicate merged, first name kept
    out, _ = merge_similar(items[2:], vecs[2:], k=2, threshold=0.99)
    assert len(out) == 2


def test_build_values_uses_clio_when_llm_configured(sample, tmp_path):
    leaves, w, _ = sample
    app = TaxonomyFake()
    with ServerThread(app) as url:
        config = TaxonomyConfig(
            namer="llm", llm_backend="openai", llm_model="fake-model", llm_base_url=url, level_sizes=[10, 3]
        )
        h = build_values(pd.DataFrame({"value": leaves[:40], "count": w[:40] + 1}), config, tmp_path)
    assert app.kinds["propose"] >= 1 and app.kinds["assign"] >= 1
    assert h.llm_stats["llm_calls"] >= 2 and h.llm_stats["llm_fallbacks"] == 0  # reported by `taxonomy build`
    with open(tmp_path / "values_tree.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert {r["name"] for r in rows if r["level"] == "2"} == set(h.levels[1].names)
    assert all(n.startswith("Fake ") for n in h.levels[1].names)


@pytest.mark.llm_server
def test_smollm2_restructures_a_few_dozen_values(llama_server, sample):  # noqa: F811
    leaves, w, vectors = sample
    h = build_hierarchy(leaves[:30], w[:30], vectors(leaves[:30]), sizes=[6])
    llm = _complete_json(llama_server, model="smollm2", timeout_s=600, max_output_tokens=256)
    clio = ClioRestructurer(llm, vectors, namer=LLMNamer(llm, members=10, contrast=5))
    h2 = clio.extend(h, [2])
    _assert_strict(h2, 30, [6, 2])
    s = clio.stats
    print("\nSmolLM2 restructuring:", s.summary())
    assert 3 <= sum(s.calls.values()) <= 8


def test_cli_build_says_when_levels_kept_the_offline_clustering(sample, tmp_path):
    from typer.testing import CliRunner

    from valuescope.cli import app as cli_app

    leaves, _, _ = sample
    src = tmp_path / "values.txt"
    src.write_text("\n".join(leaves[:40]) + "\n", encoding="utf-8")
    fake = TaxonomyFake({"propose": ["500"], "dedupe": ["badjson"], "assign": ["schema"], "name": ["500"]})
    with ServerThread(fake) as url:
        r = CliRunner().invoke(
            cli_app,
            [
                "taxonomy",
                "build",
                "--input",
                str(src),
                "--output",
                str(tmp_path / "out"),
                "--levels",
                "10,3",
                "--model",
                "fake-model",
                "--base-url",
                url,
            ],
        )
    assert r.exit_code == 0, r.output
    assert "1 level(s) kept the offline clustering" in " ".join(r.output.split())
    assert (tmp_path / "out" / "values_tree.csv").is_file()
