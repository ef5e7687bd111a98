"""Shared fixtures: where the read-only shared data lives (../shared beside the repo).

On a fresh clone without the shared corpora, tests that need them are skipped
(the rest run on data in the repository) and the run ends with one line saying
how many were skipped and why. ``VALUESCOPE_REQUIRE_SHARED=1`` turns the skip
into a failure, for CI machines that must run everything.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("VALUESCOPE_SHARED", REPO.parent / "shared"))
SHARED_MISSING = f"shared data not found at {SHARED} (set VALUESCOPE_SHARED)"


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not (SHARED / "data").is_dir():
        if os.environ.get("VALUESCOPE_REQUIRE_SHARED", "").strip() not in ("", "0"):
            pytest.fail(SHARED_MISSING)
        pytest.skip(SHARED_MISSING)
    return SHARED


@pytest.fixture(scope="session")
def conversations_dir(shared_dir: Path) -> Path:
    return shared_dir / "data" / "conversations"


@pytest.fixture(scope="session")
def reference_dir(shared_dir: Path) -> Path:
    return shared_dir / "data" / "reference-annotations"


def _is_shared_skip(report: pytest.TestReport) -> bool:
    longrepr = report.longrepr
    return (
        bool(report.skipped)
        and isinstance(longrepr, tuple)
        and len(longrepr) == 3
        and SHARED_MISSING in str(longrepr[2])
    )


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> pytest.TestReport:
    """Report every shared-data skip at one place, so ``-ra`` folds them into one line."""
    report = yield
    if _is_shared_skip(report):
        report.longrepr = (str(Path(__file__).relative_to(REPO)), None, report.longrepr[2])
    return report


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """One line for every test skipped for want of the shared corpora (unless ``-rs`` already printed it)."""
    if "s" in getattr(terminalreporter, "reportchars", ""):
        return
    skipped = [r for r in terminalreporter.stats.get("skipped", []) if _is_shared_skip(r)]
    if skipped:
        terminalreporter.write_line(f"{len(skipped)} tests skipped: {SHARED_MISSING}", yellow=True, bold=True)
