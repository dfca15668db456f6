"""The ``replay`` fault: the mock answers the next matching request(s) with a recorded reply,
a real server's status, headers and body (or server-sent-event stream), taken from a quirk
fixture (``tests/fixtures/quirks/*.json``: ``status``, ``headers``, ``body``, ``stream``,
``request_hint``, ``source``).

The request a fixture answers comes from its ``request_hint`` (``GET /props``,
``POST /api/show``...), by default ``POST /chat/completions``, optionally narrowed by a
predicate on the request body.  ``MockLLM.replay(fixture, times=N)`` queues it; ``llm.mock_faults = "replay=a.json+b.json"`` queues files in order.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ...errors import ConfigError
from .wire import Reply

_HINT = re.compile(r"^\s*(GET|POST|DELETE)\s+(/\S*)")
_DROP_HEADERS = {"content-length", "transfer-encoding", "date"}


@dataclass
class Replay:
    method: str
    path: str  # without the /v1 prefix, no query
    reply: Reply
    times: int
    name: str
    when: Callable[[dict[str, Any]], bool] | None = None  # only requests whose JSON body passes


def load_fixture(fixture: dict[str, Any] | str | Path) -> dict[str, Any]:
    if isinstance(fixture, dict):
        return fixture
    path = Path(fixture)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError(f"cannot read the replay fixture {path}: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("status"), int):
        raise ConfigError(f"{path} is not a replayable fixture (it needs an HTTP status)")
    return data


def reply_of(fixture: dict[str, Any]) -> Reply:
    """A fixture as the mock's (status, headers, body)."""
    headers = {k.lower(): str(v) for k, v in (fixture.get("headers") or {}).items()}
    headers = {k: v for k, v in headers.items() if k not in _DROP_HEADERS}
    stream, body = fixture.get("stream"), fixture.get("body")
    if stream is not None:
        headers.setdefault("content-type", "text/event-stream")
        payload = str(stream).encode()
    elif isinstance(body, dict | list):
        headers.setdefault("content-type", "application/json")
        payload = json.dumps(body, ensure_ascii=False).encode()
    else:
        payload = b"" if body is None else str(body).encode()
    return int(fixture["status"]), headers, payload


def normalise(path: str) -> str:
    path = path.split("?", 1)[0].rstrip("/") or "/"
    return path[3:] if path.startswith("/v1/") else path


def target_of(fixture: dict[str, Any]) -> tuple[str, str]:
    m = _HINT.match(str(fixture.get("request_hint") or ""))
    return (m.group(1), normalise(m.group(2))) if m else ("POST", "/chat/completions")


class Replayer:
    """The queue of recorded replies still to send (thread-safe)."""

    def __init__(self) -> None:
        self._queue: list[Replay] = []
        self._lock = threading.Lock()

    def add(
        self,
        fixture: dict[str, Any] | str | Path,
        *,
        times: int = 1,
        method: str | None = None,
        path: str | None = None,
        when: Callable[[dict[str, Any]], bool] | None = None,
    ) -> None:
        data = load_fixture(fixture)
        hint_method, hint_path = target_of(data)
        name = str(data.get("case") or "fixture")
        target = normalise(path) if path else hint_path
        item = Replay(method or hint_method, target, reply_of(data), times, name, when)
        with self._lock:
            self._queue.append(item)

    def take(self, method: str, path: str, body: bytes = b"") -> Reply | None:
        """The reply queued for this request, if any (used up after its ``times``)."""
        path = normalise(path)
        with self._lock:
            for item in self._queue:
                if item.method == method and item.path == path and _passes(item, body):
                    item.times -= 1
                    if item.times <= 0:
                        self._queue.remove(item)
                    return item.reply
        return None

    def pending(self) -> int:
        with self._lock:
            return sum(i.times for i in self._queue)


def _passes(item: Replay, body: bytes) -> bool:
    if item.when is None:
        return True
    try:
        request = json.loads(body or b"{}")
    except json.JSONDecodeError:
        return False
    return isinstance(request, dict) and bool(item.when(request))
