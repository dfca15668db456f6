"""The translation engine: the request for a group of segments, the reply parsed back to
segments, and :class:`Translator`, which regroups replies that do not line up and re-asks
segments that fail validation once, with their problems named."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from ...llm.client import LLM
from ...llm.structured import StructuredResult
from ...prompts import Prompt
from ...text.escape import escape_data, unescape_data
from ...text.segments import Segment
from .validate import validate

log = logging.getLogger(__name__)

SINGLE_ATTEMPTS = 2  # requests for one segment whose replies keep failing
SCHEMA_NAME = "translations"

# (segments to re-ask, their problems by key) -> their second translations by key
ReAsk = Callable[[list["Segment"], dict[str, list[str]]], dict[str, "SegResult"]]


class TranslationItem(BaseModel):
    id: str
    text: str


class TranslationBatch(BaseModel):
    translations: list[TranslationItem]


@dataclass
class SegResult:
    text: str
    flags: list[str] = field(default_factory=list)
    ok: bool = True  # False: no usable reply at all (not journaled; a re-run retries it)


def build_messages(
    prompt: Prompt, segs: list[Segment], problems: dict[str, list[str]] | None = None
) -> tuple[list[dict], dict[str, Segment]]:
    """Chat messages for one request; ids are 1..n within the request."""
    ids = {str(i): s for i, s in enumerate(segs, 1)}
    terms = sorted({pair for s in segs for pair in s.glossary})
    blocks: list[str] = []
    if terms:
        blocks.append("<glossary>\n" + "\n".join(f"{ko} => {en}" for ko, en in terms) + "\n</glossary>")
    if problems:
        lines = [
            f"segment {sid}: " + "; ".join(problems[s.key]) for sid, s in ids.items() if s.key in problems
        ]
        if lines:
            blocks.append("<problems>\n" + "\n".join(lines) + "\n</problems>")
    blocks.append("\n".join(f'<segment id="{sid}">{escape_data(s.text)}</segment>' for sid, s in ids.items()))
    user = "\n\n".join(blocks)
    return [{"role": "system", "content": prompt.text}, {"role": "user", "content": user}], ids


class Translator:
    """Sends batches; regroups replies that do not line up; re-asks bad segments once."""

    def __init__(self, llm: LLM, prompt: Prompt):
        self.llm = llm
        self.prompt = prompt
        self._lock = threading.Lock()
        self.regroups = 0
        self.fix_retries = 0

    def translate_batch(self, segs: list[Segment]) -> dict[str, SegResult]:
        """Translate one request's segments: first replies, then the re-ask of the bad ones."""
        return self.revise(segs, self._group(segs, None))

    def revise(
        self, segs: list[Segment], results: dict[str, SegResult], ask_again: ReAsk | None = None
    ) -> dict[str, SegResult]:
        """Validate first replies; re-ask the bad segments once with their problems named and
        keep the better translation of each.  ``ask_again(segments, problems)`` sends the
        re-ask; by default online, now (the batch path passes the replies of its fix batch)."""
        bad = problems_of(segs, results)
        if bad:
            with self._lock:
                self.fix_retries += len(bad)
            again = [s for s in segs if s.key in bad]
            retried = (ask_again or self._group)(again, bad)
            for s in again:
                results[s.key] = choose_revision(s, results[s.key], bad[s.key], retried.get(s.key))
        return results

    def _group(self, segs: list[Segment], problems: dict[str, list[str]] | None) -> dict[str, SegResult]:
        attempts = 1 if len(segs) > 1 else SINGLE_ATTEMPTS
        reason = ""
        for _ in range(attempts):
            mapping, reason = self._request(segs, problems)
            if mapping is not None:
                return {s.key: SegResult(mapping[s.key]) for s in segs}
        if len(segs) > 1:
            with self._lock:
                self.regroups += 1
            log.info("reply for %d segments unusable (%s); retrying in smaller groups", len(segs), reason)
            mid = len(segs) // 2
            return {**self._group(segs[:mid], problems), **self._group(segs[mid:], problems)}
        seg = segs[0]
        log.warning("segment %s#%d could not be translated: %s", seg.entry_id, seg.index, reason)
        return {seg.key: SegResult(seg.text, [f"untranslated: {reason}"], ok=False)}

    def _request(
        self, segs: list[Segment], problems: dict[str, list[str]] | None
    ) -> tuple[dict[str, str] | None, str]:
        params, ids = request_params(self.prompt, segs, problems)
        res = self.llm.complete_json(**params, max_reasks=1)
        return parse_reply(res, ids)


def request_params(
    prompt: Prompt, segs: list[Segment], problems: dict[str, list[str]] | None = None
) -> tuple[dict[str, Any], dict[str, Segment]]:
    """The structured-output request for ``segs``: online (``LLM.complete_json``) and in a
    Batch API line (``LLM.structured_body``) alike; plus the request's id -> segment map."""
    messages, ids = build_messages(prompt, segs, problems)
    return {"messages": messages, "model_cls": TranslationBatch, "schema_name": SCHEMA_NAME}, ids


def parse_reply(res: StructuredResult, ids: dict[str, Segment]) -> tuple[dict[str, str] | None, str]:
    """Segment key -> English text from one structured reply, or (None, why it is unusable)."""
    if not res.ok or res.value is None:
        why = "refused" if res.refused else "truncated" if res.truncated else "invalid reply"
        return None, f"{why}: {res.errors[-1] if res.errors else ''}"[:300]
    value: TranslationBatch = res.value  # type: ignore[assignment]
    got = [item.id.strip() for item in value.translations]
    if sorted(got) != sorted(ids):
        dup = sorted({i for i in got if got.count(i) > 1})
        return None, (
            f"ids do not line up (missing {sorted(set(ids) - set(got))}, "
            f"extra {sorted(set(got) - set(ids))}, duplicated {dup})"
        )
    by_id = {item.id.strip(): item.text for item in value.translations}
    return {s.key: unescape_data(by_id[sid].strip()) for sid, s in ids.items()}, ""


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
