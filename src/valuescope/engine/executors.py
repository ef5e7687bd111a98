"""Choosing the engine: which executor computes a run's batches and chunks (docs/engine.md)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from valuescope.engine.runner import Executor, LocalExecutor
from valuescope.errors import ConfigError


@contextmanager
def open_executor(
    engine: str = "local",
    workers: int | None = None,
    address: str | None = None,
    ray_workers: int | None = None,
    worker_setup: Callable[[], None] | None = None,
) -> Iterator[Executor]:
    """The executor a run asks for: ``local`` (processes on this machine) or ``ray`` (a cluster, or a
    local Ray instance); the tables are the same either way, so the choice is in no stage key.

    ``worker_setup``: a picklable call each Ray actor makes first (local workers are forked from the caller,
    which has already made it)."""
    if engine == "local":
        yield LocalExecutor(workers)
        return
    if engine != "ray":
        raise ConfigError(f"unknown engine {engine!r}: local | ray")
    from valuescope.engine.ray import RayExecutor

    with RayExecutor(address, ray_workers, worker_setup) as executor:
        yield executor
