"""The explorer's read-only query layer over a run's DuckDB views.

Every count it returns passes the privacy floor (distinct conversations, and
distinct users when the run has user ids) in SQL, before leaving this module.
No answer depends on whether a below-floor name matches what was asked: a
filter or parent naming a below-floor group answers exactly like one naming
nothing, and a text query (``q``) reports no suppressed count and counts
conversations only over the groups it shows. Filters reach SQL only as bound
parameters; level names are whitelisted.

The run's ``valuescope.duckdb`` is never opened (a DuckDB file lock would
block a rerun of the run being shown): the explorer reads the Parquet tables
through views in its own in-memory database, so every query sees the tables
as they are on disk.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import duckdb

from valuescope.engine.rundir import RunDir
from valuescope.report.floor import Floor

LEVELS = {"value": "value", "l1": "l1", "l2": "l2", "l3": "l3"}
CHILD = {"l3": "l2", "l2": "l1", "l1": "value"}
FILTERS = ("task_category", "context", "model", "response")
BY = ("task_category", "model", "response", "side")
CLUSTERS = ("l1", "l2", "l3")


class Explorer:
    def __init__(self, run_path: str | Path, floor: Floor) -> None:
        self.run = RunDir(run_path, create=False)
        self.floor = floor
        self._lock = threading.Lock()
        self.con = self._connect()
        self.views = {r[0] for r in self.con.execute("select table_name from information_schema.tables").fetchall()}
        self.has_users = (
            self._scalar("select count(user_id) from conversations") > 0 if "conversations" in self.views else False
        )
        self.base = self._base_sql()

    # -- connection -------------------------------------------------------------
    def _connect(self) -> duckdb.DuckDBPyConnection:
        """In-memory views over the run's Parquet files (never a lock on the run's own files)."""
        con = duckdb.connect(":memory:")
        for name in self.run.tables():
            view = name.replace("/", "_").replace("-", "_")
            con.execute(f'CREATE VIEW "{view}" AS SELECT * FROM {self.run.parquet_source(name)}')
        return con

    def _rows(self, sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
        with self._lock:
            cur = self.con.execute(sql, params or [])
            cols = [d[0] for d in cur.description]
            return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]

    def _scalar(self, sql: str, params: list[Any] | None = None) -> Any:
        with self._lock:
            row = self.con.execute(sql, params or []).fetchone()
        return row[0] if row else None

    def _base_sql(self) -> str:
        """One row per value mention with its placement and its conversation's context."""
        if "values" in self.views:
            m = 'select id, side, value_norm as value, l1, l2, l3 from "values"'
            if self._withhold_cluster_names():
                m = (
                    "select v.id, v.side, v.value_norm as value, "
                    + ", ".join(f"coalesce(w{c}.shown, v.{c}) as {c}" for c in CLUSTERS)
                    + ' from "values" v '
                    + " ".join(f"left join withheld_names w{c} on v.{c} = w{c}.name" for c in CLUSTERS)
                )
        elif "mentions" in self.views:
            m = "select id, side, lower(trim(value)) as value, null::varchar as l1, null::varchar as l2, null::varchar as l3 from mentions"
        else:
            m = "select null::varchar as id, null::varchar as side, null::varchar as value, null::varchar as l1, null::varchar as l2, null::varchar as l3 where false"
        j = (
            "left join (select id, task_category, response from judgments) j using (id)"
            if "judgments" in self.views
            else ""
        )
        c = (
            "left join (select id, model, context, user_id from conversations) c using (id)"
            if "conversations" in self.views
            else ""
        )
        cols = [
            "m.*",
            "j.task_category" if j else "null::varchar as task_category",
            "j.response" if j else "null::varchar as response",
            "c.model" if c else "null::varchar as model",
            "c.context" if c else "null::varchar as context",
            "c.user_id" if c else "null::varchar as user_id",
        ]
        return f"(select {', '.join(cols)} from ({m}) m {j} {c})"

    def _withhold_cluster_names(self) -> bool:
        """Register the stand-ins for cluster names that quote a below-floor value (privacy/export.py
        decides which, as for the report and the export); True if there are any."""
        from valuescope.privacy.export import withheld_cluster_names
        from valuescope.taxonomy.reference import published_cluster_names

        cols = ", ".join(["id", "value_norm", *(c for c in CLUSTERS)])
        values = self.con.execute(f'select {cols} from "values"').df()
        users = self.con.execute("select id, user_id from conversations").df() if self.has_users else None
        withheld = withheld_cluster_names(values, users, self.floor, keep=published_cluster_names())
        if not withheld:
            return False
        self.con.execute("create temp table withheld_names (name varchar, shown varchar)")
        self.con.executemany("insert into withheld_names values (?, ?)", list(withheld.items()))
        return True

    def _having(self) -> tuple[str, list[Any]]:
        sql = "count(distinct id) >= ?"
        params: list[Any] = [self.floor.min_conversations]
        if self.has_users:
            sql += " and count(distinct user_id) + count(distinct case when user_id is null then id end) >= ?"
            params.append(self.floor.min_users)
        return sql, params

    def _where(
        self, side: str | None, filters: dict[str, str | None], extra: dict[str, str] | None = None
    ) -> tuple[str, list[Any]]:
        clauses, params = ["value is not null"], []
        if side:
            clauses.append("side = ?")
            params.append(side)
        for col in FILTERS:
            if filters.get(col):
                clauses.append(f"{col} = ?")
                params.append(filters[col])
        for col, val in (extra or {}).items():
            clauses.append(f"{LEVELS[col]} = ?")
            params.append(val)
        return " and ".join(clauses), params

    def _passes(self, col: str, value: str, side: str | None = None) -> bool:
        """Does the group ``col = value`` (on one side) pass the floor?"""
        having, hp = self._having()
        where, params = f"{col} = ?", [value]
        if side:
            where += " and side = ?"
            params.append(side)
        return bool(self._rows(f"select 1 from {self.base} where {where} group by {col} having {having}", params + hp))

    def _named_groups_pass(
        self, side: str | None, filters: dict[str, str | None], parent: dict[str, str] | None
    ) -> bool:
        """Every filter and parent a request names is a group above the floor."""
        named = [(col, v, None) for col, v in filters.items() if col in FILTERS and v]
        named += [(LEVELS[col], v, side) for col, v in (parent or {}).items() if v]
        return all(self._passes(col, v, s) for col, v, s in named)

    # -- queries ------------------------------------------------------------------
    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "run": self.run.path.name,
            "floor": {"min_conversations": self.floor.min_conversations, "min_users": self.floor.min_users},
        }
        if "judgments" in self.views:
            out["conversations_judged"] = int(self._scalar("select count(*) from judgments"))
            out["subjective"] = int(self._scalar("select count(*) from judgments where subjective"))
        if "conversations" in self.views:
            out["conversations"] = int(self._scalar("select count(*) from conversations"))
        out["distinct_values"] = int(self._scalar(f"select count(distinct value) from {self.base}") or 0)
        return out

    def facets(self) -> dict[str, list[dict[str, Any]]]:
        """The filter choices, each with its conversation count, only those above the floor."""
        having, hp = self._having()
        out = {}
        for col in FILTERS:
            rows = self._rows(
                f"select {col} as name, count(distinct id) as n from {self.base} where {col} is not null group by 1 having {having} order by n desc, name",
                hp,
            )
            out[col] = rows
        return out

    def values(
        self,
        side: str | None = "ai",
        level: str = "value",
        q: str | None = None,
        filters: dict[str, str | None] | None = None,
        parent: dict[str, str] | None = None,
        limit: int = 50,
    ) -> dict[str, Any]:
        col = LEVELS[level]
        filters = filters or {}
        if not self._named_groups_pass(side, filters, parent):  # answer as if the name did not exist
            return {"side": side, "level": level, "items": [], "suppressed": None if q else 0, "conversations": None}
        where, params = self._where(side, filters, parent)
        where += f" and {col} is not null"
        if q:
            where += f" and {col} ilike ? escape '\\'"
            params.append(f"%{_like_escape(q)}%")
        having, hp = self._having()
        rows = self._rows(
            f"select {col} as name, count(distinct id) as n, count(*) as occurrences from {self.base} where {where} group by 1 having {having} order by n desc, name limit ?",
            params + hp + [int(limit)],
        )
        if q:  # what the query matches below the floor must not show, not even as a count
            passing = f"select {col} from {self.base} where {where} group by 1 having {having}"
            total = (
                self._scalar(
                    f"select count(distinct id) from {self.base} where {where} and {col} in ({passing})",
                    params + params + hp,
                )
                or 0
            )
            suppressed = None
        else:
            total = self._scalar(f"select count(distinct id) from {self.base} where {where}", params) or 0
            n_groups = self._scalar(f"select count(distinct {col}) from {self.base} where {where}", params) or 0
            shown = (
                self._scalar(
                    f"select count(*) from (select {col} from {self.base} where {where} group by 1 having {having})",
                    params + hp,
                )
                or 0
            )
            suppressed = int(n_groups) - int(shown)
        return {
            "side": side,
            "level": level,
            "items": rows,
            "suppressed": suppressed,
            "conversations": int(total) if total >= self.floor.min_conversations else None,
        }

    def search(self, q: str, limit: int = 20) -> dict[str, Any]:
        """Values and clusters (any side, any level) whose name contains q."""
        items = []
        for level in ("value", "l1", "l2", "l3"):
            for side in ("ai", "human"):
                for row in self.values(side, level, q=q, limit=limit)["items"]:
                    items.append({**row, "side": side, "level": level})
        ql = q.lower()
        items.sort(key=lambda r: (r["name"].lower() != ql, not r["name"].lower().startswith(ql), -r["n"], r["name"]))
        return {"q": q, "items": items[:limit]}

    def tree(
        self, side: str = "ai", l3: str | None = None, l2: str | None = None, l1: str | None = None
    ) -> dict[str, Any]:
        """Children of a node: no path = the top categories; each step adds one level."""
        path = {k: v for k, v in (("l3", l3), ("l2", l2), ("l1", l1)) if v}
        level = "l3" if not path else CHILD[list(path)[-1]]
        res = self.values(side, level, parent=path, limit=500)
        return {"side": side, "path": path, "level": level, "items": res["items"], "suppressed": res["suppressed"]}

    def value(self, name: str, side: str = "ai", level: str = "value") -> dict[str, Any] | None:
        """Where a value (or cluster) occurs: counts by context, model, response type, side; None if below the floor."""
        col = LEVELS[level]
        having, hp = self._having()
        head = self._rows(
            f"select count(distinct id) as n, count(*) as occurrences from {self.base} where {col} = ? and side = ? having {having}",
            [name, side] + hp,
        )
        if not head:
            return None
        out: dict[str, Any] = {"name": name, "side": side, "level": level, **head[0], "by": {}, "suppressed": {}}
        if level != "l3":
            out["path"] = self._rows(
                f"select l3, l2, l1, count(distinct id) as n from {self.base} where {col} = ? and side = ? group by all having {having} order by n desc limit 3",
                [name, side] + hp,
            )
        for by in FILTERS:
            rows = self._rows(
                f"select {by} as name, count(distinct id) as n from {self.base} where {col} = ? and side = ? and {by} is not null group by 1 order by n desc, name",
                [name, side],
            )
            passing = self._rows(
                f"select {by} as name, count(distinct id) as n from {self.base} where {col} = ? and side = ? and {by} is not null group by 1 having {having} order by n desc, name",
                [name, side] + hp,
            )
            out["by"][by] = passing
            out["suppressed"][by] = len(rows) - len(passing)
        return out

    def conversation_ids(self, name: str, side: str = "ai", level: str = "value") -> list[str]:
        """Ids of conversations expressing a value (internal: for example snippets only)."""
        return [
            r["id"]
            for r in self._rows(
                f"select distinct id from {self.base} where {LEVELS[level]} = ? and side = ? order by id", [name, side]
            )
        ]

    def close(self) -> None:
        self.con.close()


def _like_escape(q: str) -> str:
    return q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
