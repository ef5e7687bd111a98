"""`valuescope audit` reads every shared file (gzip, xlsx, escaped JSON) and never prints what it found."""

from __future__ import annotations

import gzip
import shutil
import zipfile

import pytest
from typer.testing import CliRunner

from valuescope.cli import app
from valuescope.engine.rundir import RunDir
from valuescope.privacy.audit import Auditor, audit_run, decoded_spellings

EMAIL = "jane.roe@example.com"
runner = CliRunner()


@pytest.fixture
def run_copy(sample_run, tmp_path):
    dst = tmp_path / "run"
    shutil.copytree(sample_run, dst)
    (dst / "export").mkdir(exist_ok=True)
    return dst


def _kinds(run, where_prefix):
    return {(f.where, f.kind) for f in audit_run(run, explorer=False).findings if f.where.startswith(where_prefix)}


def test_clean_copy_passes(run_copy):
    report = audit_run(run_copy, explorer=True, explorer_names=3)
    assert report.ok, [str(f) for f in report.findings[:5]]
    assert any(s.startswith("GET /api/value?") for s in report.scanned)


def test_gzip_and_xlsx_are_read(run_copy):
    (run_copy / "export" / "rows.csv.gz").write_bytes(gzip.compress(f"value\n{EMAIL}\n".encode()))
    with zipfile.ZipFile(run_copy / "export" / "table.xlsx", "w") as zf:  # an .xlsx is a zip of XML parts
        zf.writestr("[Content_Types].xml", "<Types/>")
        zf.writestr("xl/sharedStrings.xml", f"<sst><si><t>{EMAIL.replace('@', '&#64;')}</t></si></sst>")
    assert _kinds(run_copy, "export/") == {
        ("export/rows.csv", "EMAIL"),
        ("export/table.xlsx!xl/sharedStrings.xml", "EMAIL"),
    }


def test_escaped_email_in_json_is_found(run_copy):
    (run_copy / "export" / "extra.json").write_text('{"contact": "jane.roe\\u0040example.com"}', "utf-8")
    (run_copy / "export" / "lines.jsonl").write_text('{"a": 1}\n{"contact": "jane.roe\\u0040example.com"}\n', "utf-8")
    assert {k for _, k in _kinds(run_copy, "export/")} == {"EMAIL"}
    assert {w for w, _ in _kinds(run_copy, "export/")} == {"export/extra.json", "export/lines.jsonl"}


def test_unreadable_binary_is_a_finding(run_copy):
    (run_copy / "export" / "chart.bin").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00" + EMAIL.encode("utf-16-le"))
    assert _kinds(run_copy, "export/") == {("export/chart.bin", "UNREADABLE")}


def test_cli_prints_findings_masked(run_copy):
    """An e-mail as a value above the floor reaches the explorer's URLs; the audit log must not show it."""
    values = RunDir(run_copy).read_df("values")
    values.loc[values["value_norm"] == "helpfulness", "value_norm"] = EMAIL
    RunDir(run_copy).write_table("values", values)
    res = runner.invoke(app, ["audit", str(run_copy), "--max-show", "1000"])
    assert res.exit_code == 1, res.output
    assert "EMAIL" in res.output and "GET /api/value?name=" in res.output
    assert "roe@" not in res.output and "example.com" not in res.output


@pytest.mark.parametrize(
    "text",
    ["jane.roe\\u0040example.com", "jane.roe&#64;example.com", "jane.roe%40example.com", "jane.roe\\x40example.com"],
)
def test_escaped_spellings_are_decoded(text):
    assert decoded_spellings(text)[-1] == EMAIL
    assert [f.kind for f in Auditor().scan_text(text, "x")] == ["EMAIL"]
