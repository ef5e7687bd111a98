"""Each run table is declared once (valuescope.tables); its schema derives from its record."""

from __future__ import annotations

import pandas as pd
import pyarrow.parquet as pq
import pytest

from valuescope.engine.rundir import RunDir
from valuescope.engine.runner import run_stages
from valuescope.errors import ValuescopeError
from valuescope.extract.config import ExtractConfig
from valuescope.extract.stage import ExtractStage
from valuescope.records import Judgment, PlacedValue
from valuescope.tables import JUDGMENTS, MENTIONS, VALUES, TableSpec, arrow_schema, register_table, table
from valuescope.taxonomy.config import TaxonomyConfig
from valuescope.taxonomy.stage import PlaceStage, taxonomy_stages


def test_schemas_follow_their_records_field_by_field():
    assert JUDGMENTS.schema.names == list(Judgment.model_fields)
    assert VALUES.schema.names == list(PlacedValue.model_fields)
    assert str(VALUES.schema.field("is_new").type) == "bool" and str(VALUES.schema.field("score").type) == "double"
    with pytest.raises(TypeError, match="no Arrow type"):
        arrow_schema(type("Nested", (Judgment,), {"__annotations__": {"parts": list[str]}}))


def test_stages_write_the_declared_tables():
    assert ExtractStage(ExtractConfig()).outputs == (JUDGMENTS.name, MENTIONS.name)
    assert ExtractStage(ExtractConfig()).output_schema("judgments").equals(JUDGMENTS.schema)
    assert PlaceStage(TaxonomyConfig()).outputs == (VALUES.name,) and table("values").writer == PlaceStage.name


def test_values_parquet_has_exactly_the_declared_schema(tmp_path):
    run = RunDir(tmp_path / "run")
    run.write_table("judgments", pd.DataFrame([Judgment(id="c1", subjective=True).model_dump()]))
    run.write_table(
        "mentions",
        pd.DataFrame(
            [{"id": "c1", "side": "ai", "value": "honesty", "explicit": True, "l2_hint": None, "confidence": 0.9}]
        ),
    )
    run_stages(run, taxonomy_stages(TaxonomyConfig(build=False, place_second=False, place_tuned=False)), quiet=True)
    assert pq.read_schema(RunDir(run.path).shards("values")[0]).remove_metadata().equals(VALUES.schema)
    assert run.read_df("values")["leaf"].tolist() == ["honesty"]


def test_one_writer_per_table():
    with pytest.raises(ValuescopeError, match="already written by stage 'extract'"):
        register_table(TableSpec("judgments", "my_stage", Judgment))
