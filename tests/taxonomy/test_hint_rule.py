"""The extractor's cluster is kept (hint_rule="inside"), the name's tree placement beside it, both scored."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from valuescope.engine.rundir import RunDir
from valuescope.engine.runner import run_stages
from valuescope.evaluate import evaluate_run
from valuescope.extract.reference import annotation_to_extraction, load_annotations
from valuescope.taxonomy.config import TaxonomyConfig
from valuescope.taxonomy.place import Placer
from valuescope.taxonomy.reference import published_tree
from valuescope.taxonomy.stage import PlaceStage, taxonomy_stages


@pytest.fixture(scope="module")
def placer() -> Placer:
    return Placer(published_tree(), second=None, tuned=None)  # MiniLM alone: the rule does not depend on encoders


VALUES = ["technical accuracy", "root cause resolution", "root cause resolution"]
HINTS = ["Professional and technical excellence", "Methodical rigor", None]


def test_leaf_keeps_tree_path_other_values_keep_the_extractor_cluster(placer: Placer) -> None:
    placer.hint_rule = "inside"
    df = placer.place(VALUES, HINTS)
    leaf, hinted, free = df.to_dict("records")
    assert (leaf["l2"], leaf["l2_source"], leaf["leaf"]) == ("Clarity and precision", "tree", "technical accuracy")
    assert leaf["tree_l2"] == "Clarity and precision"
    assert (hinted["l2"], hinted["l3"], hinted["l2_source"]) == ("Methodical rigor", "Epistemic values", "extractor")
    assert hinted["tree_l2"] == free["l2"] == free["tree_l2"] != "Methodical rigor"  # the name alone goes elsewhere
    assert free["l2_source"] == "placer"
    tree = published_tree()
    if not hinted["is_new"]:  # placed inside the given cluster: its l1 and leaf belong to it
        assert tree.leaf_path(hinted["leaf"])["l2"] == "Methodical rigor"


def test_weight_rule_lets_the_name_override_the_hint(placer: Placer) -> None:
    placer.hint_rule = "weight"
    try:
        hinted = placer.place(VALUES, HINTS).iloc[1]
    finally:
        placer.hint_rule = "inside"
    assert hinted["l2"] == hinted["tree_l2"] != "Methodical rigor" and hinted["l2_source"] == "placer"


def test_hint_rule_is_part_of_the_stage_key() -> None:
    a = PlaceStage(TaxonomyConfig(hint_rule="inside")).config()
    b = PlaceStage(TaxonomyConfig(hint_rule="weight")).config()
    assert a != b and a["hint_rule"] == "inside"
    with pytest.raises(ValueError, match="hint_rule"):
        TaxonomyConfig(hint_rule="other")


def test_reference_labels_survive_the_taxonomy_stage(tmp_path, reference_dir) -> None:
    """The reference extractor fed dev + dev2 + dev3 scores >= 0.98 against the same labels, tree-consistent."""
    labels = {}
    for name in ("dev.jsonl", "dev2.jsonl", "dev3.jsonl"):
        labels.update(load_annotations(reference_dir / name))
    path = tmp_path / "labels.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in labels.values()))
    extractions = [annotation_to_extraction(r, "reference") for r in labels.values()]
    run = RunDir(tmp_path / "run")
    run.write_table("judgments", pd.DataFrame([e.judgment.model_dump() for e in extractions]))
    run.write_table("mentions", pd.DataFrame([v.model_dump() for e in extractions for v in e.values]))
    run_stages(run, taxonomy_stages(TaxonomyConfig(build=False, place_second=False, place_tuned=False)), quiet=True)
    m = evaluate_run(run.path, path)
    assert m["n_matched"] == len(labels) == 900
    tc, annotated = m["constructs"]["tree_consistent"], m["constructs"]["as_annotated"]
    for key in ("ai_l2_micro_f1", "ai_l3_micro_f1", "human_l2_micro_f1", "human_l3_micro_f1"):
        assert tc[key] >= 0.98, key
    assert annotated["ai_l2_micro_f1"] < 0.9  # the annotator often disagrees with the tree on published leaves
    values = run.read_df("values")
    stats = run.read_manifest()["stages"]["taxonomy_place"]["stats"]
    known = values[values["l2_hint"].notna()]
    assert stats["l2_hint_disagreement"] == round(float((known["l2_hint"] != known["tree_l2"]).mean()), 4)
    assert 0.3 < stats["l2_hint_disagreement"] < 0.8
    assert (
        values.loc[values["l2_source"] == "extractor", "l2"]
        == values.loc[values["l2_source"] == "extractor", "l2_hint"]
    ).all()
