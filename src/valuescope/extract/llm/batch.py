"""Provider batch APIs for large offline jobs: submit, poll, resume after restart, collect.

One engine batch (up to 10,000 conversations with ``batch_api``) becomes one
provider batch. Its id is written to ``<cache dir>/batches/<key>.json``
*before* polling starts, keyed by the hash of the request keys, so a process
killed while the provider works resumes polling the same batch instead of
paying twice. Collected answers go through the same validation as live
answers; an invalid one gets its single repair attempt as a live request.
Lines the provider could not answer (errored, expired, cancelled) end as
quarantined conversations with the provider's reason.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from valuescope.engine.rundir import atomic_write_bytes
from valuescope.extract.llm.backends.base import Backend
from valuescope.extract.llm.batch_base import BatchProvider
from valuescope.extract.llm.client import LLMClient, Outcome
from valuescope.records import stable_hash

if TYPE_CHECKING:
    from valuescope.extract.llm.extractor import Job, LLMExtractor

log = logging.getLogger(__name__)


def get_provider(backend: Backend) -> BatchProvider:
    if backend.name == "openai":
        from valuescope.extract.llm.batch_openai import OpenAIBatch

        return OpenAIBatch(backend)
    if backend.name == "anthropic":
        from valuescope.extract.llm.batch_anthropic import AnthropicBatch

        return AnthropicBatch(backend)
    raise ValueError(f"backend {backend.name!r} has no batch API")


def _state_path(folder: Path, jobs: list[Job]) -> Path:
    return folder / "batches" / f"{stable_hash(sorted(j.key for j in jobs), length=24)}.json"


def run_batch(extractor: LLMExtractor, jobs: list[Job]) -> dict[str, Outcome]:
    """Outcome per job key, via the provider's batch API (blocks until the batch ends)."""
    out: dict[str, Outcome] = {}
    groups: dict[int, tuple[Backend, list[Job]]] = {}
    for job in jobs:
        b = extractor._backend_for(job)
        groups.setdefault(id(b), (b, []))[1].append(job)
    for backend, group in groups.values():
        out.update(_run_group(extractor, backend, group))
    return out


def _run_group(extractor: LLMExtractor, backend: Backend, jobs: list[Job]) -> dict[str, Outcome]:
    provider = get_provider(backend)
    max_tokens = extractor.config.max_output_tokens
    path = _state_path(extractor.cache.folder, jobs)
    state: dict[str, Any] = json.loads(path.read_text("utf-8")) if path.is_file() else {}
    if not state.get("batch_id"):
        requests = [
            (
                j.key,
                backend.request_body(
                    j.system, [{"role": "user", "content": j.user}], j.schema, f"record_{j.kind}", max_tokens
                ),
            )
            for j in jobs
        ]
        state = {
            "batch_id": provider.submit(requests),
            "backend": backend.name,
            "model": backend.model,
            "requests": len(requests),
            "submitted_at": time.time(),
            "status": "submitted",
        }
        atomic_write_bytes(path, json.dumps(state, indent=2).encode("utf-8"))
        log.info("submitted %s batch %s (%d requests)", backend.name, state["batch_id"], len(requests))
    else:
        log.info("resuming %s batch %s", backend.name, state["batch_id"])
    while True:
        done, status = provider.poll(state["batch_id"])
        if status != state.get("status"):
            state["status"] = status
            atomic_write_bytes(path, json.dumps(state, indent=2).encode("utf-8"))
        if done:
            break
        time.sleep(extractor.config.batch_poll_s)
    results = provider.collect(state["batch_id"])
    client = LLMClient(backend)

    async def finish_all() -> list[Outcome]:
        import asyncio

        async def one(job: Job) -> Outcome:
            res = results.get(job.key, f"batch {status}: no result for this request")
            if isinstance(res, str):
                return Outcome(error=f"batch: {res}", usage={"batch_requests": 1})
            usage = {"batch_requests": 1}
            return await client.resolve(
                job.system, job.user, job.schema, f"record_{job.kind}", job.validate, res, usage
            )

        return await asyncio.gather(*(one(j) for j in jobs))

    outcomes = backend.runner.run(finish_all())
    state["collected_at"] = time.time()
    atomic_write_bytes(path, json.dumps(state, indent=2).encode("utf-8"))
    return {j.key: o for j, o in zip(jobs, outcomes, strict=True)}
