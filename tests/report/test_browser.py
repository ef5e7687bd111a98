"""Real browser (Debian chromium + Playwright): the report and the explorer load cleanly, charts draw,
search works, XSS payloads show as text. Screenshots go to test-artifacts/screenshots/ and RUN/screenshots/."""

from __future__ import annotations

import socket
import threading
import time

import pytest
import uvicorn
from conftest import save_screenshot
from playwright.sync_api import expect
from runs import XSS_HUMAN, XSS_TEXT, XSS_VALUE

from valuescope.report.serve import create_app

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]

HIDE_STICKY = "header.top { position: static !important; }"
# elements plotly draws per chart type: bars/histogram points, sunburst slices, heatmap image
DRAWN = "g.point path, g.slice path, g.hm image, .heatmaplayer image"


def _watch(page) -> list[str]:
    problems: list[str] = []
    page.on(
        "console", lambda m: problems.append(f"console.{m.type}: {m.text}") if m.type in ("error", "warning") else None
    )
    page.on("pageerror", lambda e: problems.append(f"pageerror: {e}"))
    page.on("requestfailed", lambda r: problems.append(f"requestfailed: {r.url}"))
    return problems


def test_report_loads_and_every_chart_renders(browser, report_run, screenshot_dirs) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    problems = _watch(page)
    external: list[str] = []
    page.on("request", lambda r: external.append(r.url) if not r.url.startswith(("file:", "data:", "blob:")) else None)
    page.goto((report_run.path / "report.html").as_uri())
    page.wait_for_selector("body[data-charts-rendered]", timeout=60_000)
    charts = page.locator(".chart")
    n = charts.count()
    assert n >= 10
    assert page.get_attribute("body", "data-charts-rendered") == str(n)
    assert page.get_attribute("body", "data-charts-failed") == "0"
    for i in range(n):
        chart = charts.nth(i)
        cid = chart.get_attribute("id")
        assert chart.locator(".main-svg").count() >= 1, f"{cid}: no plot"
        assert chart.locator(DRAWN).count() > 0, f"{cid}: no data drawn"
    # the planted payloads never ran, and show as text in the page
    assert page.evaluate("window.__xss") is None
    assert XSS_VALUE in page.locator("#values").inner_text() or XSS_VALUE in page.locator("#values").text_content()
    assert page.locator("#chart-top-human").get_by_text(XSS_HUMAN).count() >= 1
    assert problems == [] and external == []
    page.add_style_tag(content=HIDE_STICKY)
    save_screenshot(page, screenshot_dirs, "report-top")
    for sid in (
        "summary",
        "taxonomy",
        "values",
        "published",
        "context",
        "responses",
        "resistance",
        "anomalies",
        "comparison",
    ):
        save_screenshot(page.locator(f"#{sid}"), screenshot_dirs, f"report-{sid}")
    # zoom into a top category of the sunburst: the click must not raise
    page.locator("#chart-taxonomy g.slice").first.click()
    page.wait_for_timeout(600)
    assert problems == []
    page.close()


@pytest.fixture(scope="module")
def explorer_url(report_run):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    # examples on: the planted conversation text (an XSS payload) must render as text too
    server = uvicorn.Server(
        uvicorn.Config(create_app(report_run.path, examples=True), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 20
    while not server.started and time.time() < deadline:
        time.sleep(0.05)
    assert server.started, "explorer did not start"
    yield f"http://127.0.0.1:{port}/"
    server.should_exit = True
    thread.join(timeout=10)


def test_explorer_search_tree_detail_and_xss(browser, explorer_url, report_run, screenshot_dirs) -> None:
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    problems = _watch(page)
    page.goto(explorer_url)
    page.wait_for_selector("#results li[data-name]")
    page.wait_for_selector("#f-task_category option:nth-child(2)", state="attached")
    save_screenshot(page, screenshot_dirs, "explorer-home")

    page.fill("#search", "harm prevention")
    first = page.locator("#results li[data-name]").first
    expect(first).to_have_attribute("data-name", "harm prevention")
    first.click()
    expect(page.locator("#detail h2")).to_have_text("harm prevention")
    assert page.locator("#detail .bars").count() >= 1
    save_screenshot(page, screenshot_dirs, "explorer-search-detail")

    # filter by task category: every listed count is a floor-passing count under the filter
    page.fill("#search", "")
    page.select_option("#f-task_category", "harmful or illicit request")
    page.wait_for_timeout(500)
    assert page.locator("#results li[data-name]").count() > 0

    # walk the tree two levels down
    page.click("#tab-tree")
    page.locator("#tree li[data-name='Protective values']").click()
    page.wait_for_selector("#tree li[data-name='Ethical responsibility']")
    assert "Protective values" in page.locator("#crumbs").inner_text()
    save_screenshot(page, screenshot_dirs, "explorer-tree")

    # the XSS value: searched, listed and opened, it renders as text and never runs
    page.click("#tab-values")
    page.select_option("#f-task_category", "")
    page.fill("#search", "<script>")
    item = page.locator("#results li[data-name]").filter(has_text=XSS_VALUE).first
    expect(item).to_be_visible()
    assert item.locator(".name").inner_text().startswith(XSS_VALUE)
    item.click()
    expect(page.locator("#detail h2")).to_have_text(XSS_VALUE)
    page.click("#detail button.examples")
    quote = page.locator("#detail blockquote").first
    expect(quote).to_contain_text(XSS_TEXT)
    assert page.locator("#detail script, #detail img").count() == 0
    assert page.evaluate("window.__xss") is None
    save_screenshot(page, screenshot_dirs, "explorer-xss-as-text")
    assert problems == []
    page.close()
