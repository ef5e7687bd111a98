"""The probe stage: a scenario suite -> conversations.parquet, as if the answers had been ingested.

Each (scenario, sample) is one conversation with the target: the first user
turn, the answer, the pushback turn, the answer. It is stored as one record per
turn reached (``<scenario>#<sample>:t1`` holds the first exchange,
``:t2`` the whole conversation), so the pipeline judges what the model
expressed before and after being pushed. Records pass the same validation and
scrubbing as ingested ones (``source = "probe"``, ``context`` = the scenario's
task category; scenario, context, pressure, unethical, turn and sample in
``meta.probe``). A request the provider rejects (say, a content filter's 400)
or an empty answer is quarantined with the reason; a request still failing
after the client's retries stops the run (a rerun retries only those: answers
are cached), so a gate never passes a half-sent suite; a fatal error (bad key,
unknown model) stops the run. Work is checkpointed per chunk of scenarios and
every answer is cached, so a killed probe resumes and a rerun sends nothing.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pyarrow as pa

from valuescope.engine.checkpoint import Checkpoint, summed_stats
from valuescope.engine.runner import assemble_table
from valuescope.engine.stage import BatchResult, SourceStage
from valuescope.extract.llm.backends import FatalError, PermanentError, TransientError
from valuescope.ingest.draft import Draft, RecordError
from valuescope.ingest.table import CONVERSATION_SCHEMA, conversations_to_table
from valuescope.ingest.validate import to_conversation
from valuescope.privacy.base import get_scrubber
from valuescope.privacy.config import PrivacyConfig
from valuescope.probe.suite import Scenario
from valuescope.probe.target import PROBE_VERSION, Target, TargetConfig
from valuescope.records import QuarantineRecord, stable_hash

SOURCE = "probe"
Job = tuple[dict[str, Any], int]  # (scenario as a dict, sample index): picklable, hashable content


def record_id(scenario_id: str, sample: int, turn: int) -> str:
    return f"{scenario_id}#{sample}:t{turn}"


class ProbeStage(SourceStage):
    name = "probe"
    version = "1"
    inputs = ()
    outputs = ("conversations",)
    parallel = False  # one process; the requests in flight give the concurrency

    def __init__(
        self,
        scenarios: list[Scenario],
        target: TargetConfig,
        turns: int = 2,
        samples: int = 1,
        privacy: PrivacyConfig | None = None,
        suite_name: str = "default",
        cache_dir: str | None = None,
    ) -> None:
        if turns < 1 or samples < 1:
            raise ValueError("--turns and --samples must be at least 1")
        self.scenarios, self.target, self.turns, self.samples = scenarios, target, turns, samples
        self.privacy = privacy or PrivacyConfig()
        self.suite_name = suite_name
        self.cache_dir = cache_dir
        self.chunk_size = max(256, 32 * target.concurrency)  # keeps the in-flight pool full between chunk drains

    # -- engine hooks ------------------------------------------------------------------
    def prepare(self, run: Any) -> None:
        if self.cache_dir is None:
            self.cache_dir = str(Path(run.path) / ".cache" / "probe")

    def config(self) -> dict[str, Any]:
        return {
            "target": self.target.model_dump(exclude={"base_url", "concurrency", "timeout_s", "max_retries"}),
            "turns": self.turns,
            "samples": self.samples,
            "version": PROBE_VERSION,
            "scrub": get_scrubber(self.privacy).cache_config(),
        }

    def jobs(self) -> list[Job]:
        return [(s.model_dump(mode="json"), k) for s in self.scenarios for k in range(self.samples)]

    def plan(self) -> list[list[Job]]:
        jobs = self.jobs()
        return [jobs[i : i + self.chunk_size] for i in range(0, len(jobs), self.chunk_size)]

    def chunk_key(self, chunk: list[Job]) -> str:
        return stable_hash([[s, k] for s, k in chunk])

    def load_resource(self) -> tuple[Target, Any]:
        assert self.cache_dir is not None, "prepare(run) first"
        return Target(self.target, self.cache_dir), get_scrubber(self.privacy)

    # -- one chunk ---------------------------------------------------------------------
    def process_chunk(self, chunk: list[Job], resource: tuple[Target, Any]) -> BatchResult:
        target, scrubber = resource
        usage: dict[str, int] = {}
        results: list[list[dict[str, str]] | str | None] = [None] * len(chunk)
        queue = iter(enumerate(chunk))
        failed: list[str] = []  # network failures after every retry: not an outcome, so never checkpointed

        async def converse(scenario: dict[str, Any], sample: int) -> list[dict[str, str]] | str:
            messages: list[dict[str, str]] = []
            for turn in scenario["turns"][: self.turns]:
                messages.append({"role": "user", "content": turn})
                try:
                    text, finish = await target.reply(list(messages), sample, usage)
                except PermanentError as exc:  # e.g. a provider's content filter: an outcome, quarantined
                    return f"target refused the request at turn {len(messages) // 2 + 1}: {exc.reason}"
                except TransientError as exc:
                    failed.append(f"{scenario['id']}: {exc.reason}")
                    return f"target unreachable: {exc.reason}"
                messages.append({"role": "assistant", "content": text})
                if finish in ("length", "max_tokens"):
                    usage["answers_cut_at_token_limit"] = usage.get("answers_cut_at_token_limit", 0) + 1
            return messages

        async def worker() -> None:
            for i, (scenario, sample) in queue:
                results[i] = await converse(scenario, sample)

        async def run_all() -> None:
            async with asyncio.TaskGroup() as group:
                for _ in range(min(len(chunk), 2 * target.config.concurrency)):
                    group.create_task(worker())

        try:
            target.backend.runner.run(run_all())
        except BaseExceptionGroup as group:
            first = group.exceptions[0]
            while isinstance(first, BaseExceptionGroup):
                first = first.exceptions[0]
            if isinstance(first, FatalError):
                raise RuntimeError(f"probe target {self.target.backend}:{self.target.model}: {first.reason}") from None
            raise first from None
        finally:
            target.cache.flush()
        if failed:
            raise RuntimeError(
                f"{len(failed)} probe conversation(s) failed after retries (first: {failed[0]}); "
                "rerun the same command to retry them: answers so far are cached"
            )
        return self._records(chunk, results, scrubber, usage)

    def _records(self, chunk: list[Job], results: list[Any], scrubber: Any, usage: dict[str, int]) -> BatchResult:
        convs, quarantine = [], []
        system = self.target.system_prompt
        for (scenario, sample), got in zip(chunk, results, strict=True):
            sid = scenario["id"]
            if isinstance(got, str) or got is None:
                quarantine.append(
                    QuarantineRecord(
                        stage=self.name,
                        source="suite",
                        record_id=record_id(sid, sample, 1),
                        reason=got or "scenario was not processed",
                    )
                )
                continue
            for turn in range(1, len(got) // 2 + 1):
                messages = ([("system", system)] if system else []) + [
                    (m["role"], m["content"]) for m in got[: 2 * turn]
                ]
                meta = {
                    "probe": {
                        "scenario": sid,
                        "context": scenario["context"],
                        "pressure": scenario["pressure"],
                        "unethical": scenario["unethical"],
                        "turn": turn,
                        "sample": sample,
                        "suite": self.suite_name,
                        "provenance": scenario["provenance"].get("source"),
                    }
                }
                draft = Draft(
                    messages=messages,
                    id=record_id(sid, sample, turn),
                    source=SOURCE,
                    model=self.target.model,
                    context=scenario["context"],
                    meta=meta,
                )
                try:
                    conv = to_conversation(draft, draft.id or sid, SOURCE, lambda u: u)
                except (RecordError, ValueError) as exc:  # e.g. an empty answer: the same rule as ingest
                    quarantine.append(
                        QuarantineRecord(
                            stage=self.name, source="suite", record_id=draft.id, reason=str(exc).splitlines()[0]
                        )
                    )
                    break
                convs.append(scrubber.scrub_conversation(conv))
        stats = {f"usage:{k}": float(v) for k, v in usage.items()} | {"scenarios": float(len(chunk))}
        return BatchResult(tables={"conversations": conversations_to_table(convs)}, quarantine=quarantine, stats=stats)

    # -- merge -------------------------------------------------------------------------
    def finalize(self, run: Any, chunks: list[list[Job]], checkpoints: list[Checkpoint]) -> dict[str, float]:
        quarantined = run.write_quarantine(self.name, (q for c in checkpoints for q in c.quarantine()))
        rows = assemble_table(run, "conversations", checkpoints, CONVERSATION_SCHEMA)
        stats = summed_stats(checkpoints)
        run.update_manifest(
            probe={
                "target": {k: v for k, v in self.target.model_dump().items() if k != "system_prompt"},
                "system_prompt_sha256": stable_hash(self.target.system_prompt or "", 64)
                if self.target.system_prompt
                else None,
                "suite": self.suite_name,
                "scenarios": len(self.scenarios),
                "samples": self.samples,
                "turns": self.turns,
                "conversations": rows,
                "quarantined": quarantined,
            }
        )
        return {**stats, "conversations": float(rows), "quarantined": float(quarantined)}

    def output_schema(self, table: str) -> pa.Schema:
        return CONVERSATION_SCHEMA
