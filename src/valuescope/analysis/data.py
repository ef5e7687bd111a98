"""A run's tables in the shapes every analysis works on, as DuckDB views (out of core).

Two shapes: one row per judged conversation (``conv``: judgments joined with the conversation's model,
context, user and time), and one row per (conversation, side, level, name) *presence* of a value
(``pres``) — analyses count conversations, not mentions, so a value said three times in one chat counts
once. The analyses aggregate these views in SQL and keep only the aggregates (one row per value, context,
model…) in pandas; the corpus itself stays in the Parquet tables (or, in tests, in the frames given).
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from valuescope.records import L3_TO_L2
from valuescope.taxonomy.stream import columns, connect

LEVELS: tuple[str, ...] = ("value", "l1", "l2", "l3")
LEVEL_COLUMN = {"value": "value_norm", "l1": "l1", "l2": "l2", "l3": "l3"}
SIDES: tuple[str, ...] = ("ai", "human")
VALUE_COLUMNS = ("id", "side", "value", "explicit", "value_norm", "l1", "l2", "l3")
JUDGMENT_COLUMNS = ("id", "subjective", "task", "task_category", "response", "harmful_score")
CONV_COLUMNS = ("model", "context", "user_id", "timestamp", "source")
L2_TO_L3 = {l2: l3 for l3, l2s in L3_TO_L2.items() for l2 in l2s}
# a conversation without a user id is its own (anonymous) user (privacy/floor.py)
USER_SQL = "coalesce(CAST(user_id AS VARCHAR), chr(0) || 'conversation:' || CAST(id AS VARCHAR))"
SUBJECTIVE = "coalesce(CAST(subjective AS BOOLEAN), false)"  # a conversation the study counts
ROW_STRIDE = 1 << 40  # presence order: level block first, then the row of the values table


def q(s: str) -> str:
    """A SQL string literal."""
    return "'" + str(s).replace("'", "''") + "'"


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


class RunData:
    """The views ``conv``, ``vals``, ``long`` and ``pres`` on one DuckDB connection.

    Built from a run (:func:`load`: views over its Parquet tables, nothing read into memory) or from
    frames (``RunData(conv=..., values=..., placed=...)``, for tests and in-memory comparisons).
    ``conv`` and ``values`` as DataFrames are still there for callers that want them, read on demand.
    """

    def __init__(
        self,
        conv: pd.DataFrame | None = None,
        values: pd.DataFrame | None = None,
        placed: bool = True,
        *,
        run: Any = None,
    ) -> None:
        self.placed = placed
        self.run = run
        self._conv, self._values = conv, values
        self.con = connect(run)
        if run is None:
            if conv is None or values is None:
                raise ValueError("RunData needs a run or both frames")
            self.con.register("conv_frame", conv)
            self.con.register("values_frame", values)
            self._views("conv_frame", None, "values_frame", placed)
        else:
            self._run_views(run)

    # -- views ------------------------------------------------------------------------------------------
    def _select(self, source: str, wanted: tuple[str, ...], alias: str = "") -> str:
        have = set(columns(self.con, source))
        pre = f"{alias}." if alias else ""
        return ", ".join(f'{pre}"{c}"' if c in have else f'NULL AS "{c}"' for c in wanted)

    def _run_views(self, run: Any) -> None:
        conversations = run.parquet_source("conversations") if run.has_table("conversations") else None
        if run.has_table("values"):
            values, placed = run.parquet_source("values"), True
        elif run.has_table("mentions"):
            values, placed = run.parquet_source("mentions"), False
        else:
            raise FileNotFoundError(f"run {run.path} has neither values.parquet nor mentions.parquet")
        self.placed = placed
        self._views(run.parquet_source("judgments"), conversations, values, placed)

    def _views(self, judgments: str, conversations: str | None, values: str, placed: bool) -> None:
        con = self.con
        judg = f"(SELECT {self._select(judgments, JUDGMENT_COLUMNS)}, row_number() OVER () AS _row FROM {judgments})"
        if conversations is not None and "id" in columns(con, conversations):
            meta = (
                f"(SELECT DISTINCT ON (id) id AS _id, {self._select(conversations, CONV_COLUMNS)} FROM {conversations})"
            )
            con.execute(
                f"CREATE VIEW conv AS SELECT j.* EXCLUDE (_row), {', '.join('c.' + c for c in CONV_COLUMNS)}, j._row "
                f"FROM {judg} j LEFT JOIN {meta} c ON j.id = c._id"
            )
        else:  # no conversations table: the metadata columns come with the judgments (frames), or are null
            both = JUDGMENT_COLUMNS + CONV_COLUMNS
            con.execute(
                f"CREATE VIEW conv AS SELECT {self._select(judgments, both)}, row_number() OVER () AS _row FROM {judgments}"
            )
        if placed:
            cols = self._select(values, ("id", "side", "explicit", "value_norm", "l1", "l2", "l3"))
            con.execute(f"CREATE VIEW vals AS SELECT {cols}, row_number() OVER () AS _row FROM {values}")
        else:
            self._mention_views(values)
        parts = []
        for i, level in enumerate(LEVELS):
            col = LEVEL_COLUMN[level]
            parts.append(
                f"SELECT id, side, '{level}' AS level, CAST({col} AS VARCHAR) AS name, "
                f"CAST(explicit AS BOOLEAN) AS explicit, {i} * {ROW_STRIDE} + _row AS _pos "
                f"FROM vals WHERE {col} IS NOT NULL AND CAST({col} AS VARCHAR) <> ''"
            )
        con.execute("CREATE VIEW long AS " + " UNION ALL ".join(parts))
        con.execute("CREATE VIEW pres AS SELECT id, side, level, name, min(_pos) AS _pos FROM long GROUP BY ALL")

    def _mention_views(self, mentions: str) -> None:
        """values_from_mentions in SQL: the normalisation is computed once per distinct spelling."""
        con = self.con
        have = set(columns(con, mentions))
        raw = con.execute(f"SELECT DISTINCT value FROM {mentions}").df()["value"] if "value" in have else pd.Series()
        norm = pd.DataFrame({"raw": raw.astype(object), "norm": normalise_value(raw.astype(object))})
        con.register("value_norms", norm)
        hints = pd.DataFrame({"l2": list(L2_TO_L3), "l3": list(L2_TO_L3.values())})
        con.register("l2_to_l3", hints)
        hint = "m.l2_hint" if "l2_hint" in have else "NULL"
        value = "m.value" if "value" in have else "NULL"
        con.execute(
            f"CREATE VIEW vals AS SELECT {self._select(mentions, ('id', 'side', 'explicit'), 'm')}, "
            f"n.norm AS value_norm, NULL AS l1, h.l2, h.l3, m._row "
            f"FROM (SELECT *, row_number() OVER () AS _row FROM {mentions}) m "
            f"LEFT JOIN value_norms n ON {value} IS NOT DISTINCT FROM n.raw "
            f"LEFT JOIN l2_to_l3 h ON {hint} = h.l2"
        )

    # -- access -----------------------------------------------------------------------------------------
    def df(self, sql: str) -> pd.DataFrame:
        return self.con.execute(sql).df()

    def scalar(self, sql: str) -> Any:
        return self.con.execute(sql).fetchall()[0][0]

    @cached_property
    def has_users(self) -> bool:
        return bool(self.scalar("SELECT coalesce(bool_or(user_id IS NOT NULL), false) FROM conv"))

    def users_sql(self, where: str | None = None) -> str:
        """The n_users aggregate (over rows matching `where`): distinct users, or NULL (NaN) without user ids."""
        if not self.has_users:
            return "CAST(NULL AS DOUBLE)"
        return f"count(DISTINCT {USER_SQL})" + (f" FILTER (WHERE {where})" if where else "")

    @property
    def conv(self) -> pd.DataFrame:
        """One row per judged conversation as a DataFrame (read on demand: the analyses never need it)."""
        if self._conv is None:
            self._conv = self.df("SELECT * EXCLUDE (_row) FROM conv ORDER BY _row")
        return self._conv

    @property
    def values(self) -> pd.DataFrame:
        """The values table (or values derived from mentions) as a DataFrame, read on demand."""
        if self._values is None:
            run = self.run
            self._values = run.read_df("values") if self.placed else values_from_mentions(run.read_df("mentions"))
            for c in VALUE_COLUMNS:
                if c not in self._values.columns:
                    self._values[c] = pd.Series(dtype=object)
        return self._values


def load(run: Any) -> RunData:
    """Views over a RunDir's judgments, values (or mentions) and conversation metadata."""
    return RunData(run=run)
