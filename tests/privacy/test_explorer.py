"""The explorer's privacy: no below-floor oracle, loopback Host only without a token, no lock on the run."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import threading
import time

import httpx
import pytest
from fastapi.testclient import TestClient

from valuescope.engine.rundir import RunDir
from valuescope.report.serve import BindError, check_bind, create_app, is_loopback_host

from .conftest import RARE

LOCAL = "http://127.0.0.1"
LEVELS = ("value", "l1", "l2", "l3")


@pytest.fixture
def run_copy(sample_run, tmp_path):
    dst = tmp_path / "run"
    shutil.copytree(sample_run, dst)
    return dst


def _rare_renamed(run):
    """The same run with the one-conversation value renamed to match none of the queries."""
    values = RunDir(run).read_df("values")
    values.loc[values["value_norm"] == RARE, "value_norm"] = "zzzz 0000"
    RunDir(run).write_table("values", values)


@pytest.mark.parametrize("q", ["quattlebaum", "zebediah q", "loyalty", "e", "h", "a"])
def test_query_reveals_nothing_below_the_floor(sample_run, tmp_path, q):
    """Every /api/values answer to q is the same whether or not the below-floor value's name matches q."""
    assert RARE in set(RunDir(sample_run).read_df("values")["value_norm"])
    clean = tmp_path / "clean"
    shutil.copytree(sample_run, clean)
    _rare_renamed(clean)
    real, ref = (TestClient(create_app(r), base_url=LOCAL) for r in (sample_run, clean))
    for side in ("ai", "human"):
        for level in LEVELS:
            params = {"q": q, "side": side, "level": level, "limit": 500}
            assert real.get("/api/values", params=params).json() == ref.get("/api/values", params=params).json(), (
                side,
                level,
            )
    assert real.get("/api/search", params={"q": q}).json() == ref.get("/api/search", params={"q": q}).json()


def test_filter_naming_a_below_floor_group_answers_like_a_missing_one(run_copy):
    conv = RunDir(run_copy).read_df("conversations")
    conv.loc[conv.index[0], "model"] = "secret-model-x"  # one conversation: below the floor
    RunDir(run_copy).write_table("conversations", conv)
    c = TestClient(create_app(run_copy), base_url=LOCAL)
    secret = c.get("/api/values", params={"model": "secret-model-x"}).json()
    assert secret == c.get("/api/values", params={"model": "no-such-model"}).json()
    assert secret["items"] == [] and secret["suppressed"] == 0
    big = conv["model"].value_counts().index[0]
    assert c.get("/api/values", params={"model": big}).json()["items"]  # a group above the floor still filters


@pytest.mark.parametrize(
    ("host", "status"),
    [
        ("evil.example", 403),
        ("evil.example:8000", 403),
        ("127.0.0.1.evil.example", 403),
        ("", 403),
        ("127.0.0.1:8765", 200),
        ("localhost", 200),
        ("LOCALHOST:80", 200),
        ("[::1]:8000", 200),
        ("localhost.", 200),
    ],
)
def test_tokenless_explorer_answers_only_loopback_hosts(sample_run, host, status):
    c = TestClient(create_app(sample_run), base_url=LOCAL)
    assert c.get("/api/summary", headers={"host": host}).status_code == status
    assert is_loopback_host(host) is (status == 200)


def test_whitespace_token_counts_as_none(sample_run):
    with pytest.raises(BindError):
        check_bind("0.0.0.0", "   ")
    c = TestClient(create_app(sample_run, token=" \t "), base_url=LOCAL)
    assert c.get("/api/summary").status_code == 200  # no token is asked for ...
    assert c.get("/api/summary", headers={"host": "evil.example"}).status_code == 403  # ... so Host is checked
    with_token = TestClient(create_app(sample_run, token="s3cret"), base_url="http://evil.example")
    assert with_token.get("/api/summary", headers={"x-valuescope-token": "s3cret"}).status_code == 200


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_dns_rebinding_over_real_http(sample_run):
    """The served app over a socket: a page on evil.example rebound to 127.0.0.1 sends Host: evil.example."""
    import uvicorn

    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(sample_run), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.time() + 15
        while not server.started and time.time() < deadline:
            time.sleep(0.05)
        url = f"http://127.0.0.1:{port}/api/summary"
        assert httpx.get(url, headers={"Host": "evil.example"}).status_code == 403
        assert httpx.get(url).status_code == 200  # Host: 127.0.0.1:PORT
        assert httpx.get(url, headers={"Host": f"localhost:{port}"}).status_code == 200
    finally:
        server.should_exit = True
        thread.join(10)


def test_serve_does_not_lock_the_run(run_copy):
    """A rerun while the explorer is up can rewrite valuescope.duckdb, and the explorer sees new tables."""
    from valuescope.engine.rundir import RunDir

    RunDir(run_copy, create=False).refresh_duckdb()  # the copy's own views (the copied file points at the original)
    c = TestClient(create_app(run_copy), base_url=LOCAL)
    assert c.get("/api/search", params={"q": "helpfulness"}).json()["items"]
    db = run_copy / "valuescope.duckdb"
    assert db.is_file()
    writer = "import duckdb, sys; con = duckdb.connect(sys.argv[1]); con.execute('create or replace table t as select 1'); con.close()"
    done = subprocess.run([sys.executable, "-c", writer, str(db)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-500:]
    values = RunDir(run_copy).read_df("values")
    values.loc[values["value_norm"] == "helpfulness", "value_norm"] = "helpfulness renamed by a rerun"
    RunDir(run_copy).write_table("values", values)  # as the engine writes tables: a new folder renamed into place
    names = [r["name"] for r in c.get("/api/search", params={"q": "helpfulness"}).json()["items"]]
    assert "helpfulness renamed by a rerun" in names and "helpfulness" not in names
    assert json.loads(c.get("/api/summary").text)["distinct_values"] > 0
