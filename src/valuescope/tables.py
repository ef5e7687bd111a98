"""Every table of a run directory, declared once: name, Arrow schema, privacy floor, the stage that writes it.

Stages name their outputs by these specs, the report re-applies floors from them, and docs/run-directory.md
describes them; a new table is one :func:`register_table` call next to the code that writes it.
Schemas of row tables derive from their pydantic record (``records.Judgment`` -> judgments.parquet), so a
field added to the record is a column of the table without a second schema to keep in step.
"""

from __future__ import annotations

import types
import typing
from dataclasses import dataclass
from typing import Any, Literal, get_args, get_origin

import pyarrow as pa
from pydantic import BaseModel

from valuescope.errors import ValuescopeError
from valuescope.records import ConversationRow, Judgment, PlacedValue, ValueMention

_SCALARS: dict[Any, pa.DataType] = {str: pa.string(), bool: pa.bool_(), float: pa.float64(), int: pa.int64()}


def _arrow_type(annotation: Any) -> pa.DataType:
    """Arrow type of a record field: optional scalars, string literals, lists, nested records (structs)."""
    origin = get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in get_args(annotation) if a is not type(None)]
        if len(inner) == 1:
            return _arrow_type(inner[0])
    if origin is Literal and all(isinstance(a, str) for a in get_args(annotation)):
        return pa.string()
    if origin is list:
        return pa.list_(_arrow_type(get_args(annotation)[0]))
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return pa.struct(_fields(annotation))
    if annotation in _SCALARS:
        return _SCALARS[annotation]
    raise TypeError(f"no Arrow type for a record field of type {annotation!r}")


def _fields(record: type[BaseModel]) -> list[tuple[str, pa.DataType]]:
    return [(name, _arrow_type(field.annotation)) for name, field in record.model_fields.items()]


def arrow_schema(record: type[BaseModel]) -> pa.Schema:
    """The Arrow schema of a pydantic record, columns in field order (every column nullable)."""
    return pa.schema(_fields(record))


@dataclass(frozen=True)
class Floor:
    """How the privacy floor applies to an aggregate table: its count and distinct-user columns."""

    counts: tuple[str, ...] = ("n",)
    users: tuple[str, ...] = ("n_users",)
    allow_zero: bool = False  # a comparison's zero count on one side is a finding, not a small cell
    groups: tuple[str, ...] = ()  # whole-group sizes that must pass too


@dataclass(frozen=True)
class TableSpec:
    name: str  # path under the run directory, without .parquet ("analysis/frequencies")
    writer: str  # the one stage that writes it (engine rule: one writer per table)
    record: type[BaseModel] | None = None  # row model; the schema derives from it
    floor: Floor | None = None  # an aggregate that may leave the run: cells below the floor are dropped
    doc: str = ""

    @property
    def schema(self) -> pa.Schema | None:
        return arrow_schema(self.record) if self.record is not None else None


TABLES: dict[str, TableSpec] = {}


def register_table(spec: TableSpec) -> TableSpec:
    """Declare a table; declaring one name twice with a different spec is an error (two writers)."""
    known = TABLES.get(spec.name)
    if known is not None and known != spec:
        raise ValuescopeError(f"table {spec.name!r} is already written by stage {known.writer!r}")
    TABLES[spec.name] = spec
    return spec


def table(name: str) -> TableSpec:
    try:
        return TABLES[name]
    except KeyError:
        raise ValuescopeError(f"unknown table {name!r}; known: {', '.join(sorted(TABLES))}") from None


# -- the core tables (row level: never exported, no floor) ------------------------------------------------

CONVERSATIONS = register_table(TableSpec("conversations", "ingest", ConversationRow, doc="scrubbed conversations"))
JUDGMENTS = register_table(TableSpec("judgments", "extract", Judgment, doc="one row per judged conversation"))
MENTIONS = register_table(TableSpec("mentions", "extract", ValueMention, doc="one row per value mention"))
VALUES = register_table(TableSpec("values", "taxonomy_place", PlacedValue, doc="mentions placed in the tree"))
ANOMALY_SCORES = register_table(
    TableSpec("anomaly_scores", "analysis.anomalies", doc="id -> anomaly score and its parts")
)

# -- the built-in analyses' aggregate tables (RUN/analysis/*.parquet; the report re-applies the floor) -----

_PAIR = Floor(("n_a", "n_b"), ("n_users_a", "n_users_b"), allow_zero=True)
for _name, _writer, _floor in (
    ("frequencies", "analysis.frequencies", Floor()),
    ("summary", "analysis.frequencies", None),
    ("context", "analysis.context", Floor()),
    ("context_invariance", "analysis.context", Floor()),
    ("responses", "analysis.context", Floor()),
    ("mirroring", "analysis.responses", Floor()),
    ("resistance_values", "analysis.responses", Floor(("n_resist",))),
    ("value_pairs", "analysis.responses", Floor()),
    ("alerts", "analysis.anomalies", None),
    ("compare", "analysis.compare", Floor(_PAIR.counts, _PAIR.users, True, ("n_conversations_a", "n_conversations_b"))),
    ("compare_responses", "analysis.compare", _PAIR),
    # probe runs (valuescope probe): no floor, no user data (the suite is public or the operator's own)
    *(
        (f"pressure_{t}", "analysis.pressure", None)
        for t in ("rates", "responses", "values", "distinctive", "anomalies")
    ),
):
    register_table(TableSpec(f"analysis/{_name}", _writer, floor=_floor))


def analysis_tables() -> list[TableSpec]:
    """The aggregate tables under RUN/analysis/, built-in first, then plugins' (in registration order)."""
    return [t for t in TABLES.values() if t.name.startswith("analysis/")]
