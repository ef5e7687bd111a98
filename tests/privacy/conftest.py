"""A real run built from the bundled sample (no shared data needed), with planted privacy hazards.

120 sample conversations go through every stage (ingest, reference extraction,
taxonomy place + build, analysis, report) with labels made here: common
published values in many conversations, plus

* RARE: a value in exactly one conversation (must never leave the run),
* ONE_USER: a value in 6 conversations, all of one user (conversations 0-5 carry
  the raw user id ONE_USER_ID): above the conversation floor (5), below the user
  floor (3 users), so it must never leave a run with user ids,
* FORMULA: a value in 10 conversations that a spreadsheet would evaluate.

The other conversations carry raw ids of 20 users, as real logs do.
``sample_run_no_users`` is the same run without any user id (only the
conversation floor applies; ONE_USER may leave it).
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from valuescope import api
from valuescope.config import RunConfig
from valuescope.engine.rundir import RunDir
from valuescope.engine.runner import run_stages

N_CONVERSATIONS = 120
COMMON = ["helpfulness", "honesty", "harm prevention", "transparency", "professionalism", "respect for autonomy"]
RARE = "loyalty to zebediah quattlebaum"
ONE_USER = "loyalty to quentin"
FORMULA = '=HYPERLINK("http://evil.example","x")'
ONE_USER_ID = "quentin@example.com"


def planted_labels(ids: list[str]) -> list[dict]:
    labels = []
    for i, cid in enumerate(ids):
        ai = [
            {"value": COMMON[i % len(COMMON)], "explicit": False},
            {"value": COMMON[(i + 1) % len(COMMON)], "explicit": True},
        ]
        if i == 7:
            ai.append({"value": RARE, "explicit": True})
        if i < 6:
            ai.append({"value": ONE_USER, "explicit": False})
        if 20 <= i < 30:
            ai.append({"value": FORMULA, "explicit": False})
        labels.append(
            {
                "id": cid,
                "subjective": True,
                "task": "answer a question",
                "task_category": "other",
                "ai_values": ai,
                "human_values": [{"value": COMMON[i % 3]}],
                "response": "mild_resistance" if i % 2 else "neutral_acknowledgment",
                "harmful_compliance": False,
            }
        )
    return labels


def sample_rows(n: int) -> list[dict]:
    """The first ``n`` conversations of the bundled sample, as JSON records."""
    with gzip.open(api.sample_path(), "rt", encoding="utf-8") as fh:
        return [json.loads(line) for _, line in zip(range(n), fh, strict=False)]


def with_user_ids(rows: list[dict]) -> list[dict]:
    """Conversations 0-5 by ONE_USER_ID, the rest by user-0..user-19."""
    return [{**r, "user_id": ONE_USER_ID if i < 6 else f"user-{i % 20}"} for i, r in enumerate(rows)]


def build_sample_run(root: Path, users: bool = True, tree: Path | None = None) -> Path:
    """The planted run in ``root/run``; ``tree``: place values on this tree (published schema) instead."""
    rows = sample_rows(N_CONVERSATIONS)
    if users:
        rows = with_user_ids(rows)
    inp, lab = root / "input.jsonl", root / "labels.jsonl"
    inp.write_text("".join(json.dumps(r) + "\n" for r in rows), "utf-8")
    lab.write_text("".join(json.dumps(r) + "\n" for r in planted_labels([r["id"] for r in rows])), "utf-8")
    config = RunConfig()
    config.extract.extractor = "reference"
    config.extract.reference = str(lab)
    config.analysis.context_kinds = ["task_category"]
    config.analysis.bootstrap = 20
    config.taxonomy.level_sizes = [4, 2]
    if tree is not None:
        config.taxonomy.tree = str(tree)
    from valuescope.pipeline import build_stages

    run = RunDir(root / "run")
    run_stages(run, build_stages(config, [str(inp)]), workers=1, quiet=True)
    return run.path


@pytest.fixture(scope="session")
def sample_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The planted run with user ids (built once per session; tests that change it work on a copy)."""
    return build_sample_run(tmp_path_factory.mktemp("privacy-sample"))


@pytest.fixture(scope="session")
def sample_run_no_users(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The planted run without user ids."""
    return build_sample_run(tmp_path_factory.mktemp("privacy-sample-no-users"), users=False)
