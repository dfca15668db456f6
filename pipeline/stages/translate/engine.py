"""The translation engine: :class:`Translator` sends a batch (``request.py`` builds each
request and parses its reply), regroups replies that do not line up, re-asks a lone segment
with its errors named and segments that fail validation with their problems named, all
within a retry budget.

The retry budget: at most ``max_requests`` requests carry a segment (first try, regroups and
re-asks all count; ``translate.max_requests_per_segment``), and every retry passes the
stage's :class:`~pipeline.stages.budget.Budget` (token overrun, cost limit, Ctrl-C).  Past
it a segment keeps its best reply, flagged, or is marked untranslated (a re-run retries it).
A request over the model's context window is never sent again as is: the group is halved,
down to one segment, and a lone segment is split with the text splitter.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Any

from ...errors import ConfigError, ContextLengthError, DigestError
from ...llm.client import LLM
from ...llm.structured import StructuredResult, reask_messages
from ...llm.tokens import count_message_tokens, count_tokens
from ...prompts import Prompt
from ...text.segments import Segment, join_parts, split_text
from ..budget import Budget, Halt, OverBudget
from .request import output_limit, parse_reply, request_params, schema_tokens
from .validate import validate

log = logging.getLogger(__name__)

MIN_SPLIT_TOKENS = 24  # a segment this short is not split further for the context window

# (segments to re-ask, their problems by key) -> their second translations by key
ReAsk = Callable[[list["Segment"], dict[str, list[str]]], dict[str, "SegResult"]]


@dataclass
class SegResult:
    text: str
    flags: list[str] = field(default_factory=list)
    ok: bool = True  # False: no usable reply (journaled as failed; a re-run retries it)
    tried: bool = True  # False: never sent (the run stopped first)


class Translator:
    """Sends batches; regroups replies that do not line up; re-asks bad segments; all within
    the retry budget (see the module's doc).  Shared by the stage's worker threads."""

    def __init__(self, llm: LLM, prompt: Prompt, *, budget: Budget | None = None, max_requests: int = 3):
        self.llm = llm
        self.prompt = prompt
        self.budget = budget
        self.max_requests = max(1, max_requests)
        self._schema_tokens = schema_tokens(llm.model)
        self._lock = threading.Lock()
        self._sent: Counter[str] = Counter()  # requests that carried each segment
        self.regroups = 0
        self.fix_retries = 0
        self.context_splits = 0  # requests over the context window, sent again smaller
        self.gave_up = 0  # segments left without a usable reply

    def prompt_tokens(self, messages: list[dict]) -> int:
        """Our count of a request's prompt tokens (the planned and the spent alike)."""
        return count_message_tokens(messages, self.llm.model) + self._schema_tokens

    def translate_batch(self, segs: list[Segment]) -> dict[str, SegResult]:
        """Translate one request's segments: first replies, then the re-ask of the bad ones.
        An error of the first request propagates (the batch failed); later ones leave their
        segments untranslated."""
        return self.revise(segs, self._group(segs, None, first=True))

    def revise(
        self, segs: list[Segment], results: dict[str, SegResult], ask_again: ReAsk | None = None
    ) -> dict[str, SegResult]:
        """Validate first replies; re-ask the bad segments once with their problems named and
        keep the better translation of each.  ``ask_again(segments, problems)`` sends the
        re-ask; by default online, now, for the segments with requests left (the batch path
        passes the replies of its fix batch)."""
        bad = problems_of(segs, results)
        if ask_again is None:
            for key in [k for k in bad if self._left(k) <= 0]:  # past the budget: keep it, flagged
                results[key] = SegResult(results[key].text, bad.pop(key))
        if bad:
            with self._lock:
                self.fix_retries += len(bad)
            again = [s for s in segs if s.key in bad]
            retried = (ask_again or self._group)(again, bad)
            for s in again:
                results[s.key] = choose_revision(s, results[s.key], bad[s.key], retried.get(s.key))
        return results

    # -- one group -----------------------------------------------------------------------

    def _left(self, key: str) -> int:
        return self.max_requests - self._sent[key]

    def _group(
        self,
        segs: list[Segment],
        problems: dict[str, list[str]] | None,
        *,
        first: bool = False,
        planned: bool = False,
        why: str = "",
    ) -> dict[str, SegResult]:
        if min(self._left(s.key) for s in segs) <= 0:
            return self._give_up(segs, f"no usable reply in {self.max_requests} requests ({why})")
        sent = self._send(segs, problems, first=first, planned=planned)
        if isinstance(sent, dict):
            return sent
        res, ids = sent
        mapping, why = parse_reply(res, ids)
        if mapping is not None:
            return {s.key: SegResult(mapping[s.key]) for s in segs}
        if len(segs) > 1:  # in halves; one by one when that is the last request they have
            with self._lock:
                self.regroups += 1
            log.info("reply for %d segments unusable (%s); retrying in smaller groups", len(segs), why)
            size = 1 if min(self._left(s.key) for s in segs) <= 1 else len(segs) - len(segs) // 2
            out: dict[str, SegResult] = {}
            for i in range(0, len(segs), size):
                out.update(self._group(segs[i : i + size], problems, why=why))
            return out
        return self._reask(segs[0], problems, res, why)

    def _reask(
        self, seg: Segment, problems: dict[str, list[str]] | None, res: StructuredResult, why: str
    ) -> dict[str, SegResult]:
        """A lone segment: ask again with the unusable reply and its errors named."""
        limit = output_limit([seg], self.llm.settings.max_output_tokens)
        while self._left(seg.key) > 0:
            if res.truncated:  # cut off at max_tokens: room for a longer reply
                limit = min(2 * limit, 2 * self.llm.settings.max_output_tokens)
            followup = reask_messages(res.raw, [why], truncated=res.truncated, refused=res.refused)
            sent = self._send([seg], problems, followup=followup, max_tokens=limit)
            if isinstance(sent, dict):
                return sent
            res, ids = sent
            mapping, why = parse_reply(res, ids)
            if mapping is not None:
                return {seg.key: SegResult(mapping[seg.key])}
        return self._give_up([seg], f"no usable reply in {self.max_requests} requests ({why})")

    def _send(
        self,
        segs: list[Segment],
        problems: dict[str, list[str]] | None,
        *,
        first: bool = False,
        planned: bool = False,
        followup: list[dict] | None = None,
        max_tokens: int | None = None,
    ) -> tuple[StructuredResult, dict[str, Segment]] | dict[str, SegResult]:
        """One request through the budget: its reply, or the segments' results when it was
        not sent or failed (an error of a ``first`` request propagates: the batch failed).
        ``planned``: a part of a first try over the context window, not a retry."""
        params, ids = request_params(self.prompt, segs, problems)
        if followup:
            params["messages"] = [*params["messages"], *followup]
        limit = max_tokens or output_limit(segs, self.llm.settings.max_output_tokens)
        tokens = self.prompt_tokens(params["messages"])
        guard: AbstractContextManager[Any] = (
            self.budget.request(tokens, limit, first=first or planned)
            if self.budget is not None
            else nullcontext()
        )
        try:
            with guard:
                self._count(segs, 1)
                return self.llm.complete_json(**params, max_reasks=0, max_tokens=limit), ids
        except ContextLengthError as exc:
            self._count(segs, -1)  # refused unread: it does not count against the segments
            return self._too_long(segs, problems, exc)
        except OverBudget as exc:
            return self._give_up(segs, str(exc))
        except Halt as exc:
            if first:
                raise
            return {
                s.key: SegResult(s.text, [f"untranslated: not sent ({exc.reason})"], False, False)
                for s in segs
            }
        except ConfigError:
            raise
        except DigestError as exc:  # the request failed even after the SDK's retries
            if first:
                raise
            return self._give_up(segs, str(exc))

    def _too_long(
        self, segs: list[Segment], problems: dict[str, list[str]] | None, exc: ContextLengthError
    ) -> dict[str, SegResult]:
        """Over the context window: halve the group; split a lone segment's text."""
        with self._lock:
            self.context_splits += 1
        if len(segs) > 1:
            log.info("%d segments exceed the model's context window; sending them in halves", len(segs))
            mid = len(segs) // 2
            return {
                **self._group(segs[:mid], problems, planned=True),
                **self._group(segs[mid:], problems, planned=True),
            }
        seg = segs[0]
        count = lambda text: count_tokens(text, self.llm.model)  # noqa: E731
        chunks = (
            split_text(seg.text, max(MIN_SPLIT_TOKENS, seg.tokens // 2), count)
            if seg.tokens > MIN_SPLIT_TOKENS
            else []
        )
        if len(chunks) < 2:
            return self._give_up(
                segs,
                f"too long for the model's context window even alone ({exc}); lower translate.max_section_tokens",
            )
        log.info(
            "segment %s#%d exceeds the context window; sending it in %d parts",
            seg.entry_id,
            seg.index,
            len(chunks),
        )
        parts = [
            Segment(
                f"{seg.key}/{i}",
                text,
                seg.entry_id,
                seg.index,
                seg.part,
                seg.parts,
                count(text),
                seg.glossary,
            )
            for i, (text, _) in enumerate(chunks)
        ]
        with self._lock:
            for p in parts:
                self._sent[p.key] = self._sent[seg.key]
        done = self._group(parts, None, planned=True)
        failed = [done[p.key] for p in parts if not done[p.key].ok]
        if failed:
            return {seg.key: failed[0]}
        text = join_parts([(done[p.key].text, joiner) for p, (_, joiner) in zip(parts, chunks, strict=True)])
        return {seg.key: SegResult(text, [f for p in parts for f in done[p.key].flags])}

    def _count(self, segs: list[Segment], n: int) -> None:
        with self._lock:
            for s in segs:
                self._sent[s.key] += n

    def _give_up(self, segs: list[Segment], reason: str) -> dict[str, SegResult]:
        with self._lock:
            self.gave_up += len(segs)
        for seg in segs:
            log.warning("segment %s#%d could not be translated: %s", seg.entry_id, seg.index, reason)
        return {s.key: SegResult(s.text, [f"untranslated: {reason}"[:400]], ok=False) for s in segs}


def problems_of(segs: list[Segment], results: dict[str, SegResult]) -> dict[str, list[str]]:
    """Validation problems of the usable results (segments without problems left out)."""
    bad = {s.key: validate(s.text, results[s.key].text, s.glossary) for s in segs if results[s.key].ok}
    return {k: v for k, v in bad.items() if v}


def choose_revision(
    seg: Segment, first: SegResult, problems: list[str], second: SegResult | None
) -> SegResult:
    """Keep the re-asked translation unless it is worse; else the first one, flagged."""
    problems2 = validate(seg.text, second.text, seg.glossary) if second is not None and second.ok else None
    if second is not None and problems2 is not None and len(problems2) <= len(problems):
        return SegResult(second.text, problems2)
    return SegResult(first.text, list(problems), first.ok)
