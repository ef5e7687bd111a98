"""A real run shared by the analysis tests: 600 annotated conversations through the reference extractor."""

from __future__ import annotations

import pytest

from analysis_helpers import build_reference_run


@pytest.fixture(scope="session")
def dev_run(tmp_path_factory, conversations_dir, reference_dir):
    return build_reference_run(tmp_path_factory.mktemp("dev_run"), conversations_dir, reference_dir)
