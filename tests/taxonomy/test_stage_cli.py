import csv

import pandas as pd
from typer.testing import CliRunner

from valuescope.cli import app
from valuescope.engine.rundir import RunDir
from valuescope.engine.runner import run_stages
from valuescope.taxonomy.config import TaxonomyConfig
from valuescope.taxonomy.export import TREE_COLUMNS
from valuescope.taxonomy.stage import taxonomy_stages


def _run(tmp_path, mentions, subjective):
    run = RunDir(tmp_path / "run")
    run.write_table(
        "mentions", pd.DataFrame(mentions, columns=["id", "side", "value", "explicit", "l2_hint", "confidence"])
    )
    run.write_table("judgments", pd.DataFrame({"id": list(subjective), "subjective": list(subjective.values())}))
    return run


def test_stages_write_values_and_exports(tmp_path):
    mentions = [
        ("c1", "ai", "Honesty", True, None, 0.9),
        ("c1", "ai", "well-being", False, None, None),
        ("c2", "ai", "honesty", True, None, 0.8),
        ("c2", "human", "family", None, None, None),
        ("c3", "ai", "pizza toppings", False, "Pleasure and enjoyment", None),
    ]
    run = _run(tmp_path, mentions, {"c1": True, "c2": True, "c3": True, "c4": False})
    run_stages(run, taxonomy_stages(TaxonomyConfig()), quiet=True)
    values = run.read_df("values")
    assert len(values) == 5 and list(values.columns[:6]) == ["id", "side", "value", "explicit", "l2_hint", "confidence"]
    assert values.loc[0, "value"] == "Honesty" and values.loc[0, "value_norm"] == "honesty"
    assert (
        values.loc[4, "is_new"]
        and pd.isna(values.loc[4, "leaf"])
        and values.loc[4, "l2_hint"] == "Pleasure and enjoyment"
    )
    with open(run.path / "taxonomy" / "placed_frequencies.csv") as fh:
        freqs = {r["value"]: float(r["pct_convos"]) for r in csv.DictReader(fh)}
    assert freqs["honesty"] == round(100 * 2 / 3, 3)  # 2 of 3 subjective conversations
    with open(run.path / "taxonomy" / "placed_tree.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == TREE_COLUMNS
    for level in "0123":
        assert abs(sum(float(r["pct_total_occurrences"]) for r in rows if r["level"] == level) - 100) < 0.01
    with open(run.path / "taxonomy" / "discovered_tree.csv") as fh:
        disc = list(csv.DictReader(fh))
    assert list(disc[0]) == TREE_COLUMNS and {r["level"] for r in disc} >= {"0", "1"}
    assert run.has_table("taxonomy/discovered_values")


def test_empty_mentions_do_not_crash(tmp_path):
    run = _run(tmp_path, [], {"c1": False})
    run_stages(run, taxonomy_stages(TaxonomyConfig()), quiet=True)
    assert run.read_table("values").num_rows == 0


def test_cli_place_and_build(tmp_path):
    src = tmp_path / "values.txt"
    src.write_text("honesty\nhonest communication\nuser autonomy\npatient safety\nchild protection\n")
    out = tmp_path / "placed.csv"
    r = CliRunner().invoke(app, ["taxonomy", "place", "--input", str(src), "--output", str(out)])
    assert r.exit_code == 0, r.output
    df = pd.read_csv(out)
    assert list(df.columns) == ["value", "leaf", "l1", "l2", "l3", "score"] and len(df) == 5
    r = CliRunner().invoke(app, ["taxonomy", "build", "--input", str(src), "--output", str(tmp_path / "b")])
    assert r.exit_code == 0, r.output
    tree = pd.read_csv(tmp_path / "b" / "values_tree.csv")
    assert list(tree.columns) == TREE_COLUMNS
    r = CliRunner().invoke(app, ["taxonomy", "place", "--input", str(tmp_path / "nope.txt"), "--output", str(out)])
    assert r.exit_code != 0
