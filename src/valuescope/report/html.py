"""RUN/report.html: one self-contained page (CSS, JS and plotly.js inlined; works offline).

The page is rebuilt from the run's tables alone, so `valuescope report RUN`
never reruns extraction. Data reaches the page only through jinja2
autoescaping: figures travel as JSON in ``data-figure`` attributes, never as
raw script text, so a value spelled ``<script>`` is drawn as text.
"""

from __future__ import annotations

import base64
import gzip
import json
from datetime import UTC, datetime
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from valuescope import registry
from valuescope.engine.rundir import RunDir, atomic_write_bytes
from valuescope.privacy.config import PrivacyConfig
from valuescope.report.config import ReportConfig
from valuescope.report.data import ReportData, load_report_data
from valuescope.report.floor import Floor
from valuescope.report.methods import methods_context
from valuescope.report.sections import Section, summary_section, taxonomy_section
from valuescope.taxonomy.reference import ATTRIBUTION

REPORT_FILE = "report.html"


def json_for_html(obj: Any) -> str:
    """JSON with NaN mapped to null and <, >, & escaped (safe inside any HTML context)."""
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False, default=str)
    return (
        text.replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


def _static(name: str) -> str:
    return (resources.files("valuescope.report") / "static" / name).read_text("utf-8")


@lru_cache(maxsize=1)
def _plotly_js() -> str:
    import plotly

    path = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    return path.read_text("utf-8")


@lru_cache(maxsize=1)
def _plotly_gzip_b64() -> str:
    return base64.b64encode(gzip.compress(_plotly_js().encode("utf-8"), 9, mtime=0)).decode("ascii")


def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("valuescope.report", "templates"),
        autoescape=True,  # every template, whatever its extension
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["tojson_attr"] = json_for_html
    return env


def analysis_sections(data: ReportData, config: ReportConfig) -> list[Section]:
    """The chapters every registered analysis brings with it (valuescope.registry; built-ins in
    analysis/plugin.py), ordered by the analyses' ``report_order``, ties in registration order; a chapter
    whose builder returns None is left out."""
    analyses = [registry.get("analysis", name) for name in registry.names("analysis")]
    out = []
    for analysis in sorted(analyses, key=lambda a: a.report_order):  # stable: ties keep registration order
        for build in analysis.section_builders():
            section = build(data, config)
            if section is not None:
                out.append(section)
    return out


def build_sections(data: ReportData, config: ReportConfig, floor: Floor) -> list[Section]:
    """In reading order: the summary and the taxonomy, then the analyses' chapters (values, context,
    responses, anomalies, plugins', comparison, pressure)."""
    return [summary_section(data, floor), taxonomy_section(data, floor), *analysis_sections(data, config)]


def render_report(
    run_path: str | Path, config: ReportConfig | None = None, privacy: PrivacyConfig | None = None
) -> str:
    config = config or ReportConfig()
    run = RunDir(run_path, create=False)
    floor = Floor.from_config(privacy)
    data = load_report_data(run, floor)
    sections = build_sections(data, config, floor)
    plotly_raw = config.plotly == "raw"
    return (
        environment()
        .get_template("report.html.j2")
        .render(
            title=config.title or f"valuescope report: {run.path.name}",
            generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
            sections=sections,
            floor=floor,
            examples=config.examples,
            attribution=ATTRIBUTION,
            methods=methods_context(data),
            css=Markup(_static("report.css")),
            report_js=Markup(_static("report.js")),
            plotly_js=Markup(_plotly_js()) if plotly_raw else None,
            plotly_gz=Markup(_plotly_gzip_b64()) if not plotly_raw else None,
        )
    )


def write_report(
    run_path: str | Path,
    config: ReportConfig | None = None,
    privacy: PrivacyConfig | None = None,
    out: str | Path | None = None,
) -> Path:
    target = Path(out) if out else Path(run_path) / REPORT_FILE
    atomic_write_bytes(target, render_report(run_path, config, privacy).encode("utf-8"))
    return target
