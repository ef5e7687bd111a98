"""Report fixtures: one real run (dev.jsonl through the pipeline), a browser, screenshot folders."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from runs import build_run  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def report_run(tmp_path_factory: pytest.TempPathFactory, conversations_dir: Path, reference_dir: Path):
    """A run over the 400 dev.jsonl conversations (+ 6 planted XSS ones), with report.html."""
    return build_run(tmp_path_factory.mktemp("report") / "run", conversations_dir, reference_dir / "dev.jsonl")


@pytest.fixture(scope="session")
def browser():
    """Debian chromium driven by Playwright.

    A missing browser is a failure (CI installs it via scripts/test-setup.d/browser.sh);
    set VALUESCOPE_SKIP_BROWSER=1 to skip these tests on a machine without chromium.
    """
    if not Path(CHROMIUM).is_file():
        msg = f"{CHROMIUM} missing: run scripts/test-setup.d/browser.sh (apt-get install -y chromium)"
        if os.environ.get("VALUESCOPE_SKIP_BROWSER") == "1":
            pytest.skip(msg + " [skipped: VALUESCOPE_SKIP_BROWSER=1]")
        pytest.fail(msg)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture(scope="session")
def screenshot_dirs(report_run) -> list[Path]:
    """Screenshots go to test-artifacts/screenshots/ (gitignored) and RUN/screenshots/ of the test run."""
    dirs = [ARTIFACTS, report_run.path / "screenshots"]
    for d in dirs:
        d.mkdir(parents=True, exist_ok=True)
    return dirs


def save_screenshot(locator_or_page, dirs: list[Path], name: str) -> None:
    first = dirs[0] / f"{name}.png"
    locator_or_page.screenshot(path=str(first))
    for d in dirs[1:]:
        shutil.copyfile(first, d / f"{name}.png")
