"""Shared machinery of the LLM stages: run jobs concurrently, journal each result as
it arrives, report progress.  translate and enrich both use it."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from .progress import Progress

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")


class JobSkipped(Exception):  # noqa: N818 - a signal, not a failure
    """Raised by a job function to skip its job because the run is stopping (a fatal error
    elsewhere); the job is not counted as progress."""


@dataclass
class JobOutcome(Generic[T, R]):
    job: T
    result: R | None = None
    error: BaseException | None = None


@dataclass
class RunStats:
    jobs: int = 0
    failed: int = 0
    extra: dict[str, int] = field(default_factory=dict)


def run_jobs(
    jobs: Sequence[T],
    fn: Callable[[T], R],
    *,
    concurrency: int,
    progress: Progress | None = None,
    on_result: Callable[[JobOutcome[T, R]], None] | None = None,
    weight: Callable[[T], int] | None = None,
) -> list[JobOutcome[T, R]]:
    """Run ``fn`` over ``jobs`` with at most ``concurrency`` in flight.

    ``on_result`` is called in the calling thread as each job finishes (so the
    caller can append to its journal without locks).  An exception in ``fn`` is
    captured in the outcome, never lost; other jobs go on.
    """
    outcomes: list[JobOutcome[T, R]] = []
    workers = max(1, concurrency)
    pending: dict[Future[R], T] = {}
    it: Iterable[T] = iter(jobs)

    def finish(fut: Future[R], job: T) -> None:
        exc = fut.exception()
        out: JobOutcome[T, R] = JobOutcome(job, None if exc else fut.result(), exc)
        if exc is not None:
            log.debug("job failed: %r", exc)
        outcomes.append(out)
        if on_result is not None:
            on_result(out)
        if progress is not None and not isinstance(exc, JobSkipped):
            progress.advance(weight(job) if weight else 1)

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="digest-llm") as pool:
        exhausted = False
        while True:
            while not exhausted and len(pending) < workers:
                try:
                    job = next(it)  # type: ignore[call-overload]
                except StopIteration:
                    exhausted = True
                    break
                pending[pool.submit(fn, job)] = job
            if not pending:
                break
            done, _ = wait(list(pending), return_when=FIRST_COMPLETED)
            for fut in done:
                finish(fut, pending.pop(fut))
    return outcomes
