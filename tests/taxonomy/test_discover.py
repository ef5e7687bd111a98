from itertools import pairwise

import numpy as np
import pytest

from valuescope.taxonomy.clio import LLMNamer
from valuescope.taxonomy.discover import (
    build_hierarchy,
    level_sizes,
    log_weights,
    offline_partitions,
    split_within,
)
from valuescope.taxonomy.naming import AUTO
from valuescope.taxonomy.reference import published_tree
from valuescope.taxonomy.vectors import TextVectors


def test_level_sizes_geometric_and_small():
    assert level_sizes(3307) == [380, 44, 5]
    assert level_sizes(1) == [1]
    assert level_sizes(0) == []
    small = level_sizes(6)
    assert small and all(a >= b for a, b in zip(small, small[1:]))
    assert level_sizes(100, sizes=[10, 3]) == [10, 3]
    with pytest.raises(ValueError):
        level_sizes(100, sizes=[0])


@pytest.fixture(scope="module")
def sample():
    tree = published_tree()
    leaves = [n.name for n in tree.leaves][:400]
    w = np.array([tree.frequencies.get(v, 0.001) * 3000 for v in leaves])
    return tree, leaves, w, TextVectors("minilm")(leaves)


def test_hierarchy_is_strict_and_named(sample):
    tree, leaves, w, vecs = sample
    h = build_hierarchy(leaves, w, vecs, sizes=[40, 8, 3])
    assert [len(lv.names) for lv in h.levels] == [40, 8, 3]
    for below, above in zip(h.levels, h.levels[1:]):
        assert len(above.parent) == len(below.names)
    assert all(n.endswith(AUTO) for lv in h.levels for n in lv.names)
    assert len(set(h.levels[0].names)) == 40


def test_reconstruction_nmi_beats_chance(sample):
    from sklearn.metrics import normalized_mutual_info_score as nmi

    tree, leaves, w, vecs = sample
    h = build_hierarchy(leaves, w, vecs, sizes=[40, 8, 3])
    l1 = h.value_clusters()[0]
    truth = [tree.leaf_path(v)["l1"] for v in leaves]
    shuffled = np.random.default_rng(0).permutation(l1)
    assert nmi(truth, l1) > nmi(truth, shuffled) + 0.2


def test_tiny_inputs_degrade_gracefully():
    vecs = TextVectors("minilm")(["honesty", "kindness"])
    h = build_hierarchy(["honesty", "kindness"], np.array([3.0, 1.0]), vecs)
    assert len(h.levels) >= 1 and h.value_clusters()[-1].shape == (2,)
    h1 = build_hierarchy(["honesty"], np.array([1.0]), vecs[:1])
    assert len(h1.levels) == 1


def test_llm_namer_uses_members_and_contrast_and_falls_back(sample):
    tree, leaves, w, vecs = sample
    prompts = []

    def fake(system, user, schema):
        prompts.append(user)
        if len(prompts) == 2:
            raise RuntimeError("endpoint down")
        return {"name": "Same name", "description": "Values focusing on something."}

    namer = LLMNamer(fake)
    h = build_hierarchy(leaves[:60], w[:60], vecs[:60], sizes=[5, 2], namer=namer)
    assert "Contrasting items" in prompts[0] and "NOT in this cluster" in prompts[0]
    names = h.levels[0].names
    assert namer.failures == 1 and sum(n.endswith(AUTO) for n in names) == 1
    assert len(set(names)) == len(names)  # duplicates suffixed


def _nested(lower: np.ndarray, upper: np.ndarray) -> bool:
    """Every lower cluster sits inside exactly one upper cluster."""
    return all(len(set(upper[lower == c].tolist())) == 1 for c in np.unique(lower))


def test_offline_partitions_are_nested_at_the_scheduled_sizes(sample):
    _tree, _leaves, w, vecs = sample
    parts = offline_partitions(vecs, log_weights(w), [40, 8, 3])
    assert len(np.unique(parts[0])) == 40 and 2 <= len(np.unique(parts[2])) <= 3
    assert 4 <= len(np.unique(parts[1])) <= 8  # a middle cluster can lose every base cluster to the vote
    for lower, upper in pairwise(parts):
        assert _nested(lower, upper)
        assert set(np.unique(upper).tolist()) == set(range(int(upper.max()) + 1))  # numbered 0..m-1


def test_split_within_never_asks_a_parent_for_more_clusters_than_members():
    rng = np.random.default_rng(0)
    vecs = rng.normal(size=(12, 8))
    parent = np.array([0] * 9 + [1, 2, 3])  # three singleton parents
    sub = split_within(vecs, np.ones(12), parent, 10, seed=0)
    assert _nested(sub, parent)
    assert len(np.unique(sub)) == 10 and len(np.unique(sub[parent == 0])) == 7
