"""The privacy floor for aggregates the report and explorer compute themselves.

Tables under RUN/analysis/ already passed the floor when the analysis stage
wrote them; counts we derive here (the sunburst, "where does this value
occur") must pass the same test: at least ``min_conversations`` distinct
conversations and, when user ids exist, ``min_users`` distinct users.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from valuescope.privacy.config import PrivacyConfig
from valuescope.privacy.floor import apply_floor


@dataclass(frozen=True)
class Floor:
    min_conversations: int = 5
    min_users: int = 3

    @classmethod
    def from_config(cls, config: PrivacyConfig | None) -> Floor:
        config = config or PrivacyConfig()
        return cls(config.min_conversations, config.min_users)

    def passes(self, n_conversations: int, n_users: int | None = None) -> bool:
        """n_users None means the run has no user ids, so only the conversation floor applies."""
        if n_conversations < self.min_conversations:
            return False
        return n_users is None or n_users >= self.min_users

    def cells(self, mentions: pd.DataFrame, by: list[str]) -> tuple[pd.DataFrame, int]:
        """Count distinct conversations (and users) per cell; drop cells below the floor.

        ``mentions`` needs an ``id`` column and, optionally, ``user_id``; as in
        :func:`valuescope.privacy.floor.distinct_users`, a conversation without
        a user id counts as one more user. Returns (kept cells with ``by`` + ``n``
        [+ ``n_users``], number of suppressed cells).
        """
        if mentions.empty:
            return pd.DataFrame(columns=[*by, "n"]), 0
        grouped = mentions.groupby(by, dropna=False)
        cells = grouped["id"].nunique().rename("n").reset_index()
        if "user_id" in mentions.columns and mentions["user_id"].notna().any():
            known = grouped["user_id"].nunique()
            anon = mentions[mentions["user_id"].isna()].groupby(by, dropna=False)["id"].nunique()
            users = known.add(anon, fill_value=0).rename("n_users").reset_index()
            cells = cells.merge(users, on=by, how="left")
        else:
            cells["n_users"] = None
        return apply_floor(cells, "n", "n_users", self.min_conversations, self.min_users)
