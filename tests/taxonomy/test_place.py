import numpy as np
import pytest

from valuescope.records import L3_TO_L2
from valuescope.taxonomy.place import Placer, subtree_without
from valuescope.taxonomy.reference import published_tree
from valuescope.taxonomy.vectors import TextVectors, bundled_cache_is_current


@pytest.fixture(scope="module")
def placer():
    return Placer(published_tree())


def test_bundled_vectors_match_the_bundled_tree():
    assert bundled_cache_is_current("minilm")


def test_exact_and_variant_matches(placer):
    df = placer.place(["honesty", "Well-Being", "Service-Orientation"])
    assert (df["score"] == 1.0).all() and not df["is_new"].any()
    assert df.loc[0, "leaf"] == "honesty"
    assert set(df["l3"]) <= set(L3_TO_L2)


def test_unrelated_string_is_new_but_keeps_a_broad_area(placer):
    row = placer.place(["pizza toppings"]).iloc[0]
    assert row["is_new"] and row["leaf"] is None and row["l1"] is None
    assert row["l3"] in L3_TO_L2 and row["score"] < placer.new_threshold


def test_paths_are_consistent_with_the_tree(placer):
    tree = placer.tree
    df = placer.place(["protecting children", "honest feedback", "data privacy protection"])
    for _, r in df.iterrows():
        path = tree.leaf_path(r["leaf"])
        assert (path["l1"], path["l2"], path["l3"]) == (r["l1"], r["l2"], r["l3"])


def test_hint_steers_an_ambiguous_value(placer):
    value = "balanced living choices"
    probs, _, _ = placer.l1_probabilities([value])
    by_l2 = {}
    for j, p in enumerate(probs[0]):
        l2 = placer._paths[j][1].name
        by_l2[l2] = by_l2.get(l2, 0) + p
    first, second = sorted(by_l2, key=by_l2.get, reverse=True)[:2]
    assert placer.place([value]).iloc[0]["l2"] == first
    strength = placer.hint_strength
    try:
        placer.hint_strength = 1.0  # a hint with no weight changes nothing
        assert placer.place([value], [second]).iloc[0]["l2"] == first
        placer.hint_strength = 1000.0  # a trusted hint decides between plausible areas
        assert placer.place([value], [second]).iloc[0]["l2"] == second
    finally:
        placer.hint_strength = strength
    assert placer.place([value], ["not an l2"]).iloc[0]["l2"] == first  # unknown hints are ignored


def test_distinct_values_are_placed_once(placer):
    before = placer.vectors.computed
    placer.place(["zz novel value alpha"] * 50 + ["ZZ novel value alpha"])
    assert placer.vectors.computed - before == 1


def test_held_out_leaves_beat_the_5nn_baseline():
    """Small hold-out (seed 1, 150 leaves) with the tree lacking them entirely."""
    full = published_tree()
    rng = np.random.default_rng(1)
    held = sorted(rng.choice(sorted(n.name for n in full.leaves), size=150, replace=False).tolist())
    tree = subtree_without(full, set(held))
    assert not any(tree.has_leaf(h) for h in held)
    p = Placer(tree, TextVectors("minilm"), new_threshold=-1)
    rows = p.place_distinct(held, [None] * len(held))
    l3 = np.mean([r["l3"] == full.leaf_path(h)["l3"] for r, h in zip(rows, held)])
    l1 = np.mean([r["l1"] == full.leaf_path(h)["l1"] for r, h in zip(rows, held)])
    assert l1 > 0.45 and l3 > 0.70


def test_custom_tree_in_published_schema(tmp_path):
    csv = tmp_path / "tree.csv"
    csv.write_text(
        "cluster_id,description,name,level,parent_cluster_id,pct_total_occurrences\n"
        "honesty,,honesty,0,c1,30\ntruthfulness,,truthfulness,0,c1,20\n"
        "efficiency,,efficiency,0,c2,30\nproductivity,,productivity,0,c2,20\n"
        "c1,Being truthful,Truth,1,b1,50\nc2,Getting things done,Getting things done,1,b2,50\n"
        "b1,Epistemic,Knowing,2,t,50\nb2,Work,Working,2,t,50\nt,All,All values,3,,100\n"
    )
    p = Placer(csv)
    df = p.place(["honest answers", "time efficiency"])
    assert list(df["l1"]) == ["Truth", "Getting things done"]
