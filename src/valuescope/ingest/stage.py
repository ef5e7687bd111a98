"""The ingest stage: input files -> conversations.parquet (scrubbed) + quarantine.

Every record read ends up as a conversation or in quarantine.jsonl with its
file, line and reason; per file, ``read = ok + quarantined`` (recorded in the
manifest's ``inputs``). Work is split into chunks keyed by the file's sha256,
the chunk's position and the config, so a killed ingest resumes where it
stopped and produces the same tables.

Privacy: each chunk is scrubbed (``privacy.scrub``) before it is checkpointed,
and user ids are hashed with the run's secret salt, so no file in the run
holds raw text or raw ids unless ``--keep-raw`` asked for
``conversations_raw.parquet``. Duplicate ids: the first occurrence (in input
order) is kept; later ones are quarantined with a pointer to the first.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any, Protocol

import pyarrow as pa

from valuescope.engine.checkpoint import Checkpoint
from valuescope.engine.runner import progress_bar
from valuescope.engine.stage import BatchResult, SourceStage
from valuescope.ingest.archive import expand_inputs
from valuescope.ingest.config import IngestConfig
from valuescope.ingest.dedup import duplicate_rows
from valuescope.ingest.draft import IngestError, InputError, RecordError, quarantine_text, turn_parts
from valuescope.ingest.openai_batch import BatchIndex, build_batch_index
from valuescope.ingest.source import Chunk, InputFile, plan_file, read_chunk
from valuescope.ingest.table import CONVERSATION_SCHEMA, conversations_to_table
from valuescope.ingest.validate import to_conversation
from valuescope.privacy.base import Scrubber, get_scrubber
from valuescope.privacy.config import PrivacyConfig
from valuescope.privacy.ids import UserIdHasher, run_salt, salt_fingerprint
from valuescope.records import QuarantineRecord, stable_hash

RAW_TABLE = "conversations_raw"


class IngestSettings(Protocol):
    """The part of a run's config ingest reads (a RunConfig is one; ingest does not import the run config)."""

    ingest: IngestConfig
    privacy: PrivacyConfig


class IngestStage(SourceStage):
    name = "ingest"
    version = "2"  # 2: messages carry tool calls and tool turns
    inputs = ()

    def __init__(self, inputs: list[str], config: IngestSettings) -> None:
        self.inputs = list(inputs)
        self.expansion = expand_inputs(inputs)  # InputError now, before any work, for a missing file
        self.skipped: list[tuple[str, str]] = []  # (path, reason): files found in input folders / archives, not read
        self.skipped_given: list[str] = []  # per skipped file: the input argument it came from
        self.ingest_config = config.ingest
        self.privacy_config = config.privacy
        self.outputs = ("conversations", RAW_TABLE) if config.privacy.keep_raw else ("conversations",)
        self.files: list[InputFile] = []
        self.given: list[str] = []  # per file: the input argument it came from
        self.batch: BatchIndex | None = None
        self._hasher: UserIdHasher | None = None
        self._salt_tag = ""
        self._scrub_config: dict[str, Any] = {}

    # -- engine hooks ---------------------------------------------------------------
    def prepare(self, run: Any) -> None:
        salt = run_salt(run.path)
        self._hasher, self._salt_tag = UserIdHasher(salt), salt_fingerprint(salt)
        self._scrub_config = get_scrubber(self.privacy_config).cache_config()
        cfg = self.ingest_config
        found = self.expansion.files
        # Hashing and indexing lines reads every input once: show it when it is long and someone is watching.
        total = sum(f.path.stat().st_size for f in found)
        with progress_bar(disable=total < 100_000_000 or not sys.stderr.isatty()) as bar:
            task = bar.add_task("index inputs (MB)", total=max(1, total // 1_000_000))
            self.files, self.given = [], []
            self.skipped = [(shown, reason) for shown, reason, _ in self.expansion.skipped]
            self.skipped_given = [given for *_, given in self.expansion.skipped]
            for f in found:
                try:
                    self.files.append(
                        plan_file(
                            f.path,
                            len(self.files),
                            cfg.format,
                            max(1, cfg.batch_size),
                            cfg.column_map,
                            cfg.max_record_bytes,
                            cfg.max_gzip_ratio,
                            shown=f.shown,
                        )
                    )
                    self.given.append(f.given)
                except InputError as exc:
                    if f.explicit:
                        self.expansion.cleanup()
                        raise  # a file the user named: a clear error
                    self.skipped.append((f.shown, str(exc)))  # a stray file in a folder: noted, not fatal
                    self.skipped_given.append(f.given)
                bar.advance(task, f.path.stat().st_size // 1_000_000)
        self.batch = build_batch_index(self.files, cfg.max_record_bytes)

    def config(self) -> dict[str, Any]:
        return {
            "ingest": self.ingest_config.model_dump(mode="json", exclude={"strict"}),
            "scrub": self._scrub_config,
            "keep_raw": self.privacy_config.keep_raw,
            "salt": self._salt_tag,  # a one-way tag: the salt itself never leaves .secret/
        }

    def plan(self) -> list[tuple[InputFile, Chunk]]:
        # each descriptor carries its file without the file's other chunks: O(1) to send to a worker, not O(chunks)
        return [(replace(f, chunks=[]), c) for f in self.files for c in f.chunks]

    def chunk_key(self, chunk: tuple[InputFile, Chunk]) -> str:
        f, c = chunk
        key = [f.path, f.sha256, f.format, f.container, f.columns, c.index, c.start, c.count]
        if self.batch is not None and f.format == "openai_batch":  # a batch file's reading depends on its partner files
            key.append(self.batch.tag())
        return stable_hash(key)

    def load_resource(self) -> Scrubber:
        return get_scrubber(self.privacy_config)

    def output_schema(self, table: str) -> pa.Schema:
        return CONVERSATION_SCHEMA

    # -- one chunk --------------------------------------------------------------------
    def process_chunk(self, chunk: tuple[InputFile, Chunk], scrubber: Scrubber) -> BatchResult:
        f, c = chunk
        assert self._hasher is not None, "prepare(run) first"
        convs, raws, origins, quarantine = [], [], [], []
        stats = {"read": 0, "ok": 0, "quarantined": 0, "blank_lines": 0, "joined": 0}

        def reject(line: int, reason: str, raw: str | None, record_id: str | None = None) -> None:
            stats["read"] += 1
            stats["quarantined"] += 1
            quarantine.append(
                QuarantineRecord(
                    stage=self.name,
                    source=f.path,
                    line=line,
                    reason=quarantine_text(reason),
                    record_id=quarantine_text(record_id) if record_id is not None else None,
                    raw=scrubber.scrub_text(quarantine_text(raw)) if raw else None,
                )
            )

        stem = f.stem
        for item in read_chunk(
            f, c, self.ingest_config.max_record_bytes, self.ingest_config.max_gzip_ratio, self.batch
        ):
            if item.blank:
                stats["blank_lines"] += 1
                continue
            if item.joined:
                stats["joined"] += 1
                continue
            if item.drafts is None:
                reject(item.line, item.error or "unreadable record", item.raw)
                continue
            if not item.drafts:
                reject(item.line, "record holds no conversation", item.raw)
            for draft in item.drafts:
                try:
                    conv = to_conversation(
                        draft, f"{stem}:{item.line}", stem, self._hasher, self.ingest_config.thinking == "include"
                    )
                except (RecordError, ValueError) as exc:
                    raw = "\n".join(
                        f"{t.role}: {t.content}" for t in map(turn_parts, draft.messages) if isinstance(t.content, str)
                    )
                    reject(item.line, str(exc).splitlines()[0], raw[:4000], draft.id)
                    continue
                stats["read"] += 1
                stats["ok"] += 1
                if self.privacy_config.keep_raw:
                    raws.append(conv)
                convs.append(scrubber.scrub_conversation(conv))
                origins.append((f.path, item.line))
        tables = {"conversations": conversations_to_table(convs, origins)}
        if self.privacy_config.keep_raw:
            tables[RAW_TABLE] = conversations_to_table(raws, origins)
        return BatchResult(tables=tables, quarantine=quarantine, stats=stats)

    # -- merge ------------------------------------------------------------------------
    def finalize(
        self, run: Any, chunks: list[tuple[InputFile, Chunk]], checkpoints: list[Checkpoint]
    ) -> dict[str, float]:
        """Chunks' checkpoints -> tables and quarantine, one chunk at a time (nothing holds the whole corpus)."""
        per_file = [{"read": 0, "ok": 0, "quarantined": 0, "blank_lines": 0, "joined": 0} for _ in self.files]
        for (_, c), cp in zip(chunks, checkpoints, strict=True):
            got = cp.stats()
            for k in per_file[c.file]:
                per_file[c.file][k] += int(got.get(k, 0))
        file_index = {f.path: i for i, f in enumerate(self.files)}
        drops, duplicates = duplicate_rows(checkpoints)
        for records in duplicates.values():
            for q in records:
                stats = per_file[file_index[q.source]]
                stats["ok"] -= 1
                stats["quarantined"] += 1

        first: list[QuarantineRecord] = []

        def quarantine() -> Iterator[QuarantineRecord]:
            for k, cp in enumerate(checkpoints):  # chunks are in file order: sorting each sorts them all
                records = sorted(
                    cp.quarantine() + duplicates.get(k, []), key=lambda q: (file_index.get(q.source, -1), q.line or 0)
                )
                if records and not first:
                    first.append(records[0])
                yield from records
            for path, reason in self.skipped:
                record = QuarantineRecord(stage=self.name, source=path, reason=f"file skipped: {reason}")
                if not first:
                    first.append(record)
                yield record

        quarantined = run.write_quarantine(self.name, quarantine())
        inputs = [{**f.manifest(), **per_file[i]} for i, f in enumerate(self.files)]
        run.update_manifest(inputs=inputs, skipped_files=[{"path": p, "reason": r} for p, r in self.skipped])
        self.expansion.cleanup()
        self._require_conversations(run, per_file)
        if self.ingest_config.strict and quarantined:
            raise IngestError(
                f"{quarantined} record(s) quarantined and --strict is set; first: "
                f"{first[0].source}:{first[0].line}: {first[0].reason} (all reasons in {run.quarantine_path})"
            )
        for name in self.outputs:
            with run.table_writer(name, CONVERSATION_SCHEMA) as writer:
                for k, cp in enumerate(checkpoints):
                    if k in drops:  # the one case a shard is rewritten: it holds a duplicate id
                        table = cp.read(name)
                        if table is not None:
                            keep = [i for i in range(table.num_rows) if i not in drops[k]]
                            writer.write(table.take(pa.array(keep, type=pa.int64())))
                    elif (path := cp.table_file(name)) is not None:
                        writer.add_file(path)
        if not self.privacy_config.keep_raw:
            self._drop_raw(run)
        totals = {k: sum(p[k] for p in per_file) for k in ("read", "ok", "quarantined", "blank_lines", "joined")}
        return {**totals, "files": len(self.files)}

    def _require_conversations(self, run: Any, per_file: list[dict[str, int]]) -> None:
        """An input that yields no conversation at all is an error, not an empty report."""
        for given in self.inputs:
            files = [i for i, g in enumerate(self.given) if g == given]
            ok = sum(per_file[i]["ok"] for i in files)
            joined = sum(per_file[i]["joined"] for i in files)
            if ok or joined:
                continue
            quarantined = sum(per_file[i]["quarantined"] for i in files)
            skipped = self.skipped_given.count(given)
            parts = [f"{quarantined:,} record(s) quarantined (reasons in {run.quarantine_path})"] if quarantined else []
            parts += [f"{skipped:,} file(s) skipped (manifest skipped_files)"] if skipped else []
            raise InputError(f"no conversation read from {given}: " + ("; ".join(parts) or "it holds no records"))

    def _drop_raw(self, run: Any) -> None:
        """A run without --keep-raw leaves no unscrubbed text behind: not the table, not old checkpoints."""
        run.drop_table(RAW_TABLE)
        for raw in run.cache_dir(self.name).glob(f"*/{RAW_TABLE}.parquet"):
            shutil.rmtree(raw.parent, ignore_errors=True)


def ingest_stages(inputs: list[str], config: IngestSettings) -> list[IngestStage]:
    """The stages that turn input files into conversations.parquet (one stage; chunks within it)."""
    return [IngestStage([str(Path(p)) for p in inputs], config)]
