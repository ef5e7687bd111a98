"""Loading a run's tables into the shapes every analysis works on.

Two shapes: one row per judged conversation (judgments joined with the
conversation's model, context, user and time), and one row per
(conversation, side, level, name) *presence* of a value — analyses count
conversations, not mentions, so a value said three times in one chat counts once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from valuescope.records import L3_TO_L2

LEVELS: tuple[str, ...] = ("value", "l1", "l2", "l3")
LEVEL_COLUMN = {"value": "value_norm", "l1": "l1", "l2": "l2", "l3": "l3"}
SIDES: tuple[str, ...] = ("ai", "human")
VALUE_COLUMNS = ("id", "side", "value", "explicit", "value_norm", "l1", "l2", "l3")
CONV_COLUMNS = ("model", "context", "user_id", "timestamp", "source")
USER_KEY = "\x00user"  # helper column of count_cells, named so it cannot clash with a grouping key
L2_TO_L3 = {l2: l3 for l3, l2s in L3_TO_L2.items() for l2 in l2s}


@dataclass
class RunData:
    conv: pd.DataFrame  # one row per judged conversation
    values: pd.DataFrame  # one row per value mention (values.parquet contract)
    placed: bool  # False when values were derived from mentions (no taxonomy stage yet)

    @property
    def has_users(self) -> bool:
        return "user_id" in self.conv.columns and self.conv["user_id"].notna().any()


def normalise_value(s: pd.Series) -> pd.Series:
    """Fallback normalisation when no taxonomy stage ran: lower case, collapsed spaces."""
    return s.fillna("").str.lower().str.replace(r"[\s\-_]+", " ", regex=True).str.strip(" .,;:'\"")


def values_from_mentions(mentions: pd.DataFrame) -> pd.DataFrame:
    """Mentions placed only by their l2 hint: enough for every analysis at value, l2 and l3 level."""
    v = mentions.copy()
    v["value_norm"] = normalise_value(v["value"])
    hint = v["l2_hint"] if "l2_hint" in v.columns else pd.Series(None, index=v.index, dtype=object)
    v["l2"] = hint.where(hint.isin(L2_TO_L3.keys()))
    v["l3"] = v["l2"].map(L2_TO_L3)
    v["l1"] = None
    v["leaf"] = None
    v["score"] = np.nan
    v["is_new"] = False
    return v


def load(run) -> RunData:
    """Read judgments, values (or mentions) and conversation metadata from a RunDir."""
    judg = run.read_df("judgments")
    if run.has_table("conversations"):
        cols = ["id"] + [c for c in CONV_COLUMNS if c in run.read_table("conversations").schema.names]
        conv = run.read_df("conversations", columns=cols)
        judg = judg.merge(conv, on="id", how="left")
    for c in CONV_COLUMNS:
        if c not in judg.columns:
            judg[c] = None
    if run.has_table("values"):
        values, placed = run.read_df("values"), True
    elif run.has_table("mentions"):
        values, placed = values_from_mentions(run.read_df("mentions")), False
    else:
        raise FileNotFoundError(f"run {run.path} has neither values.parquet nor mentions.parquet")
    for c in VALUE_COLUMNS:  # an empty table may come without a schema
        if c not in values.columns:
            values[c] = pd.Series(dtype=object)
    return RunData(conv=judg.reset_index(drop=True), values=values, placed=placed)


def long_values(values: pd.DataFrame, ids: pd.Series | None = None) -> pd.DataFrame:
    """One row per mention and level: id, side, level, name, explicit (null names dropped)."""
    if ids is not None:
        values = values[values["id"].isin(set(ids))]
    parts = []
    explicit = values["explicit"] if "explicit" in values.columns else pd.Series(None, index=values.index)
    for level in LEVELS:
        col = LEVEL_COLUMN[level]
        if col not in values.columns:
            continue
        part = pd.DataFrame(
            {"id": values["id"], "side": values["side"], "level": level, "name": values[col], "explicit": explicit}
        )
        parts.append(part[part["name"].notna() & (part["name"].astype(str) != "")])
    if not parts:
        return pd.DataFrame(columns=["id", "side", "level", "name", "explicit"])
    return pd.concat(parts, ignore_index=True)


def presence(long: pd.DataFrame) -> pd.DataFrame:
    """Distinct (id, side, level, name): did the conversation express this value at all."""
    return long[["id", "side", "level", "name"]].drop_duplicates().reset_index(drop=True)


def count_cells(pres: pd.DataFrame, conv: pd.DataFrame, keys: list[str], has_users: bool) -> pd.DataFrame:
    """Conversations (n) and distinct users (n_users) per group of `keys` over a presence table.

    Conversations without a user id count as one user each (privacy/floor.py).
    One groupby, no helper columns merged back: any key name is safe.
    """
    df = pres.merge(conv[["id", "user_id"]], on="id", how="left") if "user_id" not in pres.columns else pres
    g = df.groupby(keys, dropna=False, sort=False)
    out = g["id"].nunique().rename("n").reset_index()
    if has_users:
        # a user's key is its id; a conversation without one is its own (anonymous) user
        anonymous = "\x00conversation:" + df["id"].astype(str)
        user_key = df["user_id"].astype(object).where(df["user_id"].notna(), anonymous)
        users = df.assign(**{USER_KEY: user_key}).groupby(keys, dropna=False, sort=False)[USER_KEY].nunique()
        out["n_users"] = users.to_numpy(dtype=float)  # same grouping as `out`, same order
    else:
        out["n_users"] = np.nan
    return out
