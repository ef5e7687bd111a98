"""CI runs everything: with ``VALUESCOPE_REQUIRE_SHARED=1`` (set by .ci/run) a missing ../shared fails the run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
NEEDS_SHARED = "tests/ingest/test_quarantine.py::test_all_shared_files_accounted_for"


def _pytest(tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if k != "VALUESCOPE_REQUIRE_SHARED"}
    environ.update(VALUESCOPE_SHARED=str(tmp_path / "no-shared-here"), **env)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", NEEDS_SHARED],
        cwd=REPO,
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_ci_script_requires_shared_data():
    script = (REPO / ".ci" / "run").read_text()
    assert "export VALUESCOPE_REQUIRE_SHARED=1" in script
    assert script.index("export VALUESCOPE_REQUIRE_SHARED=1") < script.index("make test")


def test_missing_shared_data_skips_or_fails(tmp_path):
    skipped = _pytest(tmp_path)
    assert skipped.returncode == 0 and "1 skipped" in skipped.stdout, skipped.stdout
    failed = _pytest(tmp_path, VALUESCOPE_REQUIRE_SHARED="1")
    assert failed.returncode == 1 and "shared data not found" in failed.stdout, failed.stdout
