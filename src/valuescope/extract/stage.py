"""The extract stage: conversations.parquet -> judgments.parquet + mentions.parquet."""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from valuescope.engine.stage import BatchResult, BatchStage
from valuescope.extract.base import Extractor
from valuescope.extract.config import ExtractConfig
from valuescope.extract.registry import get_extractor
from valuescope.ingest.table import table_to_conversations
from valuescope.records import QuarantineRecord
from valuescope.tables import JUDGMENTS, MENTIONS

JUDGMENT_SCHEMA = JUDGMENTS.schema  # derived from records.Judgment (valuescope.tables)
MENTION_SCHEMA = MENTIONS.schema  # derived from records.ValueMention


class ExtractStage(BatchStage):
    name = "extract"
    version = "1"
    inputs = ("conversations",)
    outputs = (JUDGMENTS.name, MENTIONS.name)

    def __init__(self, config: ExtractConfig) -> None:
        self.extract_config = config
        probe = get_extractor(config)  # cheap: load() does the heavy work
        self.parallel = probe.parallel
        self.max_workers = probe.max_workers
        self.batch_size = probe.batch_size
        self._cache_config = probe.cache_config()

    def config(self) -> dict[str, Any]:
        return self._cache_config

    def load_resource(self) -> Extractor:
        extractor = get_extractor(self.extract_config)
        extractor.load()
        return extractor

    def output_schema(self, table: str) -> pa.Schema:
        return JUDGMENT_SCHEMA if table == "judgments" else MENTION_SCHEMA

    def process_batch(self, batch: pa.Table, resource: Extractor) -> BatchResult:
        conversations = table_to_conversations(batch)
        results = resource.extract(conversations)
        if len(results) != len(conversations):
            raise RuntimeError(
                f"{resource.name} returned {len(results)} results for {len(conversations)} conversations"
            )
        judgments, mentions, quarantine = [], [], []
        usage: dict[str, float] = {}
        for conv, res in zip(conversations, results, strict=True):
            for k, v in res.usage.items():
                usage[f"usage:{k}"] = usage.get(f"usage:{k}", 0) + v
            if res.error or res.judgment is None:
                quarantine.append(
                    QuarantineRecord(
                        stage=self.name,
                        source="conversations",
                        record_id=conv.id,
                        reason=res.error or "extractor returned no judgment",
                        raw=(res.raw or "")[:4000] or None,
                    )
                )
                continue
            judgments.append(res.judgment.model_dump(mode="json"))
            mentions.extend(v.model_dump(mode="json") for v in res.values)
        return BatchResult(
            tables={
                "judgments": pa.Table.from_pylist(judgments, schema=JUDGMENT_SCHEMA),
                "mentions": pa.Table.from_pylist(mentions, schema=MENTION_SCHEMA),
            },
            quarantine=quarantine,
            stats=usage,
        )
