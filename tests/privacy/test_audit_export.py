"""export + audit on a real run (bundled sample conversations through every stage, planted labels)."""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest
from typer.testing import CliRunner

from valuescope.cli import app
from valuescope.cli.app import UserError
from valuescope.privacy.ids import salt_path
from valuescope.report.audit import audit_run, load_canaries, mask
from valuescope.report.export import export_run

runner = CliRunner()


@pytest.fixture(scope="module")
def run(sample_run, tmp_path_factory):
    """The planted sample run (tests/privacy/conftest.py), exported."""
    path = tmp_path_factory.mktemp("privacy") / "run"
    shutil.copytree(sample_run, path)
    export_run(path)
    return path


@pytest.fixture
def run_copy(run, tmp_path):
    dst = tmp_path / "run"
    shutil.copytree(run, dst)
    return dst


def test_export_is_aggregates_only_and_floored(run):
    out = run / "export"
    names = {p.name for p in out.iterdir()}
    assert {"PRIVACY.md", "privacy.json"} <= names
    assert not any(n.startswith(("conversations", "judgments", "mentions", "values")) for n in names)
    summary = json.loads((out / "privacy.json").read_text())
    for name, info in summary["files"].items():
        df = pd.read_csv(out / name)
        for col in info["floored_on"]:
            if col.startswith("n") and "users" not in col:
                assert ((df[col] >= summary["min_conversations"]) | (df[col] == 0)).all(), (name, col)
    assert "suppressed" in (out / "PRIVACY.md").read_text()


def test_stricter_floor_suppresses_and_discloses(run, tmp_path):
    res = runner.invoke(app, ["export", str(run), "--out", str(tmp_path / "x"), "--min-conversations", "100000"])
    assert res.exit_code == 0, res.output
    summary = json.loads((tmp_path / "x" / "privacy.json").read_text())
    floored = {k: v for k, v in summary["files"].items() if v["floored_on"]}
    assert floored and sum(v["suppressed_at_export"] for v in floored.values()) > 0
    for name, info in floored.items():  # what is left holds nobody (allowed zero cells) or passes
        df = pd.read_csv(tmp_path / "x" / name)
        counts = [c for c in info["floored_on"] if "users" not in c]
        assert ((df[counts] == 0) | (df[counts] >= 100000)).all().all(), name
    for name, info in summary["files"].items():  # taxonomy CSVs: floored on the conversations behind each row
        if info.get("floored_on_members"):
            assert info["rows"] == 0 and pd.read_csv(tmp_path / "x" / name).empty, name


def test_clean_run_passes(run):
    report = audit_run(run, explorer=True, explorer_names=5)
    assert report.ok, [str(f) for f in report.findings[:5]]
    assert "report.html" in report.scanned and any(s.startswith("GET /api/value?") for s in report.scanned)
    assert any(s.startswith("export/") for s in report.scanned)


def test_canary_in_report_fails_with_masked_preview(run_copy):
    html = (run_copy / "report.html").read_text("utf-8")
    html = html.replace("</body>", "<p>Contact Zebediah Quattlebaum</p></body>")
    (run_copy / "report.html").write_text(html, "utf-8")
    report = audit_run(run_copy, ["zebediah  QUATTLEBAUM"], explorer=False)
    kinds = {(f.where, f.kind) for f in report.findings}
    assert ("report.html", "CANARY") in kinds
    assert all("Quattlebaum" not in str(f) for f in report.findings)


def test_pii_and_salt_in_export_fail(run_copy):
    csv = next((run_copy / "export").glob("analysis_*.csv"))
    salt = salt_path(run_copy)
    salt.parent.mkdir(exist_ok=True)
    salt.write_text("f00dfeedf00dfeedf00dfeed")
    csv.write_text(csv.read_text() + "\nleak,jane.roe@example.com,f00dfeedf00dfeedf00dfeed\n")
    kinds = {f.kind for f in audit_run(run_copy, explorer=False).findings}
    assert {"EMAIL", "SALT"} <= kinds


def test_cli_exit_codes(run, run_copy, tmp_path):
    ok = runner.invoke(app, ["audit", str(run), "--no-explorer"])
    assert ok.exit_code == 0, ok.output
    row = pd.read_csv(run / "export" / "analysis_frequencies.csv").iloc[0]
    canary = max((v for v in row.tolist() if isinstance(v, str)), key=len)  # a string the export does contain
    canaries = tmp_path / "canaries.txt"
    canaries.write_text(f"# seeded\n{canary}\n")
    bad = runner.invoke(app, ["audit", str(run), "--no-explorer", "--canaries", str(canaries)])
    assert bad.exit_code == 1 and "CANARY" in bad.output
    missing = runner.invoke(app, ["audit", str(tmp_path / "nope")])
    assert isinstance(missing.exception, UserError) and "no run directory" in str(missing.exception)


def test_canary_rules(tmp_path):
    with pytest.raises(ValueError, match="shorter"):
        load_canaries(None, ["ab"])
    with pytest.raises(FileNotFoundError):
        load_canaries(tmp_path / "missing.txt")
    assert "jane" not in mask("jane.roe@example.com")
