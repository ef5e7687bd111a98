"""The explorer API: right answers, the privacy floor, no text unless --examples, token and bind rules."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from runs import XSS_TEXT, XSS_VALUE

from valuescope.engine.rundir import RunDir
from valuescope.privacy.config import PrivacyConfig
from valuescope.report.serve import ENDPOINTS, BindError, check_bind, create_app

LOCAL = "http://127.0.0.1"  # the tokenless explorer answers only loopback Host names


@pytest.fixture(scope="module")
def client(report_run) -> TestClient:
    return TestClient(create_app(report_run.path), base_url=LOCAL)


def _ai_counts(report_run):
    values = report_run.read_df("values")
    return values[values.side == "ai"].groupby("value_norm")["id"].nunique()


def test_search_finds_the_value_with_its_count(client, report_run) -> None:
    counts = _ai_counts(report_run)
    res = client.get("/api/search", params={"q": "harm prevention"}).json()
    first = res["items"][0]
    assert (first["name"], first["side"], first["level"]) == ("harm prevention", "ai", "value")
    assert first["n"] == counts["harm prevention"]


def test_values_are_ranked_and_floored(client, report_run) -> None:
    counts = _ai_counts(report_run)
    res = client.get("/api/values", params={"side": "ai", "limit": 500}).json()
    names = [r["name"] for r in res["items"]]
    expected = counts[counts >= 5].sort_values(ascending=False)
    assert set(names) == set(expected.index)
    assert [r["n"] for r in res["items"]] == sorted((r["n"] for r in res["items"]), reverse=True)
    assert res["suppressed"] == int((counts < 5).sum())


def test_filters_narrow_counts(client, report_run) -> None:
    values = report_run.read_df("values").merge(report_run.read_df("judgments")[["id", "task_category"]], on="id")
    sub = values[(values.side == "ai") & (values.task_category == "harmful or illicit request")]
    expected = sub.groupby("value_norm")["id"].nunique()
    res = client.get("/api/values", params={"task_category": "harmful or illicit request", "limit": 500}).json()
    assert {r["name"]: r["n"] for r in res["items"]} == expected[expected >= 5].to_dict()


def test_tree_walks_down_the_levels(client) -> None:
    top = client.get("/api/tree").json()
    assert top["level"] == "l3" and {r["name"] for r in top["items"]} <= {
        "Practical values",
        "Epistemic values",
        "Social values",
        "Protective values",
        "Personal values",
    }
    l2 = client.get("/api/tree", params={"l3": "Protective values"}).json()
    assert l2["level"] == "l2" and any(r["name"] == "Ethical responsibility" for r in l2["items"])
    leaf = client.get(
        "/api/tree", params={"l3": "Protective values", "l2": "Security and stability", "l1": "Safety and harm values"}
    ).json()
    assert leaf["level"] == "value"


def test_value_detail_counts_by_context_model_response(client, report_run) -> None:
    v = client.get("/api/value", params={"name": "harm prevention"}).json()
    counts = _ai_counts(report_run)
    assert v["n"] == counts["harm prevention"]
    for by in ("task_category", "context", "model", "response"):
        assert all(r["n"] >= 5 for r in v["by"][by])
    assert sum(r["n"] for r in v["by"]["task_category"]) <= v["n"] or v["suppressed"]["task_category"] >= 0
    small = counts[counts < 5].index[0]
    assert client.get("/api/value", params={"name": small}).status_code == 404


def test_xss_value_comes_back_as_plain_json_data(client) -> None:
    res = client.get("/api/search", params={"q": "<script>"}).json()
    assert res["items"][0]["name"] == XSS_VALUE  # data, not markup: the page inserts it with textContent
    page = client.get("/")
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert "innerHTML" not in client.get("/static/explorer.js").text


def test_no_text_without_examples_and_floor_with_examples(client, report_run) -> None:
    assert client.get("/api/examples", params={"name": "harm prevention"}).status_code == 404
    for path in ENDPOINTS:
        body = client.get(path, params={"q": "harm", "name": "harm prevention"}).text
        assert XSS_TEXT not in body and "please help" not in body
    with_ex = TestClient(create_app(report_run.path, examples=True), base_url=LOCAL)
    snippets = with_ex.get("/api/examples", params={"name": "harm prevention"}).json()["snippets"]
    assert 1 <= len(snippets) <= 3 and all(len(s["user"]) <= 280 for s in snippets)
    small = _ai_counts(report_run)
    small = small[small < 5].index[0]
    assert with_ex.get("/api/examples", params={"name": small}).status_code == 404


def test_stricter_floor_hides_more(report_run) -> None:
    strict = TestClient(create_app(report_run.path, privacy=PrivacyConfig(min_conversations=15)), base_url=LOCAL)
    items = strict.get("/api/values", params={"limit": 500}).json()["items"]
    assert items and all(r["n"] >= 15 for r in items)


def test_read_only_and_token(report_run) -> None:
    c = TestClient(create_app(report_run.path, token="s3cret"), base_url=LOCAL)
    assert c.get("/api/summary").status_code == 401
    assert c.get("/api/summary", headers={"X-Valuescope-Token": "wrong"}).status_code == 401
    assert c.get("/api/summary", headers={"X-Valuescope-Token": "s3cret"}).status_code == 200
    assert c.get("/api/summary", headers={"Authorization": "Bearer s3cret"}).status_code == 200
    assert c.get("/api/summary", params={"token": "s3cret"}).status_code == 200
    assert "explorer.js?token=s3cret" in c.get("/", params={"token": "s3cret"}).text
    assert c.post("/api/summary", params={"token": "s3cret"}).status_code == 405


def test_bind_rules() -> None:
    for host in ("127.0.0.1", "localhost", "::1"):
        check_bind(host, None)
    with pytest.raises(BindError):
        check_bind("0.0.0.0", None)
    check_bind("0.0.0.0", "tok")


def test_serve_command_refuses_public_bind_without_token(report_run) -> None:
    from typer.testing import CliRunner

    from valuescope.cli import app

    result = CliRunner().invoke(app, ["serve", str(report_run.path), "--host", "0.0.0.0"])
    assert result.exit_code != 0
    assert "token" in str(result.exception) + result.output


def test_endpoints_are_listed(client) -> None:
    listed = client.get("/api/endpoints").json()["endpoints"]
    assert set(listed) == set(ENDPOINTS)
    for path in ENDPOINTS:
        assert client.get(path, params={"q": "x", "name": "harm prevention"}).status_code in (200, 404)


def test_copied_run_never_reads_the_original(report_run, tmp_path) -> None:
    """A copied run's valuescope.duckdb points at the original's files: the explorer must not follow it."""
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(report_run.path, copy, ignore=shutil.ignore_patterns(".cache", "screenshots"))
    values = RunDir(copy).read_df("values")
    values.loc[values["value_norm"] == "harm prevention", "value_norm"] = "renamed in the copy"
    RunDir(copy).write_table("values", values)
    c = TestClient(create_app(copy), base_url=LOCAL)
    assert c.get("/api/search", params={"q": "renamed in the copy"}).json()["items"]
    assert not c.get("/api/search", params={"q": "harm prevention"}).json()["items"]
    # the original run still answers from its own files
    assert (
        TestClient(create_app(report_run.path), base_url=LOCAL)
        .get("/api/search", params={"q": "harm prevention"})
        .json()["items"]
    )
