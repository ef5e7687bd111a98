"""Task clusters are named from task words: a word from one conversation's task must not name a cluster."""

from __future__ import annotations

import pandas as pd

from valuescope.analysis.context import common_words, task_clusters
from valuescope.privacy.config import PrivacyConfig

TEMPLATES = [
    "write a cover letter for a job",
    "fix a python bug in my code",
    "plan a healthy weekly meal",
    "explain how vaccines work",
    "draft an email to my landlord about repairs",
]


def _tasks() -> pd.Series:
    tasks = [TEMPLATES[i % len(TEMPLATES)] for i in range(59)]
    tasks.append("write letters to zebediah quattlebaum zebediah quattlebaum")  # one conversation's own words
    return pd.Series(tasks, index=[f"c{i}" for i in range(60)])


def test_a_one_conversation_word_never_names_a_task_cluster():
    names = task_clusters(_tasks(), k=6)
    assert names.nunique() >= 4
    assert not names.str.contains("zebediah|quattlebaum").any()
    assert names.str.contains("python|vaccines|landlord|meal|letter").any()  # common words still name clusters


def test_the_user_floor_applies_to_name_words():
    tasks = _tasks()
    users = pd.Series([f"u{i % 20}" for i in range(60)], index=tasks.index)
    users[tasks.str.contains("landlord")] = "one-user"  # 12 conversations, one user
    floor = PrivacyConfig()
    words = common_words(tasks.tolist(), users, floor)
    assert "python" in words and "landlord" not in words and "zebediah" not in words
    assert "landlord" in common_words(tasks.tolist(), None, floor)  # without user ids only conversations count
    assert not task_clusters(tasks, k=6, users=users, floor=floor).str.contains("landlord").any()
