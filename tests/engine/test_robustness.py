"""Reruns, neighbours and broken disks: a plain rerun loses nothing, two processes cannot share a run,
and every file-system or lock error is one line with exit 2, with nothing half-written shown as complete.

The corpus is real (annotated hh-rlhf conversations) and carries raw user ids, as real logs do.
"""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from valuescope import api
from valuescope.engine import rundir as rundir_mod
from valuescope.engine.rundir import RunDir
from valuescope.privacy.ids import SALT_ENV, salt_path

CLI = "from valuescope.cli import main; main()"
FAST = '[taxonomy]\nbuild = false\n[analysis]\ncontext_kinds = ["task_category"]\nbootstrap = 10\n'


def corpus(folder: Path, conversations_dir: Path, reference_dir: Path, n: int, skip: int = 0) -> tuple[Path, Path]:
    """n annotated hh-rlhf conversations (after the first `skip`) with user ids user-0..user-6, and their labels."""
    labels = {}
    for name in ("dev.jsonl", "dev2.jsonl"):
        for line in (reference_dir / name).read_text("utf-8").splitlines():
            if line.strip():
                labels[json.loads(line)["id"]] = line
    rows = []
    with open(conversations_dir / "hh_rlhf_harmless_base_test.jsonl", encoding="utf-8") as fh:
        for line in fh:
            rec = json.loads(line)
            if rec["id"] in labels:
                rows.append({**rec, "user_id": f"user-{len(rows) % 7}"})
    rows = rows[skip : skip + n]
    folder.mkdir(parents=True, exist_ok=True)
    inp, lab = folder / "in.jsonl", folder / "labels.jsonl"
    inp.write_text("".join(json.dumps(r) + "\n" for r in rows), "utf-8")
    lab.write_text("\n".join(labels[r["id"]] for r in rows) + "\n", "utf-8")
    (folder / "fast.toml").write_text(FAST)
    return inp, lab


@pytest.fixture(scope="module")
def small(tmp_path_factory, conversations_dir, reference_dir) -> tuple[Path, Path]:
    return corpus(tmp_path_factory.mktemp("small"), conversations_dir, reference_dir, 30)


def cli(capsys, monkeypatch, *args: str) -> tuple[int, str]:
    """The CLI in this process (so monkeypatched faults apply); (exit code, stderr)."""
    from valuescope.cli import main

    monkeypatch.setattr(sys, "argv", ["valuescope", *map(str, args)])
    monkeypatch.setenv("COLUMNS", "200")
    capsys.readouterr()
    try:
        main()
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    return code, capsys.readouterr().err


def analyze_args(inp: Path, lab: Path, out: Path) -> list[str]:
    return [
        "analyze",
        str(inp),
        "--out",
        str(out),
        "--reference",
        str(lab),
        "--config",
        str(inp.parent / "fast.toml"),
        "--workers",
        "1",
        "-q",
    ]


def assert_one_line_error(code: int, err: str, *fragments: str) -> None:
    lines = [line for line in err.strip().splitlines() if line.strip()]
    assert code == 2, err
    assert "Traceback" not in err and lines and lines[-1].startswith("error:"), err
    error = " ".join(lines[lines.index(next(x for x in lines if x.startswith("error:"))) :])
    for fragment in fragments:
        assert fragment in error, (fragment, err)


def no_temp_files(run: Path) -> list[Path]:
    return [p for p in run.rglob("*.tmp") if ".cache" not in p.parts]


# -- a plain rerun loses nothing ---------------------------------------------------------


def test_rerun_keeps_anomaly_scores_and_the_histogram(tmp_path, small, capsys, monkeypatch):
    inp, lab = small
    out = tmp_path / "run"
    for _ in range(2):  # the documented crash-recovery path: run the same command again
        code, err = cli(capsys, monkeypatch, *analyze_args(inp, lab, out))
        assert code == 0, err
        run = api.load_run(out)
        n, scored = run.sql("select count(*) n, count(anomaly_score) s from judgments").iloc[0]
        assert n == scored == 30
        assert 'id="chart-anomaly-scores"' in (out / "report.html").read_text("utf-8")
    manifest = run.manifest
    assert manifest["status"] == "complete"
    assert all("outputs" in s and "inputs" in s for s in manifest["stages"].values())


def test_an_output_changed_behind_the_engine_is_rebuilt(tmp_path, small):
    inp, lab = small
    out = tmp_path / "run"
    kw = {
        "extractor": "reference",
        "reference": str(lab),
        "build": False,
        "context_kinds": ["task_category"],
        "bootstrap": 10,
    }
    api.analyze([inp], out, **kw)
    want = RunDir(out).table_digest("analysis/frequencies")
    RunDir(out).write_table("analysis/frequencies", RunDir(out).read_table("analysis/frequencies").slice(0, 1))
    api.analyze([inp], out, **kw)  # same inputs and key, but the bytes it wrote are gone: rerun
    assert RunDir(out).table_digest("analysis/frequencies") == want


# -- neighbours ----------------------------------------------------------------------------


def test_second_process_on_the_same_run_fails_at_once_naming_the_holder(
    tmp_path, small, conversations_dir, reference_dir, capsys, monkeypatch
):
    out = tmp_path / "run"
    out.mkdir()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\nfrom valuescope.engine.rundir import RunDir\n"
            "with RunDir(sys.argv[1]).lock():\n    print('locked', flush=True)\n    time.sleep(60)\n",
            str(out),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        other_inp, other_lab = corpus(tmp_path / "other", conversations_dir, reference_dir, 10, skip=30)
        started = time.monotonic()
        code, err = cli(capsys, monkeypatch, *analyze_args(other_inp, other_lab, out))
        assert_one_line_error(code, err, "in use by another valuescope process", f"pid {holder.pid}")
        assert time.monotonic() - started < 15  # at once, not after waiting
        assert not (out / "conversations").exists()
    finally:
        holder.kill()
        holder.wait()
    inp, lab = small
    code, err = cli(capsys, monkeypatch, *analyze_args(inp, lab, out))  # the holder died: the lock went with it
    assert code == 0, err


def test_a_reader_of_the_duckdb_file_does_not_block_a_rerun(tmp_path, small, conversations_dir, reference_dir):
    inp, _ = small
    out = tmp_path / "run"
    api.ingest([inp], out)  # every command ends by rebuilding valuescope.duckdb
    reader = subprocess.Popen(  # another process keeps the file open read-only, like a notebook or `valuescope serve`
        [
            sys.executable,
            "-c",
            "import sys, time, duckdb\ncon = duckdb.connect(sys.argv[1], read_only=True)\n"
            "print(con.execute('select count(*) from conversations').fetchone()[0], flush=True)\ntime.sleep(120)\n",
            str(out / "valuescope.duckdb"),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert reader.stdout.readline().strip() == "30"
        more, _ = corpus(tmp_path / "more", conversations_dir, reference_dir, 40)
        api.ingest([more], out)  # not blocked by the reader's lock on the old file
        assert reader.poll() is None
    finally:
        reader.kill()
        reader.wait()
    assert api.load_run(out).sql("select count(*) n from conversations")["n"][0] == 40


# -- broken disks ----------------------------------------------------------------------------


def fail_writes(monkeypatch, target: str, err: int = errno.ENOSPC) -> None:
    """Make every atomic write of a file named `target` fail with `err` (a full or read-only disk)."""
    real_mkstemp = rundir_mod.tempfile.mkstemp

    def mkstemp(*args, **kwargs):
        fd, name = real_mkstemp(*args, **kwargs)
        if Path(name).name.startswith(f".{target}."):
            os.close(fd)
            os.unlink(name)
            raise OSError(err, os.strerror(err), name)
        return fd, name

    monkeypatch.setattr(rundir_mod.tempfile, "mkstemp", mkstemp)


@pytest.mark.parametrize(
    ("target", "err"),
    [("conversations.parquet", errno.ENOSPC), ("report.html", errno.ENOSPC), ("judgments.parquet", errno.EROFS)],
)
def test_full_or_read_only_disk_is_one_line_and_never_complete(tmp_path, small, capsys, monkeypatch, target, err):
    inp, lab = small
    out = tmp_path / "run"
    fail_writes(monkeypatch, target, err)
    code, stderr = cli(capsys, monkeypatch, *analyze_args(inp, lab, out))
    assert_one_line_error(code, stderr, os.strerror(err), target)
    assert not (out / target.removesuffix(".parquet")).exists()  # the table (a folder of shards) or the page
    assert no_temp_files(out) == []
    manifest = RunDir(out).read_manifest()
    assert manifest["status"].startswith("failed:") and os.strerror(err) in manifest["status"]
    stage = {"conversations.parquet": "ingest", "report.html": "report", "judgments.parquet": "extract"}[target]
    assert stage not in manifest.get("stages", {})  # never marked done
    monkeypatch.undo()
    code, stderr = cli(capsys, monkeypatch, *analyze_args(inp, lab, out))  # disk fixed: the rerun completes
    assert code == 0, stderr
    assert RunDir(out).read_manifest()["status"] == "complete" and (out / "report.html").is_file()


def test_unwritable_run_directory_is_one_line(tmp_path, small, capsys, monkeypatch):
    """A real failure that also holds for root (who ignores chmod): a file where a folder must be."""
    inp, lab = small
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    code, err = cli(capsys, monkeypatch, *analyze_args(inp, lab, blocker / "run"))
    assert_one_line_error(code, err, "Not a directory")
    out = tmp_path / "run"
    out.mkdir()
    (out / "analysis").write_text("a file where the analysis folder goes")
    code, err = cli(capsys, monkeypatch, *analyze_args(inp, lab, out))
    assert_one_line_error(code, err, "analysis")
    assert RunDir(out).read_manifest()["status"].startswith("failed:")


# -- the salt ------------------------------------------------------------------------------------


@pytest.mark.parametrize("content", [b"", b"\n", b"short-salt"])
def test_empty_or_short_salt_is_refused(tmp_path, small, capsys, monkeypatch, content):
    monkeypatch.delenv(SALT_ENV, raising=False)
    inp, _ = small
    out = tmp_path / "run"
    salt_path(out).parent.mkdir(parents=True)
    salt_path(out).write_bytes(content)  # what an interrupted write leaves
    code, err = cli(capsys, monkeypatch, "ingest", inp, "--out", out, "-q")
    assert_one_line_error(code, err, str(salt_path(out)), "refusing")
    assert not (out / "conversations").exists()


@pytest.mark.parametrize("env", ["shared-secret", "x" * 31])
def test_short_env_salt_is_refused(tmp_path, small, capsys, monkeypatch, env):
    monkeypatch.setenv(SALT_ENV, env)
    inp, _ = small
    out = tmp_path / "run"
    code, err = cli(capsys, monkeypatch, "ingest", inp, "--out", out, "-q")
    assert_one_line_error(code, err, SALT_ENV, "refusing")
    assert not (out / "conversations").exists()
    monkeypatch.setenv(SALT_ENV, "x" * 32)  # long enough: accepted
    code, err = cli(capsys, monkeypatch, "ingest", inp, "--out", out, "-q")
    assert code == 0, err


def test_salt_is_written_whole_or_not_at_all(tmp_path, monkeypatch):
    from valuescope.privacy import ids

    monkeypatch.delenv(SALT_ENV, raising=False)

    def crash(*_a, **_k):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(ids.os, "link", crash)
    with pytest.raises(OSError):
        ids.run_salt(tmp_path / "a")
    assert not salt_path(tmp_path / "a").exists() and list(salt_path(tmp_path / "a").parent.iterdir()) == []
    monkeypatch.undo()
    monkeypatch.delenv(SALT_ENV, raising=False)
    salt = ids.run_salt(tmp_path / "a")
    assert len(salt) == 64 and salt_path(tmp_path / "a").read_bytes() == salt
    assert ids.run_salt(tmp_path / "a") == salt  # read back, not regenerated


# -- reference labels --------------------------------------------------------------------------


def test_malformed_reference_labels_name_file_and_line(tmp_path, small, capsys, monkeypatch):
    inp, lab = small
    lines = lab.read_text("utf-8").splitlines()
    bad = tmp_path / "labels.jsonl"
    bad.write_text("\n".join([*lines[:2], '{"id": "x", "subjective": tru', *lines[2:]]) + "\n", "utf-8")
    code, err = cli(capsys, monkeypatch, *analyze_args(inp, bad, tmp_path / "run"))
    assert_one_line_error(code, err, f"{bad}:3", "bad JSON")
    bad.write_text("\n".join([*lines[:4], '["not", "an", "object"]']) + "\n", "utf-8")
    code, err = cli(capsys, monkeypatch, *analyze_args(inp, bad, tmp_path / "run"))
    assert_one_line_error(code, err, f"{bad}:5")


def test_stats_tells_an_interrupted_run_from_a_running_one(tmp_path, small, capsys, monkeypatch):
    inp, _ = small
    out = tmp_path / "run"
    code, err = cli(capsys, monkeypatch, "ingest", inp, "--out", out, "-q")
    assert code == 0, err
    RunDir(out).update_manifest(status="running")  # what a kill -9 leaves
    code, err = cli(capsys, monkeypatch, "stats", out)
    assert code == 0 and "status: interrupted: rerun the same command to resume" in err, err
    with RunDir(out).lock():  # in this process: re-entrant, so it reads as free
        assert RunDir(out).holder() is None


def test_report_command_on_a_full_disk_is_one_line(tmp_path, small, capsys, monkeypatch):
    inp, lab = small
    out = tmp_path / "run"
    code, err = cli(capsys, monkeypatch, *analyze_args(inp, lab, out))
    assert code == 0, err
    before = (out / "report.html").read_bytes()
    fail_writes(monkeypatch, "report.html")
    code, err = cli(capsys, monkeypatch, "report", out)
    assert_one_line_error(code, err, os.strerror(errno.ENOSPC), "report.html")
    assert (out / "report.html").read_bytes() == before and no_temp_files(out) == []  # the old page, whole


@pytest.fixture()
def tiny_disk(tmp_path):
    """A real, tiny tmpfs (root with mount rights only; skipped elsewhere): a disk that truly fills up."""
    mounts: list[Path] = []

    def make(size: str) -> Path:
        point = tmp_path / f"disk-{size}"
        point.mkdir()
        res = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(point)], capture_output=True, text=True
        )
        if res.returncode:
            pytest.skip(f"cannot mount a tmpfs here: {res.stderr.strip()}")
        mounts.append(point)
        return point

    yield make
    for point in mounts:
        subprocess.run(["umount", "-l", str(point)], capture_output=True)


@pytest.mark.parametrize("size", ["96k", "1m"])  # full during ingest/extract; full when the 2 MB report is written
def test_a_really_full_disk_is_one_line_and_never_complete(tiny_disk, small, capsys, monkeypatch, size):
    inp, lab = small
    out = tiny_disk(size) / "run"
    code, err = cli(capsys, monkeypatch, *analyze_args(inp, lab, out))
    assert_one_line_error(code, err, "No space left on device", str(out))
    status = RunDir(out).read_manifest().get("status", "running")
    assert status != "complete"
    assert no_temp_files(out) == []


def test_a_really_read_only_disk_is_one_line(tiny_disk, small, conversations_dir, reference_dir, capsys, monkeypatch):
    inp, lab = small
    disk = tiny_disk("16m")
    out = disk / "run"
    code, err = cli(capsys, monkeypatch, *analyze_args(inp, lab, out))
    assert code == 0, err
    subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)
    more, more_lab = corpus(disk.parent / "more", conversations_dir, reference_dir, 40)
    code, err = cli(capsys, monkeypatch, *analyze_args(more, more_lab, out))
    assert_one_line_error(code, err, "Read-only file system")
    assert api.load_run(out).sql("select count(*) n from conversations")["n"][0] == 30  # the old run, untouched
