"""`valuescope export` on the planted sample run: every exported file is floored, cells are spreadsheet-safe."""

from __future__ import annotations

import csv
import json
import shutil

import pandas as pd
import pytest

from valuescope.engine.rundir import RunDir
from valuescope.privacy.export import export_run, spreadsheet_safe

from .conftest import FORMULA, ONE_USER, RARE


@pytest.fixture
def run_copy(sample_run, tmp_path):
    dst = tmp_path / "run"
    shutil.copytree(sample_run, dst)
    return dst


def _cells(path) -> list[str]:
    with path.open(newline="", encoding="utf-8") as fh:
        return [cell for row in csv.reader(fh) for cell in row]


def test_taxonomy_csvs_are_floored(sample_run_no_users, tmp_path):
    """The run's own taxonomy CSVs list the one-conversation value; the export must not."""
    sample_run = sample_run_no_users
    assert RARE in (sample_run / "taxonomy" / "discovered_frequencies.csv").read_text("utf-8")
    out = tmp_path / "export"
    summary = export_run(sample_run, out)
    tax = sorted(out.glob("taxonomy_*.csv"))
    assert {p.name for p in tax} == {
        "taxonomy_placed_tree.csv",
        "taxonomy_placed_frequencies.csv",
        "taxonomy_discovered_tree.csv",
        "taxonomy_discovered_frequencies.csv",
    }
    for path in out.iterdir():
        assert "quattlebaum" not in path.read_text("utf-8").lower(), path.name
    assert summary["files"]["taxonomy_discovered_frequencies.csv"]["suppressed_at_export"] > 0
    values = set(pd.read_csv(out / "taxonomy_discovered_frequencies.csv", keep_default_na=False)["value"])
    assert {"helpfulness", ONE_USER} <= values  # 40 and 6 conversations: above the floor (no user ids here)
    tree = pd.read_csv(out / "taxonomy_discovered_tree.csv", keep_default_na=False)
    assert set(tree["level"]) >= {0, 1, 2}  # clusters survive with their members
    kept = set(tree["cluster_id"])
    assert set(tree["parent_cluster_id"]) - {""} <= kept  # a kept row's parent holds at least its conversations


def test_user_floor_applies_to_taxonomy_csvs(sample_run, tmp_path):
    """Six conversations of one user (ingested with raw user ids) pass the conversation floor but not the user floor (3)."""
    conv = RunDir(sample_run).read_df("conversations")
    assert conv["user_id"].str.startswith("u_").all() and conv["user_id"].nunique() == 21
    assert ONE_USER in (sample_run / "taxonomy" / "discovered_frequencies.csv").read_text("utf-8")  # in the run
    export_run(sample_run, tmp_path / "export")
    for name in (
        "taxonomy_discovered_frequencies.csv",
        "taxonomy_placed_frequencies.csv",
        "taxonomy_discovered_tree.csv",
    ):
        text = (tmp_path / "export" / name).read_text("utf-8")
        assert ONE_USER not in text and "helpfulness" in text, name


def test_user_floor_end_to_end(sample_run, sample_run_no_users, tmp_path):
    """The one-user value never reaches the report, an export or the explorer; without user ids it may."""
    from fastapi.testclient import TestClient

    from valuescope.report.serve import create_app

    def shown(run) -> dict[str, bool]:
        export_run(run, tmp_path / run.parent.name)
        exported = " ".join(p.read_text("utf-8") for p in (tmp_path / run.parent.name).iterdir())
        client = TestClient(create_app(run), base_url="http://127.0.0.1")
        answers = [
            client.get("/api/values", params={"q": "quentin", "limit": 500}).text,
            client.get("/api/search", params={"q": "quentin"}).text,
        ]
        return {
            "report": ONE_USER in (run / "report.html").read_text("utf-8"),
            "export": ONE_USER in exported,
            "explorer": any(ONE_USER in a for a in answers),
        }

    assert shown(sample_run) == {"report": False, "export": False, "explorer": False}
    assert shown(sample_run_no_users) == {"report": True, "export": True, "explorer": True}  # conversation floor alone


def test_unfloorable_csv_is_left_out_and_disclosed(run_copy, tmp_path):
    out = tmp_path / "export"
    out.mkdir()
    (out / "taxonomy_notes.csv").write_text("value\nstale\n", "utf-8")  # from an earlier, unfloored export
    (run_copy / "taxonomy" / "notes.csv").write_text(f"value,share\n{RARE},0.8\n", "utf-8")
    summary = export_run(run_copy, out)
    assert not (out / "taxonomy_notes.csv").exists()
    assert "taxonomy_notes.csv" in summary["omitted"]
    assert "taxonomy_notes.csv" in (out / "PRIVACY.md").read_text("utf-8")
    assert "taxonomy_notes.csv" in json.loads((out / "privacy.json").read_text())["omitted"]


def test_formula_cells_are_not_evaluated(sample_run, tmp_path):
    """A value in 10 conversations that starts with '=' is exported, as text a spreadsheet will not run."""
    out = tmp_path / "export"
    export_run(sample_run, out)
    seen = 0
    for path in out.glob("*.csv"):
        for cell in _cells(path):
            assert not cell.startswith(("=", "+", "@", "\t", "\r")), (path.name, cell)
            if cell.startswith("-"):
                float(cell)  # only numbers may start with '-'
            seen += cell.lower().startswith("'" + FORMULA.lower()[:12])
    assert seen >= 2  # in the analysis frequencies and the taxonomy frequencies at least


@pytest.mark.parametrize(
    ("cell", "safe"),
    [
        ("=1+1", "'=1+1"),
        ("+cmd", "'+cmd"),
        ("-cmd|' /c calc'!A0", "'-cmd|' /c calc'!A0"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("-1.5", "-1.5"),
        ("+3", "+3"),
        ("honesty", "honesty"),
        ("", ""),
        (-2, -2),
    ],
)
def test_spreadsheet_safe(cell, safe):
    assert spreadsheet_safe(cell) == safe


def test_per_conversation_tables_are_left_out(sample_run, tmp_path):
    """analysis/alerts lists conversation ids: not an aggregate, so not exported."""
    assert "id" in RunDir(sample_run).read_df("analysis/alerts").columns
    summary = export_run(sample_run, tmp_path / "export")
    assert not (tmp_path / "export" / "analysis_alerts.csv").exists()
    assert summary["omitted"]["analysis_alerts.csv"] == "per-conversation rows"
    ids = set(RunDir(sample_run).read_df("conversations")["id"])
    for path in (tmp_path / "export").glob("*.csv"):
        assert not ids & set(_cells(path)), path.name
