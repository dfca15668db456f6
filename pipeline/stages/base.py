"""The stage contract and the machinery the stages share.

- :class:`Report`: what every stage returns: ``summary()`` (one line or a few, for the CLI)
  and ``exit_code`` (0, or a :class:`~pipeline.errors.DigestError` code).
- :func:`run_jobs`: run jobs concurrently; each outcome goes to a callback in the calling
  thread as it finishes (so the stage journals it at once, without locks).
- ``policy.py``: the ONE abort policy of the LLM stages (translate, enrich, the newsletter
  intros); ``budget.py`` holds what they may spend (cost limit, retry budget).
- :func:`estimate_requests`: tokens and cost of the requests a ``--dry-run`` would send.
- :class:`BatchAdapter`: how a stage offers its requests to the Batch API
  (``pipeline.batch``); a stage registers one in ``batch/orchestrator.py``.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from ..llm.base import Completion
from ..llm.structured import completion_from_body
from ..llm.tokens import count_message_tokens
from ..llm.usage import estimate_cost, price_basis
from ..progress import Progress

if TYPE_CHECKING:
    from ..batch.ledger import BatchItem, Fix
    from ..llm.client import LLM
    from ..settings import Settings

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")


class Report(Protocol):
    """What every stage returns."""

    @property
    def exit_code(self) -> int: ...

    def summary(self) -> str: ...


# -- jobs -------------------------------------------------------------------------------------


class JobSkipped(Exception):  # noqa: N818 - a signal, not a failure
    """Raised by a job function to skip its job because the run is stopping (a fatal error
    elsewhere); the job is not counted as progress."""


@dataclass
class JobOutcome(Generic[T, R]):
    job: T
    result: R | None = None
    error: BaseException | None = None


def run_jobs(
    jobs: Sequence[T],
    fn: Callable[[T], R],
    *,
    concurrency: int,
    progress: Progress | None = None,
    on_result: Callable[[JobOutcome[T, R]], None] | None = None,
    weight: Callable[[T], int] | None = None,
    cancel: threading.Event | None = None,
    on_cancel: Callable[[], None] | None = None,
) -> list[JobOutcome[T, R]]:
    """Run ``fn`` over ``jobs`` with at most ``concurrency`` in flight.

    ``on_result`` is called in the calling thread as each job finishes (so the caller can
    append to its journal without locks).  An exception in ``fn`` is captured in the outcome,
    never lost; other jobs go on.  ``progress`` (when given) advances by ``weight(job)`` for a
    job that succeeded and counts a failed one apart; a :class:`JobSkipped` job counts neither.

    Ctrl-C (``KeyboardInterrupt`` in the calling thread) returns at once: ``cancel`` is set
    (jobs check it before each request), ``on_cancel`` runs (e.g. closes the HTTP client) in
    the background, and the workers -- daemon threads, perhaps blocked in a request for a
    minute -- are abandoned; the interrupt is re-raised.  Outcomes that arrive later are
    dropped, never half-applied: only the calling thread applies them.
    """
    outcomes: list[JobOutcome[T, R]] = []
    cancel = cancel or threading.Event()
    todo: queue.SimpleQueue[Any] = queue.SimpleQueue()
    results: queue.Queue[JobOutcome[T, R]] = queue.Queue()

    def worker() -> None:
        while (job := todo.get()) is not _DONE and not cancel.is_set():
            try:
                out: JobOutcome[T, R] = JobOutcome(job, fn(job))
            except BaseException as exc:  # handed to the caller, never lost
                out = JobOutcome(job, None, exc)
            results.put(out)

    source = iter(jobs)
    workers = max(1, concurrency)
    started = in_flight = 0
    try:
        while True:
            # a job is handed out only when a slot is free and the outcomes before it were
            # applied, so a job sees the abort policy's verdict on the ones before it
            while in_flight < workers and (job := next(source, _DONE)) is not _DONE:
                if started < workers:
                    threading.Thread(target=worker, name=f"digest-llm-{started}", daemon=True).start()
                    started += 1
                todo.put(job)
                in_flight += 1
            if not in_flight:
                break
            out = results.get()
            in_flight -= 1
            if out.error is not None:
                log.debug("job failed: %r", out.error)
            outcomes.append(out)
            if on_result is not None:
                on_result(out)
            if progress is not None and not isinstance(out.error, JobSkipped):
                n = weight(out.job) if weight else 1
                (progress.advance if out.error is None else progress.fail)(n)
    except KeyboardInterrupt:
        cancel.set()
        if on_cancel is not None:  # closing a client may wait on its pool: never in this thread
            threading.Thread(target=on_cancel, name="digest-cancel", daemon=True).start()
        raise
    finally:
        for _ in range(started):
            todo.put(_DONE)
    return outcomes


_DONE = object()


# -- the abort policy ---------------------------------------------------------------------------


# -- dry-run estimates ----------------------------------------------------------------------------


@dataclass
class Estimate:
    requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0  # online
    batch_cost: float = 0.0  # the same requests through the Batch API (half price)
    price_basis: str = ""  # model and prices the cost is estimated with

    def describe(self) -> str:
        """One line for the log before a stage sends its requests."""
        return (
            f"{self.requests} requests, about {self.prompt_tokens} prompt + {self.completion_tokens} "
            f"completion tokens, ~${self.cost:.4f} for {self.price_basis}"
        )

    def warn_over(self, max_cost: float | None, stage: str) -> None:
        """Say up front when the estimate passes the cost limit (the stage stops at it)."""
        if max_cost is not None and self.cost > max_cost:
            log.warning(
                "%s: the estimate (~$%.4f) is above the cost limit $%g (--max-cost): the stage will stop "
                "when the limit is reached; finished work is journaled",
                stage,
                self.cost,
                max_cost,
            )

    def apply_to(self, report: object) -> None:
        """Copy the figures onto a stage report with fields of the same names."""
        for f in fields(self):
            setattr(report, f.name, getattr(self, f.name))


def estimate_requests(
    settings: Settings, requests: Iterable[tuple[list[dict], int]], *, extra_prompt_tokens: int = 0
) -> Estimate:
    """Tokens and cost of ``(messages, expected completion tokens)`` requests to the chat model;
    ``extra_prompt_tokens`` per request (e.g. a JSON schema sent with each)."""
    model = settings.llm.chat_model
    est = Estimate(price_basis=price_basis(settings.llm))
    for messages, completion_tokens in requests:
        est.requests += 1
        est.prompt_tokens += count_message_tokens(messages, model) + extra_prompt_tokens
        est.completion_tokens += completion_tokens
    est.cost = estimate_cost(est.prompt_tokens, est.completion_tokens, settings.llm)
    est.batch_cost = estimate_cost(est.prompt_tokens, est.completion_tokens, settings.llm, batch=True)
    return est


# -- the Batch API ------------------------------------------------------------------------------


@dataclass
class BatchRequest:
    """One line of a batch: its id, the request body, and what its reply fills."""

    custom_id: str
    body: dict[str, Any]
    item: BatchItem


@dataclass
class Selection:
    """Which of a stage's pending work a batch plans."""

    hold: set[str]  # cache keys already in a batch: never sent again
    only: set[str] | None = None  # plan only these keys (failed items resubmitted)
    fixes: dict[str, Fix] = field(default_factory=dict)  # re-asks: first reply + problems, by key


@dataclass
class Replies:
    """A finished batch: what each request line was for, and its reply."""

    items: dict[str, BatchItem]  # custom_id -> the cache keys its reply fills
    bodies: dict[str, tuple[dict[str, Any] | None, str]]  # custom_id -> (reply body, or None and why)
    model: str  # the model the batch was sent to
    resubmit: bool  # re-asks go to the next batch instead of online now

    def answered(self, applied: Applied) -> Iterator[tuple[str, BatchItem, Completion]]:
        """Each request line that got a reply: (custom_id, item, the reply); the lines that got
        none are recorded in ``applied.failed``, and the replies' tokens are counted."""
        for cid, item in self.items.items():
            body, why = self.bodies.get(cid, (None, "missing from the batch output"))
            if body is None:
                applied.failed[cid] = why
                continue
            comp = completion_from_body(body)
            applied.prompt_tokens += comp.prompt_tokens
            applied.completion_tokens += comp.completion_tokens
            yield cid, item, comp


@dataclass
class Applied:
    """What applying a batch's replies did."""

    succeeded: int = 0
    stale: int = 0  # replies for work that no longer exists (the digests changed)
    failed: dict[str, str] = field(default_factory=dict)  # custom_id -> why
    fixes: dict[str, Fix] = field(default_factory=dict)  # cache key -> a reply to re-ask
    prompt_tokens: int = 0
    completion_tokens: int = 0


class BatchAdapter(Protocol):
    """A stage's side of the Batch API: the orchestrator drives a stage only through this."""

    stage: str
    unit: str  # what a cache key stands for, plural: "segments", "entries"

    def plan_requests(self, settings: Settings, llm: LLM, select: Selection) -> list[BatchRequest]:
        """The requests the online stage would send now, as ``select`` narrows them."""
        ...

    def apply(self, settings: Settings, llm: LLM, replies: Replies) -> Applied:
        """Check and journal a finished batch's replies, as the online path would."""
        ...

    def run_online(self, settings: Settings, llm: LLM) -> Report:
        """The online stage: sends what is still missing and writes the stage output."""
        ...
