"""The privacy floor: no aggregate cell leaves a run unless enough people are in it.

A cell (a row of an aggregate table) is kept only when it counts at least
``min_conversations`` conversations and, when the run has user ids, at least
``min_users`` distinct users. Everything below is dropped and *counted*, so a
reader knows how much was withheld. Defaults come from PrivacyConfig
(5 conversations, 3 users); see docs/methods.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd


def _as_list(x: str | Sequence[str] | None) -> list[str]:
    if x is None:
        return []
    return [x] if isinstance(x, str) else list(x)


def floor_mask(
    df: pd.DataFrame,
    n_col: str | Sequence[str] = "n",
    users_col: str | Sequence[str] | None = "n_users",
    min_conversations: int = 5,
    min_users: int = 3,
    allow_zero: bool = False,
) -> np.ndarray:
    """Boolean mask of rows that pass the floor.

    Several count columns (e.g. ``["n_a", "n_b"]`` in a comparison) must each
    pass. With ``allow_zero`` a count of exactly 0 passes too: an empty cell
    holds nobody (used where "absent in group B" is the finding).
    A users column that is missing or all-null is ignored (no user ids in the run).
    """
    keep = np.ones(len(df), dtype=bool)
    for col in _as_list(n_col):
        n = df[col].fillna(0).to_numpy(dtype=float)
        ok = n >= min_conversations
        if allow_zero:
            ok |= n == 0
        keep &= ok
    for col in _as_list(users_col):
        if col not in df.columns or df[col].isna().all():
            continue
        u = df[col].to_numpy(dtype=float)
        ok = np.isnan(u) | (u >= min_users)
        if allow_zero:
            ok |= u == 0
        keep &= ok
    return keep


def apply_floor(
    df: pd.DataFrame,
    n_col: str | Sequence[str] = "n",
    users_col: str | Sequence[str] | None = "n_users",
    min_conversations: int = 5,
    min_users: int = 3,
    allow_zero: bool = False,
) -> tuple[pd.DataFrame, int]:
    """Drop rows below the floor; return (kept rows, number of rows suppressed)."""
    if df.empty:
        return df, 0
    keep = floor_mask(df, n_col, users_col, min_conversations, min_users, allow_zero)
    return df.loc[keep].reset_index(drop=True), int((~keep).sum())


def distinct_users(user_ids: pd.Series) -> int | None:
    """Distinct users behind a set of conversations; None when no user ids exist.

    Conversations without a user id count as distinct users each (the most
    generous reading would let one unknown person fill a cell, so we cannot
    do better than that without ids).
    """
    if user_ids.isna().all():
        return None
    return int(user_ids.dropna().nunique() + user_ids.isna().sum())


def floor_section(
    min_conversations: int, min_users: int, suppressed: dict[str, int], previous: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The manifest's ``privacy_floor`` section, merging per-table counts with earlier ones."""
    merged = dict((previous or {}).get("suppressed", {}))
    merged.update({k: int(v) for k, v in suppressed.items()})
    return {"min_conversations": int(min_conversations), "min_users": int(min_users), "suppressed": merged}
