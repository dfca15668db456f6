"""A request recorder built into the mock: it keeps the body of every chat request the mock
receives (online or as a batch line) and may steer the replies, so tests look at the wire
without subclassing the server.

``Recorder(fault=..., answer=..., edit=...)``:

- ``fault(request) -> str | None``: a fault to inject for this request ("korean",
  "truncate", ...; see ``faults.KINDS``), or None to leave it to the fault plan;
- ``answer(request) -> (status, payload) | None``: answer this request with an exact reply
  instead of the mock (e.g. a 400 the mock never sends);
- ``edit(request, content) -> content``: rewrite the text of a normal (fault-free) reply.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

Request = dict[str, Any]


class Recorder:
    def __init__(
        self,
        *,
        fault: Callable[[Request], str | None] | None = None,
        answer: Callable[[Request], tuple[int, dict[str, Any]] | None] | None = None,
        edit: Callable[[Request, str], str] | None = None,
    ) -> None:
        self.requests: list[Request] = []
        self._fault = fault
        self._answer = answer
        self._edit = edit
        self._lock = threading.Lock()

    # -- hooks the server calls -----------------------------------------------------------

    def received(self, request: Request) -> tuple[int, dict[str, Any]] | None:
        """Record ``request``; an exact reply to send instead, if one is scripted."""
        with self._lock:
            self.requests.append(request)
        return self._answer(request) if self._answer is not None else None

    def fault_for(self, request: Request, planned: str | None) -> str | None:
        forced = self._fault(request) if self._fault is not None else None
        return forced or planned

    def edit(self, request: Request, content: str) -> str:
        return self._edit(request, content) if self._edit is not None else content

    # -- reading what was sent ------------------------------------------------------------

    def __len__(self) -> int:
        return len(self.requests)

    def messages(self, i: int, role: str) -> str:
        """The text of request ``i``'s messages of one role, joined."""
        return "\n".join(
            str(m.get("content") or "") for m in self.requests[i].get("messages", []) if m.get("role") == role
        )

    def user_text(self, i: int) -> str:
        return self.messages(i, "user")

    def system_text(self, i: int) -> str:
        return self.messages(i, "system")
