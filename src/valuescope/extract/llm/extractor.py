"""LLMExtractor: the study's own method — a language model reads each conversation and answers in JSON.

Per conversation: (optionally) a cheap subjectivity screen, then the full
annotation; each answer is validated (schema.py), its task summary scrubbed,
stored in the persistent cache and turned into a Judgment plus ValueMentions.
Every conversation ends judged or as an Extraction with ``error`` set (the
extract stage quarantines it with the raw answer). Only configuration errors
(no model, bad key) stop the run.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from valuescope.extract.base import Extractor
from valuescope.extract.config import ExtractConfig
from valuescope.extract.llm import prompts
from valuescope.extract.llm.backends import Backend, FatalError, get_backend
from valuescope.extract.llm.cache import AnswerCache, cache_key, default_cache_dir
from valuescope.extract.llm.client import LLMClient, Outcome
from valuescope.extract.llm.schema import (
    Answer,
    Screen,
    answer_schema,
    clean_values,
    screen_schema,
    task_problem,
    validate_answer,
)
from valuescope.extract.llm.window import estimate_tokens, render_transcript
from valuescope.records import Conversation, Extraction, Judgment, ValueMention, stable_hash

log = logging.getLogger(__name__)

#: typical answer sizes, for --dry-run (measured on JSON answers with 3-5 values)
EST_OUTPUT_TOKENS = {"screen": 40, "full": 220}


def _cached(data: dict[str, Any]) -> Outcome:
    """A cached answer; an answer that was never valid replays the same quarantine, with no new call."""
    if "__invalid__" in data:
        return Outcome(error=data["__invalid__"], raw=data.get("raw"), usage={"cached": 1}, invalid=True)
    return Outcome(data=data, usage={"cached": 1})


def _first_leaf(group: BaseExceptionGroup) -> BaseException:
    """The first real exception inside a (nested) TaskGroup exception group."""
    first = group.exceptions[0]
    return _first_leaf(first) if isinstance(first, BaseExceptionGroup) else first


@dataclass
class Job:
    """One request to make (or to find in the cache)."""

    conv: Conversation
    kind: str  # "screen" | "full"
    system: str
    user: str
    key: str

    @property
    def schema(self) -> dict[str, Any]:
        return screen_schema() if self.kind == "screen" else answer_schema()

    @property
    def validate(self) -> Callable[[Any], Any]:
        model = Screen if self.kind == "screen" else Answer
        return lambda data: validate_answer(data, model)


def _load_scrubber() -> Callable[[str], str]:
    """The task summary must not carry personal details the model copied from the conversation."""
    try:
        from valuescope.privacy.base import get_scrubber
        from valuescope.privacy.config import PrivacyConfig

        return get_scrubber(PrivacyConfig(scrub="regex")).scrub_text
    except ImportError:  # privacy/regex.py not installed: keep working, but say so
        log.warning("regex scrubber unavailable; LLM task summaries are stored unscrubbed")
        return lambda text: text


class LLMExtractor(Extractor):
    parallel = False  # one process unless llm_processes > 1; concurrency comes from requests in flight

    def __init__(self, config: ExtractConfig) -> None:
        super().__init__(config)
        if not config.model:
            raise ValueError("the llm extractor needs --model NAME")
        # llm_processes > 1: the engine runs that many processes, each with its share of the requests in
        # flight, so the client's CPU per request (SDK request building) is spread over cores
        self.processes = 1 if config.batch_api else max(1, min(config.llm_processes, config.concurrency))
        self.parallel, self.max_workers = self.processes > 1, (self.processes if self.processes > 1 else None)
        self.slots = config.concurrency // self.processes  # requests in flight in this process (never over the total)
        # live: enough conversations per engine batch that the in-flight pool stays full for many
        # rounds, so the drain at each batch boundary is a small share of the batch
        self.batch_size = 10_000 if config.batch_api else max(256, 32 * self.slots)
        self.backend: Backend | None = None
        self.screen_backend: Backend | None = None
        self._cache: AnswerCache | None = None
        self._scrub: Callable[[str], str] = lambda t: t
        self.usage: dict[str, int] = {}
        # replayed answers are cached under the answers file's digest: a changed file is replayed afresh
        self._answers_sha = None
        if config.backend == "replay" and config.answers:
            from valuescope.extract.llm.backends.replay import file_digest

            self._answers_sha = file_digest(config.answers) if Path(config.answers).is_file() else None

    # -- identity ----------------------------------------------------------------------
    @property
    def name(self) -> str:
        return f"llm:{self.config.backend}:{self.config.model}@{prompts.PROMPT_VERSION}"

    def params(self) -> dict[str, Any]:
        c = self.config
        out: dict[str, Any] = {
            "temperature": c.temperature,
            "max_output_tokens": c.max_output_tokens,
            "response_format": c.response_format,
            "max_input_tokens": c.max_input_tokens,
        }
        if self._answers_sha:
            out["answers_sha"] = self._answers_sha
        return out

    def cache_config(self) -> dict[str, Any]:
        c = self.config
        return {
            "name": self.name,
            "backend": c.backend,
            "model": c.model,
            "prompt_version": prompts.PROMPT_VERSION,
            "params": self.params(),
            "screen_subjective": c.screen_subjective,
            "screen_model": c.screen_model if c.screen_subjective else None,
        }

    # -- lifecycle ---------------------------------------------------------------------
    @property
    def cache(self) -> AnswerCache:
        if self._cache is None:
            folder = Path(self.config.llm_cache_dir) if self.config.llm_cache_dir else default_cache_dir()
            self._cache = AnswerCache(folder)
        return self._cache

    def load(self) -> None:
        self.backend = get_backend(self.config)
        if self.config.screen_subjective and self.config.screen_model:
            self.screen_backend = get_backend(self.config, model=self.config.screen_model)
            self.screen_backend.share_loop(self.backend)  # one coroutine per conversation uses both
        self._scrub = _load_scrubber()
        _ = self.cache

    def close(self) -> None:
        for b in (self.screen_backend, self.backend):  # the sharer first: the loop is the main backend's
            if b is not None:
                b.close()
        if self._cache is not None:
            self._cache.close()
            self._cache = None

    # -- requests ------------------------------------------------------------------------
    def _user_message(self, conv: Conversation, system: str) -> str:
        budget = max(self.config.max_input_tokens - estimate_tokens(system) - 60, 200) * 4
        transcript, _ = render_transcript(conv, budget)
        return prompts.render_conversation(conv, transcript)

    def _job(self, conv: Conversation, kind: str) -> Job:
        system = prompts.SCREEN_SYSTEM if kind == "screen" else prompts.SYSTEM
        user = self._user_message(conv, system)
        model = (self.config.screen_model or self.config.model) if kind == "screen" else self.config.model
        key = cache_key(
            self.config.backend, f"{model}#{kind}", prompts.PROMPT_VERSION, self.params(), stable_hash([system, user])
        )
        return Job(conv, kind, system, user, key)

    def _backend_for(self, job: Job) -> Backend:
        assert self.backend is not None, "load() first"
        return self.screen_backend if (job.kind == "screen" and self.screen_backend) else self.backend

    def _run_jobs(self, jobs: list[Job]) -> dict[str, Outcome]:
        """Batch API: outcome per job key, from the cache, else from one provider batch job."""
        results = {key: _cached(data) for key, (data, _usage) in self.cache.get_many([j.key for j in jobs]).items()}
        todo = list({j.key: j for j in jobs if j.key not in results}.values())
        if not todo:
            return results
        from valuescope.extract.llm.batch import run_batch

        fresh = run_batch(self, todo)
        for job in todo:
            self._store(job, fresh[job.key])
        self.cache.flush()
        results.update(fresh)
        return results

    def _store(self, job: Job, out: Outcome) -> None:
        """Scrub and cache one fresh outcome (valid, or invalid after repair; network failures are not cached)."""
        if out.error is None:
            out.data = self._finish(job, out.data)
            self.cache.put(job.key, job.kind, out.data, out.usage)
        elif out.invalid:  # deterministic at temperature 0, so remember it
            self.cache.put(
                job.key, f"{job.kind}:invalid", {"__invalid__": out.error, "raw": (out.raw or "")[:4000]}, out.usage
            )

    def _extract_live(self, conversations: list[Conversation]) -> list[Extraction]:
        """Live requests as a pipeline: each conversation goes cache -> screen -> full -> Extraction in its own
        coroutine, and workers pull the next conversation as soon as one finishes. Building prompts and
        results overlaps with requests in flight, and no barrier separates the screen and full steps."""
        import asyncio

        assert self.backend is not None, "load() first"
        clients: dict[int, LLMClient] = {}
        shared: dict[str, asyncio.Future[Outcome]] = {}  # identical requests in one batch make one call
        results: list[Extraction | None] = [None] * len(conversations)
        queue = iter(enumerate(conversations))

        async def outcome(job: Job) -> Outcome:
            hit = self.cache.get(job.key)
            if hit is not None:
                return _cached(hit[0])
            if job.key in shared:
                out = await asyncio.shield(shared[job.key])
                return Outcome(data=out.data, error=out.error, raw=out.raw, usage={"cached": 1}, invalid=out.invalid)
            shared[job.key] = asyncio.get_running_loop().create_future()
            backend = self._backend_for(job)
            client = clients.setdefault(id(backend), LLMClient(backend, concurrency=self.slots))
            try:
                out = await client.ask(job.system, job.user, job.schema, f"record_{job.kind}", job.validate)
            except BaseException as exc:  # a fatal error or cancellation: waiters on this request see it too
                if isinstance(exc, asyncio.CancelledError):
                    shared[job.key].cancel()
                else:
                    shared[job.key].set_exception(exc)
                    shared[job.key].exception()  # retrieved: nobody logs it as lost
                raise
            self._store(job, out)  # committed now: a killed run loses only the requests in flight
            shared[job.key].set_result(out)
            return out

        async def convert(conv: Conversation) -> Extraction:
            screen = None
            if self.config.screen_subjective:
                screen = await outcome(self._job(conv, "screen"))
                if screen.error is not None or not screen.data["subjective"]:
                    return self._extraction(conv, screen, None)
            return self._extraction(conv, screen, await outcome(self._job(conv, "full")))

        async def worker() -> None:
            for i, conv in queue:
                results[i] = await convert(conv)

        async def run_all() -> None:
            # twice as many workers as slots: one waits with its prompt built while the other's request
            # is in flight or backing off; the client's semaphore still bounds requests in flight
            async with asyncio.TaskGroup() as group:
                for _ in range(min(len(conversations), 2 * self.slots)):
                    group.create_task(worker())

        try:
            self.backend.runner.run(run_all())
        except BaseExceptionGroup as group:
            raise _first_leaf(group) from None
        finally:
            self.cache.flush()
        missing = [conversations[i].id for i, r in enumerate(results) if r is None]
        if missing:  # cannot happen unless a worker died silently; never return fewer results than asked
            raise RuntimeError(f"{len(missing)} conversations were not processed, e.g. {missing[0]}")
        return results  # type: ignore[return-value]

    def _finish(self, job: Job, data: Any) -> dict[str, Any]:
        """Validated model -> plain dict, with the task summary scrubbed before anything stores it."""
        d = data.model_dump() if hasattr(data, "model_dump") else dict(data)
        task = d.get("task", "")
        d["task"] = "" if task_problem(task) else self._scrub(task)
        return d

    # -- the Extractor interface -----------------------------------------------------
    def extract(self, conversations: list[Conversation]) -> list[Extraction]:
        if self.backend is None:
            self.load()
        try:
            if not self.config.batch_api:
                return self._extract_live(conversations)
            screened: dict[str, Outcome] = {}
            full_convs = conversations
            if self.config.screen_subjective:
                jobs = [self._job(c, "screen") for c in conversations]
                res = self._run_jobs(jobs)
                screened = {j.conv.id: res[j.key] for j in jobs}
                full_convs = [
                    c for c in conversations if screened[c.id].error is None and screened[c.id].data["subjective"]
                ]
            jobs = [self._job(c, "full") for c in full_convs]
            res = self._run_jobs(jobs)
            full = {j.conv.id: res[j.key] for j in jobs}
        except FatalError as exc:
            raise RuntimeError(f"{self.name}: {exc.reason}") from None
        return [self._extraction(c, screened.get(c.id), full.get(c.id)) for c in conversations]

    def _extraction(self, conv: Conversation, screen: Outcome | None, full: Outcome | None) -> Extraction:
        usage: dict[str, int] = {}
        for o in (screen, full):
            for k, v in (o.usage if o else {}).items():
                usage[k] = usage.get(k, 0) + v
        if screen is not None and screen.error is not None:
            return Extraction(id=conv.id, error=f"screen: {screen.error}", raw=screen.raw, usage=usage)
        if full is None:  # screened out as objective
            s = Screen.model_validate(screen.data)  # type: ignore[union-attr]
            judgment = Judgment(
                id=conv.id, subjective=False, task=s.task, task_category=s.task_category, extractor=self.name
            )
            return Extraction(id=conv.id, judgment=judgment, usage=usage)
        if full.error is not None:
            return Extraction(id=conv.id, error=full.error, raw=full.raw, usage=usage)
        answer = Answer.model_validate(full.data)
        ai, human, dropped = clean_values(answer)
        if dropped:
            usage["values_dropped"] = usage.get("values_dropped", 0) + dropped
        response = answer.response if human else "no_human_values"
        judgment = Judgment(
            id=conv.id,
            subjective=answer.subjective,
            task=answer.task,
            task_category=answer.task_category,
            response=response,
            harmful_score=1.0 if answer.harmful_compliance else 0.0,
            extractor=self.name,
        )
        values = [ValueMention(id=conv.id, side="ai", value=v, explicit=e, l2_hint=l2) for v, e, l2 in ai]
        values += [ValueMention(id=conv.id, side="human", value=v, l2_hint=l2) for v, l2 in human]
        return Extraction(id=conv.id, judgment=judgment, values=values, usage=usage)

    # -- --dry-run ----------------------------------------------------------------------
    def requests(self, conversations: list[Conversation]) -> list[dict[str, Any]]:
        """Every first request this run would send, as ``{key, id, kind, body}`` (body: the OpenAI request).

        ``key`` is what ``--backend replay`` looks answers up by (backends/replay.py). With the screen on,
        every conversation gets both requests (which ones are sent depends on the screen's answers).
        """
        from valuescope.extract.llm.backends.replay import request_body, request_key

        kinds = ["screen", "full"] if self.config.screen_subjective else ["full"]
        out = []
        for conv in conversations:
            for kind in kinds:
                job = self._job(conv, kind)
                model = (self.config.screen_model or self.config.model) if kind == "screen" else self.config.model
                body = request_body(
                    model,
                    self.config.temperature,
                    job.system,
                    [{"role": "user", "content": job.user}],
                    job.schema,
                    f"record_{kind}",
                    self.config.max_output_tokens,
                )
                out.append({"key": request_key(body), "id": conv.id, "kind": kind, "body": body})
        return out

    def estimate(self, conversations: list[Conversation]) -> dict[str, Any] | None:
        kinds = ["screen", "full"] if self.config.screen_subjective else ["full"]
        jobs = [self._job(c, k) for c in conversations for k in kinds]
        cached = set(self.cache.get_many([j.key for j in jobs]))
        todo = [j for j in jobs if j.key not in cached]
        input_tokens = sum(estimate_tokens(j.system) + estimate_tokens(j.user) + 10 for j in todo)
        output_tokens = sum(EST_OUTPUT_TOKENS[j.kind] for j in todo)
        out: dict[str, Any] = {
            "extractor": self.name,
            "calls": len(todo),
            "cached": len(jobs) - len(todo),
            "input_tokens": input_tokens,
            "output_tokens": output_tokens,
            "token_method": "characters / 4",
        }
        if self.config.screen_subjective:
            out["note"] = "upper bound: assumes every conversation passes the subjectivity screen"
        pin, pout = self.config.price_input_per_mtok, self.config.price_output_per_mtok
        if pin is not None and pout is not None:
            out["cost_usd"] = round(input_tokens / 1e6 * pin + output_tokens / 1e6 * pout, 4)
        return out
