"""Thread-safe request / token / HTTP-status accounting (and the HTTP hooks that feed it),
and cost estimates."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any

from .quirks import is_quota

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
        self.rate_limited = 0  # HTTP 429 responses (the SDK waits what Retry-After asks, capped)

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
            if status == 429:
                self.rate_limited += 1

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
                "rate_limited": self.rate_limited,
            }


class HttpTracker:
    """Counts HTTP responses by status, and attempts that got no response (timeouts,
    dropped connections).  SDK retries run in the calling thread, so attempts without
    a response are the per-thread difference between requests sent and responses.

    A 429 (or 503) whose ``Retry-After`` asks for more than ``max_retry_after`` seconds is
    marked ``x-should-retry: false``, so the SDK fails at once instead of sleeping (a
    daily quota); shorter waits are the SDK's, which honours ``retry-after(-ms)``.
    Requests made inside :meth:`muted` (the capability probe) are not counted."""

    def __init__(self, meter: UsageMeter, max_retry_after: float | None = None) -> None:
        self.meter = meter
        self.max_retry_after = max_retry_after
        self._local = threading.local()

    def on_request(self, request: httpx.Request) -> None:
        self._local.sent = getattr(self._local, "sent", 0) + 1

    def on_response(self, response: httpx.Response) -> None:
        self._local.received = getattr(self._local, "received", 0) + 1
        if response.status_code in (429, 503) and self.max_retry_after is not None:
            wait = _retry_after(response.headers)
            if wait is not None and wait > self.max_retry_after:
                response.headers["x-should-retry"] = "false"
            elif response.status_code == 429 and is_quota(429, _body_text(response)):
                response.headers["x-should-retry"] = "false"  # out of credit: waiting will not help
        if not getattr(self._local, "muted", False):
            self.meter.add_status(response.status_code)

    @contextmanager
    def call(self) -> Iterator[None]:
        self._local.sent = self._local.received = 0
        try:
            yield
        finally:
            lost = getattr(self._local, "sent", 0) - getattr(self._local, "received", 0)
            if not getattr(self._local, "muted", False):
                for _ in range(max(0, lost)):
                    self.meter.add_timeout()
            self._local.sent = self._local.received = 0

    @contextmanager
    def muted(self) -> Iterator[None]:
        self._local.muted = True
        try:
            yield
        finally:
            self._local.muted = False


def _body_text(response: httpx.Response) -> str:
    try:
        return response.read().decode("utf-8", "replace")[:4000]
    except Exception:  # noqa: BLE001 - a body we cannot read is just not a quota message
        return ""


def _retry_after(headers: Any) -> float | None:
    """Seconds from ``retry-after-ms``, ``retry-after`` (seconds or an HTTP date)."""
    for name, divisor in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            return float(value) / divisor
        except ValueError:
            try:
                return parsedate_to_datetime(value).timestamp() - time.time()
            except (TypeError, ValueError, IndexError):
                continue
    reset = headers.get("x-ratelimit-reset")  # OpenRouter: epoch milliseconds
    if reset and reset.isdigit() and int(reset) > 10**12:
        return int(reset) / 1000 - time.time()
    return None


def price_basis(llm_settings: LLMSettings) -> str:
    """How a cost estimate was priced ("local endpoint: $0", "gpt-4o-mini at $0.15 in / ...
    (list price)"), so a user sees when the prices don't match the model."""
    return llm_settings.price_basis


def estimate_cost(
    prompt_tokens: int, completion_tokens: int, llm_settings: LLMSettings, *, batch: bool = False
) -> float:
    """USD for the given tokens at the configured per-million prices (Batch API: half price)."""
    cost = (
        prompt_tokens * (llm_settings.price_input_per_million or 0.0)
        + completion_tokens * (llm_settings.price_output_per_million or 0.0)
    ) / 1_000_000
    return cost * 0.5 if batch else cost
