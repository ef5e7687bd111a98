"""The CLI as a user runs it: ingest, stats, analyze --dry-run, errors as one line with exit 2."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from valuescope.engine.rundir import RunDir

CLI = "from valuescope.cli import main; main()"


def vs(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", CLI, *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "COLUMNS": "200", **(env or {})},
    )


def vs_inproc(capsys, monkeypatch, *args: str) -> tuple[int, str]:
    """Run the CLI in this process (fast); returns (exit code, stderr)."""
    from valuescope.cli import main

    monkeypatch.setattr(sys, "argv", ["valuescope", *args])
    monkeypatch.setenv("COLUMNS", "200")
    capsys.readouterr()
    try:
        main()
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    return code, capsys.readouterr().err


def test_ingest_prints_counts(tmp_path, conversations_dir, capsys, monkeypatch):
    files = [str(conversations_dir / f) for f in ("mt_bench.jsonl", "jailbreakbench.jsonl")]
    out = tmp_path / "run"
    res = vs("ingest", *files, "--out", str(out), "--scrub", "off", "-q")
    assert res.returncode == 0, res.stderr
    lines = sum(1 for f in files for line in open(f, "rb") if line.strip())
    manifest = json.loads((out / "manifest.json").read_text())
    ok = sum(i["ok"] for i in manifest["inputs"])
    quarantined = sum(i["quarantined"] for i in manifest["inputs"])
    assert ok + quarantined == lines
    total_row = next(line for line in res.stderr.splitlines() if "total" in line)
    assert [f"{lines:,}", f"{ok:,}", f"{quarantined:,}"] == [
        c for c in total_row.replace("│", " ").split() if c[0].isdigit()
    ]
    assert manifest["versions"]["valuescope"] and manifest["config"]["privacy"]["scrub"] == "off"

    code, err = vs_inproc(capsys, monkeypatch, "stats", str(out))
    assert code == 0, err
    assert "empty assistant turn" in err and f"{ok:,}" in err and "ingest" in err


def api_sample() -> Path:
    from valuescope import api

    return api.sample_path()


def test_user_errors_are_one_line(tmp_path, capsys, monkeypatch):
    for args in (
        ["ingest", str(tmp_path / "missing.jsonl"), "--out", str(tmp_path / "r")],
        ["stats", str(tmp_path / "not-a-run")],
        ["analyze", "--out", str(tmp_path / "empty-run")],
        ["ingest", __file__, "--out", str(tmp_path / "r"), "--format", "yaml"],
        ["ingest", __file__, "--out", str(tmp_path / "r"), "--config", str(tmp_path / "nope.toml")],
        ["ingest", str(api_sample()), "--out", str(tmp_path / "r"), "--scrub", "bogus"],
        ["analyze", str(api_sample()), "--out", str(tmp_path / "r"), "--scrub", "off", "--extractor", "nope"],
    ):
        code, err = vs_inproc(capsys, monkeypatch, *args)
        assert code == 2, (args, err)
        assert err.strip().startswith("error:") and len(err.strip().splitlines()) == 1, err


def test_analyze_dry_run_with_reference_labels(tmp_path, conversations_dir, reference_dir, capsys, monkeypatch):
    out = tmp_path / "dry"
    code, err = vs_inproc(
        capsys,
        monkeypatch,
        "analyze",
        str(conversations_dir / "mt_bench.jsonl"),
        "--out",
        str(out),
        "--scrub",
        "off",
        "--reference",
        str(reference_dir / "dev.jsonl"),
        "--dry-run",
        "-q",
    )
    assert code == 0, err
    assert "dry run" in err and RunDir(out).has_table("conversations")
    assert not RunDir(out).has_table("judgments")  # stopped after ingest


def test_bundled_sample_ingests_clean(tmp_path):
    from valuescope import api

    sample = api.sample_path()
    assert sample.is_file() and (sample.parent / "LICENSE").is_file() and (sample.parent / "NOTICE").is_file()
    assert "CONTENT WARNING" in (sample.parent / "README.md").read_text()
    run = api.ingest([sample], tmp_path / "s", api.apply_overrides(api.RunConfig(), scrub="off"))
    info = run.manifest["inputs"][0]
    assert info["gzip"] and info["read"] == info["ok"] >= 300
    conv = run["conversations"]
    assert set(conv["source"]) == {"hh-harmless-test", "jbb"}
    assert conv.loc[conv["source"] == "jbb", "context"].nunique() == 10  # every harm category


@pytest.mark.slow
def test_demo_runs_every_stage(tmp_path, capsys, monkeypatch):
    """`valuescope demo`: the bundled sample through every stage, on the defaults (regex scrub, offline extractor)."""
    from valuescope import api
    from valuescope.extract.config import ExtractConfig
    from valuescope.extract.registry import get_extractor

    try:
        get_extractor(ExtractConfig()).load()
    except (FileNotFoundError, ModuleNotFoundError) as exc:
        pytest.skip(f"offline extractor not built yet: {exc}")
    monkeypatch.chdir(tmp_path)
    code, err = vs_inproc(capsys, monkeypatch, "demo", "-q")
    assert code == 0, err
    run = api.load_run(tmp_path / "runs" / "demo")
    assert "note:" not in err, err  # every stage exists and ran
    n = len(run["conversations"])
    extract_q = int((run.quarantine["stage"] == "extract").sum()) if len(run.quarantine) else 0
    assert len(run["judgments"]) + extract_q == n
    assert {"judgments", "mentions", "values"} <= set(run.tables) and (run.path / "report.html").is_file()
    assert run.manifest["config"]["privacy"]["scrub"] == "regex"


def test_evaluate_warns_when_the_offline_model_saw_the_labels(
    tmp_path, conversations_dir, reference_dir, capsys, monkeypatch
):
    """The bundled offline model was trained on dev.jsonl: scoring it there gives training-set scores, said so."""
    dev = reference_dir / "dev.jsonl"
    ids = [json.loads(line)["id"] for line in dev.read_text("utf-8").splitlines() if line.strip()][:8]
    with open(conversations_dir / "hh_rlhf_harmless_base_test.jsonl", encoding="utf-8") as fh:
        rows = [line for line in fh if json.loads(line)["id"] in set(ids)]
    assert rows
    inp = tmp_path / "dev8.jsonl"
    inp.write_text("".join(rows), "utf-8")
    out = tmp_path / "run"
    cfg = tmp_path / "fast.toml"
    cfg.write_text('[taxonomy]\nbuild = false\n[analysis]\ncontext_kinds = ["task_category"]\nbootstrap = 10\n')
    code, err = vs_inproc(capsys, monkeypatch, "analyze", str(inp), "--out", str(out), "--config", str(cfg), "-q")
    assert code == 0, err
    code, err = vs_inproc(capsys, monkeypatch, "evaluate", str(out), "--reference", str(dev))
    assert code == 0, err
    assert (
        "trained on dev.jsonl" in " ".join(err.split())
        and json.loads((out / "evaluation.json").read_text())["trained_on_labels"]
    )
    unseen = tmp_path / "unseen.jsonl"  # other bytes: not the file the model was trained on
    unseen.write_text("\n".join(dev.read_text("utf-8").splitlines()[:50]) + "\n", "utf-8")
    code, err = vs_inproc(capsys, monkeypatch, "evaluate", str(out), "--reference", str(unseen))
    assert code == 0, err
    assert "training-set" not in err and not json.loads((out / "evaluation.json").read_text())["trained_on_labels"]
