"""The report page: content, self-containment, size, escaping, the privacy floor, graceful gaps."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest
from runs import XSS_HUMAN, XSS_MODEL, XSS_TEXT, XSS_VALUE

from valuescope.engine.rundir import RunDir
from valuescope.privacy.config import PrivacyConfig
from valuescope.report.config import ReportConfig
from valuescope.report.html import json_for_html, render_report


@pytest.fixture(scope="module")
def html(report_run) -> str:
    return (report_run.path / "report.html").read_text("utf-8")


def test_report_has_every_section_in_reading_order(html: str) -> None:
    ids = re.findall(r'<section id="([a-z-]+)"', html)
    assert ids == [
        "summary",
        "taxonomy",
        "categories",
        "values",
        "published",
        "context",
        "responses",
        "resistance",
        "anomalies",
        "comparison",
        "methods",
    ]
    for chart in (
        "chart-taxonomy",
        "chart-top-ai",
        "chart-top-human",
        "chart-categories",
        "chart-published-values",
        "chart-context-task-category",
        "chart-responses",
        "chart-mirroring",
        "chart-resistance",
        "chart-anomaly-scores",
    ):
        assert f'id="{chart}"' in html, chart


def test_report_is_self_contained_and_small(html: str, report_run) -> None:
    assert (report_run.path / "report.html").stat().st_size < 5_000_000
    assert not re.search(r'<(script|link|img|iframe)[^>]+(src|href)=["\']?(https?:)?//', html), "external resource"
    assert "cdn.plot.ly" not in html
    assert 'id="plotly-gz"' in html  # plotly.js travels inside the page


def test_summary_counts_and_privacy_thresholds(html: str) -> None:
    assert "406" in html  # 400 dev conversations + 6 planted, all ingested and judged
    assert "reference:labels.jsonl" in html
    assert "≥ 5 conversations and ≥ 3 users" in html


def test_data_is_escaped_everywhere(html: str) -> None:
    for payload in (XSS_VALUE, XSS_HUMAN, XSS_MODEL):
        assert payload not in html
    assert "&lt;script&gt;window.__xss=1&lt;/script&gt;" in html  # in the tables, as text
    # chart labels: JSON inside an attribute, with < > & as unicode escapes, plotly gets entity-escaped text
    figs = [
        json.loads(
            m.replace("&#34;", '"')
            .replace("&amp;", "&")
            .replace("&#39;", "'")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
        )
        for m in re.findall(r'data-figure="([^"]*)"', html)
    ]
    labels = json.dumps(figs)
    assert "&lt;script&gt;window.__xss=1&lt;/script&gt;" in labels
    assert XSS_VALUE not in labels


def test_json_for_html_cannot_close_a_tag() -> None:
    out = json_for_html({"v": "</script><b>&"})
    assert "<" not in out and ">" not in out and "&" not in out
    assert json.loads(out) == {"v": "</script><b>&"}


def test_no_conversation_text_without_examples(html: str, report_run) -> None:
    convs = report_run.read_df("conversations", ["messages"])
    firsts = [m[0]["content"][:60] for m in convs["messages"] if len(m) and len(m[0]["content"]) >= 60]
    assert firsts and not any(t in html for t in firsts)
    assert "please help" not in html  # the planted conversations' text
    assert "Example snippets" not in html


def test_examples_only_scrubbed_snippets_above_the_floor(report_run, tmp_path: Path) -> None:
    html = render_report(report_run.path, ReportConfig(examples=True, max_examples=2), PrivacyConfig())
    snippets = re.findall(r"<blockquote>.*?</blockquote>", html, re.S)
    assert 0 < len(snippets) <= 2 * 20
    values = report_run.read_df("values")
    n_by_value = values[values.side == "ai"].groupby("value_norm")["id"].nunique()
    shown = [
        v.replace("&lt;", "<").replace("&gt;", ">")
        for v in re.findall(r'<details class="examples">.*?</details>', html, re.S)[0].split("<h3>")[1:]
    ]
    for block in shown:
        name = block.split("</h3>")[0]
        assert n_by_value[name] >= 5, f"{name} is below the floor but has examples"
    # the planted XSS conversation text appears escaped, never raw
    assert XSS_TEXT not in html


def test_the_floor_suppresses_small_cells(report_run, html: str) -> None:
    strict = render_report(report_run.path, ReportConfig(), PrivacyConfig(min_conversations=15))
    # "evil-model" has 6 conversations: listed at floor 5, suppressed everywhere at floor 15
    # (summary, and the analysis tables, which the report floors again with its own thresholds)
    assert "evil-model" in html and "evil-model" not in strict
    assert "xss=1" in html and "xss=1" not in strict
    assert "below the privacy floor" in strict


def test_missing_tables_degrade_to_notes(report_run, tmp_path: Path) -> None:
    run = RunDir(tmp_path / "partial")
    for name in ("conversations", "judgments", "mentions"):
        run.write_table(name, report_run.read_table(name))
    html = render_report(run.path)
    assert "Not shown: this run has no values.parquet" in html
    assert "Not shown: this run has no analysis/frequencies.parquet" in html
    assert 'id="comparison"' not in html  # no compare table: no comparison page at all
    assert 'id="summary"' in html and "406" in html


def test_empty_run_renders(tmp_path: Path) -> None:
    run = RunDir(tmp_path / "empty")
    html = render_report(run.path, ReportConfig(plotly="raw"))
    assert "Run summary" in html and "Methods" in html
    assert 'id="plotly-gz"' not in html


def test_report_command_regenerates_without_extraction(report_run) -> None:
    from typer.testing import CliRunner

    from valuescope.cli import app

    target = report_run.path / "report.html"
    before = target.stat().st_mtime_ns
    stages_before = json.dumps(report_run.read_manifest().get("stages", {}).get("extract"), sort_keys=True)
    result = CliRunner().invoke(app, ["report", str(report_run.path), "--top", "10"])
    assert result.exit_code == 0, result.output
    assert target.stat().st_mtime_ns > before
    assert json.dumps(report_run.read_manifest().get("stages", {}).get("extract"), sort_keys=True) == stages_before
    assert "Top 10 AI values" in target.read_text("utf-8")
    # put the default report back for the other tests
    assert CliRunner().invoke(app, ["report", str(report_run.path)]).exit_code == 0


def test_frequencies_numbers_reach_the_page(report_run, html: str) -> None:
    freq = pd.read_parquet(report_run.table_path("analysis/frequencies"))
    top = freq[(freq.side == "ai") & (freq.level == "value")].sort_values("share", ascending=False).iloc[0]
    assert f"{100 * top.share:.1f}%" in html


def test_report_on_a_compare_output_folder(report_run, tmp_path: Path) -> None:
    """`valuescope compare RUN --by model --out DIR` then `valuescope report DIR`: a comparison page."""
    from valuescope.analysis.compare import compare_runs
    from valuescope.analysis.config import AnalysisConfig

    out = tmp_path / "cmp"
    compare_runs([str(report_run.path)], str(out), AnalysisConfig(), 5, 3, by="model", group_a="gpt-4", group_b=None)
    assert RunDir(out).has_table("compare")
    html = render_report(out)
    assert 'id="comparison"' in html and "gpt-4" in html
    assert "Not shown: this run has no values.parquet" in html  # the rest degrades to notes
