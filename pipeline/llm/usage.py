"""Thread-safe request / token / HTTP-status accounting (and the HTTP hooks that feed it),
and cost estimates."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import httpx

    from ..settings import LLMSettings


class UsageMeter:
    """Counts what one ``LLM`` instance spent.  Shared by worker threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests = 0  # logical calls (one per SDK call, retries excluded)
        self.prompt_tokens = 0
        self.completion_tokens = 0
        self.http_status_counts: Counter[int] = Counter()
        self.timeouts = 0
        self.retries = 0  # HTTP responses that were 429/5xx, plus timeouts
        self.invalid_replies = 0  # structured replies malformed, truncated or refused (re-asked)

    def add_call(self, prompt_tokens: int = 0, completion_tokens: int = 0) -> None:
        with self._lock:
            self.requests += 1
            self.prompt_tokens += int(prompt_tokens or 0)
            self.completion_tokens += int(completion_tokens or 0)

    def add_tokens(self, prompt_tokens: int = 0, completion_tokens: int = 0) -> None:
        with self._lock:
            self.prompt_tokens += int(prompt_tokens or 0)
            self.completion_tokens += int(completion_tokens or 0)

    def add_status(self, status: int) -> None:
        with self._lock:
            self.http_status_counts[int(status)] += 1
            if status == 429 or status >= 500:
                self.retries += 1

    def add_invalid_reply(self) -> None:
        with self._lock:
            self.invalid_replies += 1

    def add_timeout(self) -> None:
        with self._lock:
            self.timeouts += 1
            self.retries += 1

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "requests": self.requests,
                "prompt_tokens": self.prompt_tokens,
                "completion_tokens": self.completion_tokens,
                "http_status_counts": {str(k): v for k, v in sorted(self.http_status_counts.items())},
                "timeouts": self.timeouts,
                "retries": self.retries,
                "invalid_replies": self.invalid_replies,
            }


class HttpTracker:
    """Counts HTTP responses by status, and attempts that got no response (timeouts,
    dropped connections).  SDK retries run in the calling thread, so attempts without
    a response are the per-thread difference between requests sent and responses."""

    def __init__(self, meter: UsageMeter) -> None:
        self.meter = meter
        self._local = threading.local()

    def on_request(self, request: httpx.Request) -> None:
        self._local.sent = getattr(self._local, "sent", 0) + 1

    def on_response(self, response: httpx.Response) -> None:
        self._local.received = getattr(self._local, "received", 0) + 1
        self.meter.add_status(response.status_code)

    @contextmanager
    def call(self) -> Iterator[None]:
        self._local.sent = self._local.received = 0
        try:
            yield
        finally:
            lost = getattr(self._local, "sent", 0) - getattr(self._local, "received", 0)
            for _ in range(max(0, lost)):
                self.meter.add_timeout()
            self._local.sent = self._local.received = 0


def price_basis(llm_settings: LLMSettings) -> str:
    """How a cost estimate was priced, so a user sees when the prices don't match the model."""
    return (
        f"{llm_settings.chat_model} at ${llm_settings.price_input_per_million:g} in / "
        f"${llm_settings.price_output_per_million:g} out per 1M tokens (llm.price_*_per_million)"
    )


def estimate_cost(
    prompt_tokens: int, completion_tokens: int, llm_settings: LLMSettings, *, batch: bool = False
) -> float:
    """USD for the given tokens at the configured per-million prices (Batch API: half price)."""
    cost = (
        prompt_tokens * llm_settings.price_input_per_million
        + completion_tokens * llm_settings.price_output_per_million
    ) / 1_000_000
    return cost * 0.5 if batch else cost
