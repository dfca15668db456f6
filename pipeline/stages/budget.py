"""What an LLM stage may spend, checked before each request it sends (:meth:`Budget.request`).

- **Cancellation** (Ctrl-C): once the run is cancelled no request is started.
- **The cost limit** (``llm.max_cost``, ``--max-cost``): a request is sent only if the money
  spent so far by the run's LLM client, plus the worst case of the requests in flight, plus
  this request's worst case (its prompt and its ``max_tokens``) stay within the limit.  The
  first request that does not fit stops the stage (:attr:`Budget.halted`); what finished is
  journaled, so a re-run resumes.  At $0 prices (a local endpoint) it never triggers.
- **The token budget of retries** (``llm.max_token_overrun``): a retry (regroup, re-ask) is
  refused (:class:`OverBudget`) when the stage's prompt tokens would pass that multiple of its
  planned prompt tokens (the first try of every request, as ``--dry-run`` counts them); the
  first tries not sent yet are reserved, so retries never starve them.  Both sides are counted
  in the same units, ours: a server counts with its own tokenizer (and its chat template), so
  its figures, right for the cost, would spend the budget of retries on another scale.

Requests per segment / entry are bounded by the engines (they know what a request carries).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from ..errors import ContextLengthError
from ..llm.usage import estimate_cost
from .base import JobSkipped

if TYPE_CHECKING:
    from ..llm.usage import UsageMeter
    from ..settings import Settings

INTERRUPTED = "interrupted"


class Halt(JobSkipped):
    """No request is sent any more: the run was interrupted or reached its cost limit."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class OverBudget(Exception):  # noqa: N818 - a signal, not a failure
    """A retry refused: it would bring the stage past its token budget."""


class Budget:
    """Shared by a stage's worker threads; one per stage run."""

    def __init__(self, settings: Settings, meter: UsageMeter, planned_prompt_tokens: int) -> None:
        self.llm_settings = settings.llm
        self.max_cost = settings.llm.max_cost
        self.planned = max(0, planned_prompt_tokens)
        self.token_limit = int(settings.llm.max_token_overrun * self.planned)
        self.meter = meter
        self._lock = threading.Lock()
        self._sent_tokens = 0  # our count of the prompt tokens of every request sent
        self._first_sent = 0  # ... of the first tries sent
        self._in_flight = 0.0  # worst-case USD of the requests in flight
        self.cancelled = threading.Event()
        self.halted: str | None = None  # why no request is sent any more (cost limit)
        self.retries_refused = 0

    # -- figures ------------------------------------------------------------------------

    def spent(self) -> float:
        """USD spent by the run's LLM client so far (every stage of a ``digest run``)."""
        snap = self.meter.snapshot()
        return estimate_cost(snap["prompt_tokens"], snap["completion_tokens"], self.llm_settings)

    def prompt_tokens(self) -> int:
        """The stage's prompt tokens so far, in our count (the plan's units; a request that timed
        out counts too)."""
        return self._sent_tokens

    # -- the check ----------------------------------------------------------------------

    def check(self) -> None:
        """Raise :class:`Halt` once the run is cancelled or stopped on the cost limit."""
        if self.cancelled.is_set():
            raise Halt(INTERRUPTED)
        if self.halted is not None:
            raise Halt(self.halted)

    @contextmanager
    def request(self, prompt_tokens: int, max_tokens: int, *, first: bool) -> Iterator[None]:
        """Around one request: raises :class:`Halt` (cancelled, cost limit) or, for a retry
        (``first=False``), :class:`OverBudget`; else counts it and lets it go.  ``first``: a
        first try (planned work; also the parts of one the server found over its context
        window).  A request refused as over the context window costs nothing."""
        worst = estimate_cost(prompt_tokens, max_tokens, self.llm_settings)
        with self._lock:
            self.check()
            if not first and self._past_token_limit(prompt_tokens):
                self.retries_refused += 1
                raise OverBudget(
                    f"retry budget spent (the stage's prompt tokens would pass "
                    f"{self.llm_settings.max_token_overrun:g}x the {self.planned} planned)"
                )
            if self.max_cost is not None:
                spent = self.spent()
                if spent + self._in_flight + worst > self.max_cost + 1e-12:
                    self.halted = (
                        f"stopped at the cost limit: ${spent:.4f} spent, the next request could cost "
                        f"up to ${worst:.4f} more than the ${self.max_cost:g} allowed (--max-cost)"
                    )
                    raise Halt(self.halted)
            self._in_flight += worst
            self._sent_tokens += prompt_tokens
            if first:
                self._first_sent += prompt_tokens
        try:
            yield
        except ContextLengthError:  # refused unread: nothing was spent
            with self._lock:
                self._sent_tokens -= prompt_tokens
                if first:
                    self._first_sent -= prompt_tokens
            raise
        finally:
            with self._lock:
                self._in_flight -= worst

    def _past_token_limit(self, prompt_tokens: int) -> bool:
        reserved = max(0, self.planned - self._first_sent)
        return self.prompt_tokens() + reserved + prompt_tokens > self.token_limit
