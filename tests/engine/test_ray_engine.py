"""--engine ray: the same tables as the local engine on 2,000 real conversations, and resume after a killed driver.

One local Ray instance (2 CPUs) serves the module. The killed driver is a child process running the CLI,
joined to that instance with --address: kill -9 takes the driver alone, as a crash on a cluster would.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pytest

from valuescope import api
from valuescope.engine.rundir import RunDir
from valuescope.engine.runner import run_stages
from valuescope.engine.stage import BatchResult, BatchStage
from valuescope.errors import ConfigError
from valuescope.privacy.ids import SALT_ENV
from valuescope.records import QuarantineRecord

if os.environ.get("CI"):  # `make test` installs the [ray] extra: missing Ray in CI is a failure
    import ray.data  # noqa: F401
else:
    pytest.importorskip("ray.data", reason="Ray is not installed (pip install 'valuescope[ray]')")

pytestmark = (
    pytest.mark.slow
)  # a Ray instance and three analyses of 2,000 conversations (~3 min on a loaded 2-core machine)

CLI = "from valuescope.cli import main; main()"
SALT = "ray-engine-test-salt-0123456789abcdef"
N = 2000
# small ingest chunks, so extract has 40 batches to be killed among; a fast analysis
FAST = '[ingest]\nbatch_size = 50\n[taxonomy]\nbuild = false\nplace_second = false\n[analysis]\ncontext_kinds = ["task_category"]\nbootstrap = 10\n'
VOLATILE = [  # facts of the run, not of its data (as in benchmarks/kill9_resume.py)
    (re.compile(r"Generated \d{4}-\d\d-\d\d \d\d:\d\d UTC"), "Generated <time>"),
    (re.compile(r"<dt>started</dt><dd>[^<]*</dd>"), "<dt>started</dt><dd><time></dd>"),
    (re.compile(r"<dt>compute time</dt><dd>[^<]*</dd>"), "<dt>compute time</dt><dd><seconds></dd>"),
]


@pytest.fixture(scope="module")
def ray_instance():
    """A local Ray instance for the module, started by the engine's own executor (which makes
    this checkout importable on the workers); yields its address for child drivers."""
    import ray

    from valuescope.engine.ray import RayExecutor

    with RayExecutor(workers=2) as executor:
        assert executor.started
        yield ray.get_runtime_context().gcs_address
    assert not ray.is_initialized()  # shut down: it started it


@pytest.fixture(scope="module")
def salted():
    old = os.environ.get(SALT_ENV)
    os.environ[SALT_ENV] = SALT  # the same user-id hashes in every run, so runs compare
    yield
    if old is None:
        os.environ.pop(SALT_ENV, None)
    else:
        os.environ[SALT_ENV] = old


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, conversations_dir, reference_dir) -> tuple[Path, Path, Path]:
    """2,000 hh-rlhf conversations: every one the reference labels judge, then the first others (users user-0..6)."""
    folder = tmp_path_factory.mktemp("corpus")
    labels: dict[str, str] = {}
    for name in ("dev.jsonl", "dev2.jsonl", "dev3.jsonl"):
        for line in (reference_dir / name).read_text("utf-8").splitlines():
            if line.strip():
                labels.setdefault(json.loads(line)["id"], line)
    lines = (conversations_dir / "hh_rlhf_harmless_base_test.jsonl").read_text("utf-8").splitlines()
    records = [json.loads(line) for line in lines if line.strip()]
    judged = [r for r in records if r["id"] in labels]
    rows = judged + [r for r in records if r["id"] not in labels][: N - len(judged)]
    rows = [{**r, "user_id": f"user-{i % 7}"} for i, r in enumerate(rows)]
    labels = {r["id"]: labels[r["id"]] for r in judged}
    inp, lab, cfg = folder / "in.jsonl", folder / "labels.jsonl", folder / "fast.toml"
    inp.write_text("".join(json.dumps(r) + "\n" for r in rows), "utf-8")
    lab.write_text("\n".join(labels.values()) + "\n", "utf-8")
    cfg.write_text(FAST)
    assert len(labels) > 100  # enough judged conversations for every analysis to have cells
    return inp, lab, cfg


def analyze(corpus: tuple[Path, Path, Path], out: Path, engine: str) -> api.Run:
    inp, lab, cfg = corpus
    config = api.apply_overrides(api.load_config(cfg), extractor="reference", reference=str(lab), engine=engine)
    return api.analyze([inp], out, config)


@pytest.fixture(scope="module")
def local_run(tmp_path_factory, corpus, salted) -> api.Run:
    return analyze(corpus, tmp_path_factory.mktemp("local") / "run", "local")


def sorted_rows(run: RunDir, name: str) -> list[str]:
    """A table's rows as canonical JSON, sorted: equality that ignores row order only."""
    return sorted(json.dumps(r, sort_keys=True, default=str) for r in run.read_table(name).to_pylist())


def report_text(run: Path) -> str:
    text = (run / "report.html").read_text("utf-8")
    for pattern, repl in VOLATILE:
        text = pattern.sub(repl, text)
    return text


def assert_same_results(a: Path, b: Path) -> None:
    ra, rb = RunDir(a), RunDir(b)
    assert ra.tables() == rb.tables() and "judgments" in ra.tables() and "analysis/frequencies" in ra.tables()
    for name in ra.tables():
        assert sorted_rows(ra, name) == sorted_rows(rb, name), name
    assert sorted(ra.read_quarantine(), key=json.dumps) == sorted(rb.read_quarantine(), key=json.dumps)
    assert ra.read_manifest()["inputs"] == rb.read_manifest()["inputs"]
    assert report_text(a) == report_text(b)  # every number the report shows


def test_ray_engine_gives_the_local_engine_tables(tmp_path, corpus, salted, ray_instance, local_run):
    ray_run = analyze(corpus, tmp_path / "run", "ray")
    stages = ray_run.manifest["stages"]
    assert stages["ingest"]["engine"] == stages["extract"]["engine"] == "ray"
    assert local_run.manifest["stages"]["extract"]["engine"] == "local"
    assert stages["extract"]["stats"]["batches"] == 40 == stages["extract"]["stats"]["batches_computed"]
    assert ray_run.manifest["inputs"][0]["read"] == N
    assert_same_results(local_run.path, ray_run.path)


def test_killed_ray_driver_resumes_computing_only_missing_shards(tmp_path, corpus, salted, ray_instance, local_run):
    inp, lab, cfg = corpus
    out = tmp_path / "run"
    args = [str(inp), "--out", str(out), "--config", str(cfg), "--reference", str(lab), "-q"]
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            CLI,
            "analyze",
            *args,
            "--engine",
            "ray",
            "--address",
            ray_instance,
            "--ray-workers",
            "1",
        ],
        env={**os.environ, SALT_ENV: SALT},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    cache = out / ".cache" / "extract"
    deadline = time.time() + 180
    while time.time() < deadline and proc.poll() is None:
        if cache.is_dir() and sum(1 for _ in cache.glob("*/DONE")) >= 3:
            break
        time.sleep(0.02)
    assert proc.poll() is None, f"the run ended before it could be killed: {proc.stderr.read().decode()[-800:]}"
    os.kill(proc.pid, signal.SIGKILL)  # the driver alone; the cluster lives on
    proc.wait()
    time.sleep(3)  # the cluster stops the dead driver's actors
    finished = {p.parent.name for p in cache.glob("*/DONE")}
    assert "extract" not in RunDir(out).read_manifest().get("stages", {})

    config = api.apply_overrides(api.load_config(cfg), extractor="reference", reference=str(lab), engine="ray")
    resumed = api.analyze([inp], out, config)  # the same command again (on the module's instance)
    stats = resumed.manifest["stages"]["extract"]["stats"]
    assert stats["batches"] == 40 and 0 < len(finished) < 40
    assert stats["batches_computed"] == 40 - len(finished)  # only the missing shards
    assert resumed.manifest["stages"]["ingest"]["stats"]["chunks_computed"] == 0
    assert_same_results(local_run.path, out)


class Lengths(BatchStage):
    """A batch stage that quarantines some rows: its tables and quarantine must not depend on the engine."""

    name = "lengths"
    inputs = ("conversations",)
    outputs = ("lengths",)
    batch_size = 64

    def load_resource(self) -> int:
        return 300  # conversations over 1,200 characters are quarantined

    def process_batch(self, batch: pa.Table, resource: int) -> BatchResult:
        ids, msgs = batch["id"].to_pylist(), batch["messages"].to_pylist()
        n = [sum(len(m["content"]) for m in ms) for ms in msgs]
        quarantine = [
            QuarantineRecord(stage=self.name, source="conversations", record_id=ids[i], reason="long")
            for i, x in enumerate(n)
            if x >= resource * 4
        ]
        keep = [i for i, x in enumerate(n) if x < resource * 4]
        return BatchResult(
            tables={"lengths": pa.table({"id": [ids[i] for i in keep], "chars": [n[i] for i in keep]})},
            quarantine=quarantine,
            stats={"rows": len(ids)},
        )


def test_a_plugin_batch_stage_runs_on_ray_like_locally(tmp_path, ray_instance):
    from valuescope.engine.ray import RayExecutor

    cfg = api.apply_overrides(api.RunConfig(), scrub="off")
    local = api.ingest([api.sample_path()], tmp_path / "local", cfg)
    remote = api.ingest([api.sample_path()], tmp_path / "ray", cfg)
    run_stages(RunDir(local.path), [Lengths()], workers=1, quiet=True)
    with RayExecutor() as executor:
        assert not executor.started  # joined the module's instance
        manifest = run_stages(RunDir(remote.path), [Lengths()], quiet=True, executor=executor)
    assert remote["lengths"].equals(local["lengths"])
    stats = manifest["stages"]["lengths"]["stats"]
    assert stats["rows"] == 400 and stats["quarantined"] == len(local.quarantine.query("stage == 'lengths'")) > 0


class Broken(Lengths):
    name = "broken"

    def process_batch(self, batch: pa.Table, resource: int) -> BatchResult:
        raise ConfigError(f"no model at /models/missing.npz (batch of {batch.num_rows})")


def test_a_stage_error_on_a_worker_reaches_the_driver_as_itself(tmp_path, ray_instance):
    """Not Ray's wrapper with a remote traceback: the CLI prints the stage's own one-line message."""
    from valuescope.engine.ray import RayExecutor

    run = api.ingest([api.sample_path()], tmp_path / "run", api.apply_overrides(api.RunConfig(), scrub="off"))
    with RayExecutor() as executor, pytest.raises(ConfigError) as info:
        run_stages(RunDir(run.path), [Broken()], quiet=True, executor=executor)
    # the line the CLI prints (Ray appends a retry hint on later lines)
    assert str(info.value).splitlines()[0] == "no model at /models/missing.npz (batch of 64)"
    assert "broken" not in RunDir(run.path).read_manifest().get("stages", {})


class DiesOnce(Lengths):
    """The first batch any worker takes kills that worker's process, as a lost node would."""

    name = "dies_once"

    def __init__(self, flag: str) -> None:
        self.flag = flag

    def process_batch(self, batch: pa.Table, resource: int) -> BatchResult:
        if not os.path.exists(self.flag):
            Path(self.flag).touch()
            os._exit(1)
        return super().process_batch(batch, resource)


def test_a_lost_worker_is_replaced_and_its_batch_computed(tmp_path, ray_instance):
    from valuescope.engine.ray import RayExecutor

    cfg = api.apply_overrides(api.RunConfig(), scrub="off")
    local = api.ingest([api.sample_path()], tmp_path / "local", cfg)
    remote = api.ingest([api.sample_path()], tmp_path / "ray", cfg)
    run_stages(RunDir(local.path), [Lengths()], workers=1, quiet=True)
    flag = tmp_path / "died"
    with RayExecutor() as executor:
        manifest = run_stages(RunDir(remote.path), [DiesOnce(str(flag))], quiet=True, executor=executor)
    assert flag.exists()  # a worker did die
    assert manifest["stages"]["dies_once"]["stats"]["batches_computed"] == 7
    assert remote["lengths"].equals(local["lengths"])
