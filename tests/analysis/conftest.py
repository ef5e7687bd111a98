"""Real runs shared by the analysis tests: 600 annotated conversations through the reference extractor,
with user ids (dev_run: 150 users, 4 conversations each) and without (dev_run_no_users)."""

from __future__ import annotations

import pytest
from analysis_helpers import build_reference_run


@pytest.fixture(scope="session")
def dev_run(tmp_path_factory, conversations_dir, reference_dir):
    return build_reference_run(tmp_path_factory.mktemp("dev_run"), conversations_dir, reference_dir, users=150)


@pytest.fixture(scope="session")
def dev_run_no_users(tmp_path_factory, conversations_dir, reference_dir):
    return build_reference_run(tmp_path_factory.mktemp("dev_run_no_users"), conversations_dir, reference_dir)
