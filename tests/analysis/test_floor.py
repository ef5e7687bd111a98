"""The privacy floor drops small cells and counts them."""

from __future__ import annotations

import numpy as np
import pandas as pd

from valuescope.privacy.floor import apply_floor, distinct_users, floor_section


def test_floor_on_conversations_and_users():
    df = pd.DataFrame({"name": list("abcd"), "n": [10, 4, 10, 5], "n_users": [5, 4, 2, 3]})
    kept, n = apply_floor(df, min_conversations=5, min_users=3)
    assert kept["name"].tolist() == ["a", "d"]  # b: 4 conversations; c: 2 users
    assert n == 2


def test_floor_without_user_ids_uses_conversations_only():
    df = pd.DataFrame({"n": [10, 4], "n_users": [np.nan, np.nan]})
    kept, n = apply_floor(df, min_conversations=5, min_users=3)
    assert len(kept) == 1 and n == 1
    kept, n = apply_floor(df.drop(columns="n_users"), min_conversations=5, min_users=3)
    assert len(kept) == 1 and n == 1


def test_floor_with_two_groups_and_empty_cells():
    df = pd.DataFrame({"n_a": [10, 0, 3, 10], "n_b": [0, 7, 10, 10]})
    kept, n = apply_floor(df, n_col=["n_a", "n_b"], users_col=None, min_conversations=5, allow_zero=True)
    assert kept["n_a"].tolist() == [10, 0, 10] and n == 1
    kept, n = apply_floor(df, n_col=["n_a", "n_b"], users_col=None, min_conversations=5)
    assert n == 3


def test_distinct_users_and_manifest_section():
    assert distinct_users(pd.Series([None, None])) is None
    assert distinct_users(pd.Series(["u1", "u1", None, "u2"])) == 3  # an unknown user counts as one more
    sec = floor_section(5, 3, {"context": 2}, {"suppressed": {"frequencies": 7, "context": 9}})
    assert sec == {"min_conversations": 5, "min_users": 3, "suppressed": {"frequencies": 7, "context": 2}}
