"""The report's methods section shows the offline extractor's measured agreement and the
taxonomy stage's l2_hint_disagreement (#14), and nothing when they do not apply."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from valuescope.engine.rundir import RunDir
from valuescope.extract.offline import bundle as B
from valuescope.report.data import ReportData
from valuescope.report.floor import Floor
from valuescope.report.html import environment
from valuescope.report.methods import methods_context


def _data(tmp_path: Path, extractor: str, stats: dict | None = None) -> ReportData:
    run = RunDir(tmp_path / "run")
    manifest = {"stages": {"taxonomy_place": {"stats": stats or {}}}}
    return ReportData(
        run=run,
        manifest=manifest,
        quarantine=[],
        tables={"judgments": pd.DataFrame({"id": ["a"], "extractor": [extractor]})},
    )


def _render(ctx: dict) -> str:
    return (
        environment()
        .get_template("report.html.j2")
        .render(
            title="t",
            generated="now",
            sections=[],
            floor=Floor(),
            examples=False,
            attribution="after",
            methods=ctx,
            css="",
            report_js="",
            plotly_js=None,
            plotly_gz=None,
        )
    )


def test_methods_show_the_installed_weights_agreement_and_l2_hint_disagreement(tmp_path: Path) -> None:
    b = B.load()
    data = _data(tmp_path, f"offline:{b.version}", {"l2_hint_disagreement": 0.125})
    ctx = methods_context(data)
    ag = ctx["agreement"]
    assert ag["missing"] is None and "ShareGPT" in " ".join(ag["header"])
    want = f"{b.meta['agreement']['overall']['subjective_accuracy']:.2f}"
    assert any(r[0].startswith("subjective") and r[1] == want for r in ag["rows"])
    html = _render(ctx)
    assert "How far the extractor agrees" in html and want in html
    assert "12.5% of extracted values" in html and "l2_hint_disagreement" in html


def test_methods_never_show_other_weights_figures(tmp_path: Path) -> None:
    ctx = methods_context(_data(tmp_path, "offline:minilm-v1-00000000"))
    assert ctx["agreement"]["missing"] and ctx["l2_hint_disagreement"] is None
    html = _render(ctx)
    assert "no measured agreement shown" in html and "l2_hint_disagreement" not in html
    assert methods_context(_data(tmp_path, "llm:some-model"))["agreement"] is None
