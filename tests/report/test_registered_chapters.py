"""The built-in analyses bring their report chapters by registration, like a plugin's (issue #16)."""

from __future__ import annotations

from valuescope import registry
from valuescope.analysis.plugin import BUILT_IN, Analysis
from valuescope.engine.rundir import RunDir
from valuescope.report.config import ReportConfig
from valuescope.report.data import ReportData
from valuescope.report.floor import Floor
from valuescope.report.html import build_sections

ON_ONE_CORPUS = ["summary", "taxonomy", "categories", "values", "published"]
ON_ONE_CORPUS += ["context", "responses", "resistance", "anomalies"]


def _ids(tmp_path, monkeypatch, skip: str = "", extra: Analysis | None = None) -> list[str]:
    fresh = registry.Registry()
    fresh._loaded = True  # only what this test registers
    for name, stage, sections, order in BUILT_IN:
        if name != skip:
            fresh.add("analysis", name, Analysis(stage=stage, section=sections, report_order=order))
    if extra is not None:
        fresh.add("analysis", "extra", extra)
    monkeypatch.setattr(registry, "REGISTRY", fresh)
    data = ReportData(run=RunDir(tmp_path / "run"), manifest={}, quarantine=[], floor=Floor())
    return [s.id for s in build_sections(data, ReportConfig(examples=False), Floor())]


def test_the_chapters_keep_their_reading_order(tmp_path, monkeypatch):
    assert _ids(tmp_path, monkeypatch) == ON_ONE_CORPUS  # comparison and pressure: only with their data


def test_an_unregistered_analysis_has_no_chapter(tmp_path, monkeypatch):
    ids = _ids(tmp_path, monkeypatch, skip="responses")
    assert "responses" not in ids and "resistance" not in ids and "context" in ids


def test_a_plugin_chapter_follows_the_built_in_ones(tmp_path, monkeypatch):
    from valuescope.report.sections import Section

    def chapter(data, config):
        return Section("extra", "Extra", "a plugin's chapter")

    ids = _ids(tmp_path, monkeypatch, extra=Analysis(stage="x:Y", section=chapter))
    assert ids == [*ON_ONE_CORPUS, "extra"]
