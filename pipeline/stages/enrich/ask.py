"""How enrich asks for one entry's metadata: :class:`Enricher` sends the request within the
retry budget -- the first request, a re-ask naming the errors, a fresh one (at most
``enrich.max_requests_per_entry``), each through the stage's
:class:`~pipeline.stages.budget.Budget` -- and shortens a paper over the model's context
window once (never sends it again as is)."""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ...errors import ContextLengthError
from ...llm.structured import StructuredResult, reask_messages, strict_json_schema
from ...llm.tokens import count_message_tokens, count_tokens
from ..budget import Budget, Halt, OverBudget
from .plan import Job, request_params
from .schema import LLMMetadata

if TYPE_CHECKING:
    from ...llm.client import LLM


@dataclass
class Asked:
    """An entry's last reply, the requests it took, and whether its paper was shortened."""

    result: StructuredResult
    requests: int
    shortened: bool = False


class Enricher:
    """Sends each entry's request within the retry budget; shared by the worker threads."""

    def __init__(
        self,
        llm: LLM,
        *,
        budget: Budget | None = None,
        max_requests: int = 3,
        shorten: Callable[[Job], list[dict]] | None = None,
    ) -> None:
        self.llm = llm
        self.budget = budget
        self.max_requests = max(1, max_requests)
        self.shorten = shorten
        self.schema_tokens = schema_tokens(llm.model)

    def ask(self, job: Job) -> Asked:
        """Request 1 fresh, 2 a re-ask naming the errors, 3 fresh again (a flaky endpoint); a
        refusal re-asked once is final.  An error of a request propagates (the entry failed);
        a retry the budget refuses leaves the last reply."""
        params = request_params(job)
        base: list[dict] = params.pop("messages")
        limit = cap = int(params.pop("max_tokens"))
        convo, res, sent, shortened = base, None, 0, False
        while sent < self.max_requests:
            try:
                res = self._send(convo, params, limit, first=res is None and not shortened)
            except ContextLengthError:
                if shortened or self.shorten is None:
                    raise
                base = convo = self.shorten(job)  # refused unread: not counted
                shortened = True
                continue
            except (OverBudget, Halt):
                if res is None:
                    raise
                break
            sent += 1
            if res.ok or (res.refused and sent % 2 == 0):
                break
            if res.truncated:  # cut off at max_tokens: room for a longer reply
                limit = min(2 * limit, 2 * max(cap, self.llm.settings.max_output_tokens))
            errors = [e.split(": ", 1)[-1] for e in res.errors]
            followup = reask_messages(res.raw, errors, truncated=res.truncated, refused=res.refused)
            convo = [*base, *followup] if sent % 2 == 1 else base
        assert res is not None
        return Asked(res, sent, shortened)

    def prompt_tokens(self, messages: list[dict]) -> int:
        return count_message_tokens(messages, self.llm.model) + self.schema_tokens

    def _send(
        self, messages: list[dict], params: dict[str, Any], limit: int, *, first: bool
    ) -> StructuredResult:
        guard: AbstractContextManager[Any] = (
            self.budget.request(self.prompt_tokens(messages), limit, first=first)
            if self.budget is not None
            else nullcontext()
        )
        with guard:
            return self.llm.complete_json(messages=messages, **params, max_reasks=0, max_tokens=limit)


def schema_tokens(model: str) -> int:
    """Prompt tokens the metadata schema adds to each request (either JSON mode)."""
    return count_tokens(json.dumps(strict_json_schema(LLMMetadata)), model)
