"""A run placed on a discovered tree shows automatic cluster names made from member values:
one that quotes a below-floor value is withheld in the report and the explorer, as in the export."""

from __future__ import annotations

import csv

import pandas as pd
from fastapi.testclient import TestClient

from valuescope.engine.rundir import RunDir
from valuescope.report.serve import create_app

from .conftest import RARE, build_sample_run


def _tree_naming_a_cluster_after(sample_run, value: str, path):
    """The sample run's discovered tree, with the l1 cluster holding ``value`` named after it, as the offline
    namer does when the value is the cluster's most central member."""
    with (sample_run / "taxonomy" / "discovered_tree.csv").open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    parent = next(r["parent_cluster_id"] for r in rows if r["level"] == "0" and r["name"] == value)
    for r in rows:
        if r["cluster_id"] == parent:
            r["name"] = f"{value} · honesty [auto]"
            r["description"] = f"Automatic name (offline): most central member '{value}'."
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def test_cluster_name_quoting_a_rare_value_is_withheld(sample_run, tmp_path):
    tree = _tree_naming_a_cluster_after(sample_run, RARE, tmp_path / "tree.csv")
    run = build_sample_run(tmp_path, tree=tree)
    values = RunDir(run).read_df("values")
    quoting = f"{RARE} · honesty [auto]"
    cluster = values[values["l1"] == quoting]
    assert cluster["id"].nunique() >= 20  # the cluster itself is far above the floor; its name is not
    assert (values.loc[values["value_norm"] == RARE, "id"].nunique()) == 1

    html = (run / "report.html").read_text("utf-8")
    assert "quattlebaum" not in html.lower()
    assert "name withheld" in html  # the cluster still shows, under a neutral stand-in

    client = TestClient(create_app(run), base_url="http://127.0.0.1")
    l1 = client.get("/api/values", params={"level": "l1", "limit": 500})
    assert "quattlebaum" not in l1.text.lower() and "name withheld" in l1.text
    for q in ("quattlebaum", "honesty"):
        assert "quattlebaum" not in str(client.get("/api/search", params={"q": q}).json()["items"]).lower()
    stand_in = next(i["name"] for i in l1.json()["items"] if "name withheld" in i["name"])
    assert client.get("/api/value", params={"name": stand_in, "level": "l1"}).status_code == 200
    original = client.get("/api/value", params={"name": quoting, "level": "l1"})
    assert (
        original.status_code == client.get("/api/value", params={"name": "no such cluster", "level": "l1"}).status_code
    )


def test_published_cluster_names_are_never_withheld():
    """A rare one-word value ('responsibility') quotes nothing by appearing in a published name."""
    from valuescope.privacy.config import PrivacyConfig
    from valuescope.privacy.export import withheld_cluster_names
    from valuescope.taxonomy.reference import published_cluster_names

    rows = [
        {
            "id": f"c{i}",
            "value_norm": "accountability",
            "l1": "responsibility · duty [auto]",
            "l2": "Ethical responsibility",
            "l3": "Protective values",
        }
        for i in range(20)
    ]
    rows.append(
        {
            "id": "c99",
            "value_norm": "responsibility",
            "l1": "responsibility · duty [auto]",
            "l2": "Ethical responsibility",
            "l3": "Protective values",
        }
    )
    withheld = withheld_cluster_names(pd.DataFrame(rows), None, PrivacyConfig(), keep=published_cluster_names())
    assert set(withheld) == {"responsibility · duty [auto]"}
