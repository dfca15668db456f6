"""Planning a translate run: every section of every entry becomes source text (already
English), a memory hit, or segments with cache keys; what is neither cached nor in memory
is packed into requests.  The online path and the batch path share it.  What depends on a
section's text alone (its split, token counts, term pairs) is memoised by content hash
(``memo.py``), so a re-run's planning work grows with what changed."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ...prompts import Prompt, load_prompt
from ...records import Entry
from ...settings import Settings
from ...store.journal import JsonlCache
from ...store.jsonl import content_hash
from ...store.layout import OutDir
from ...text.glossary import Glossary
from ...text.hangul import has_hangul
from ...text.memory import TranslationMemory, load_memory
from ...text.segments import Segment, pack
from .glossary import glossary_for
from .memo import PlanMemo

if TYPE_CHECKING:
    from ...llm.client import LLM
    from .engine import SegResult

CACHE_VERSION = "translate/v1"

log = logging.getLogger(__name__)


@dataclass
class SectionPlan:
    entry: Entry
    index: int
    source_hash: str
    origin: str | None = None  # "source" / "memory" when settled without segments
    text: str | None = None
    segments: list[tuple[Segment, str]] = field(default_factory=list)  # (segment, joiner)
    memory_parts: dict[int, str] = field(default_factory=dict)
    memory_path: Path | None = None  # the memory file the whole section came from


def segment_key(text: str, model: str, prompt_sha: str, glossary: tuple, temperature: float) -> str:
    return content_hash(CACHE_VERSION, text, model, prompt_sha, [list(p) for p in glossary], temperature)


def plan_sections(
    entries: list[Entry],
    settings: Settings,
    prompt: Prompt,
    glossary: Glossary,
    memory: TranslationMemory,
    memo: PlanMemo | None = None,
) -> list[SectionPlan]:
    model = settings.llm.chat_model
    temperature = settings.llm.temperature
    memo = memo or PlanMemo(None, model, settings.translate.max_section_tokens)
    memo.use_glossary(glossary)

    def key(chunk: str, gl: tuple[tuple[str, str], ...]) -> str:
        return segment_key(chunk, model, prompt.sha, gl, temperature)

    plans: list[SectionPlan] = []
    for entry in entries:
        for i, section in enumerate(entry.sections):
            plan = SectionPlan(entry, i, memo.source_hash(section.text))
            plans.append(plan)
            if not has_hangul(section.text):
                plan.origin, plan.text = "source", section.text
                continue
            remembered = memory.record(section.text)
            if remembered is not None:
                plan.origin, plan.text, plan.memory_path = "memory", remembered.en, remembered.path
                continue
            chunks = memo.segments(section.text, glossary, prompt.sha, temperature, key)
            for part, (chunk, joiner, tokens, gl, seg_key) in enumerate(chunks):
                hit = memory.lookup(chunk)
                if hit is not None:
                    plan.memory_parts[part] = hit
                seg = Segment(
                    key=seg_key,
                    text=chunk,
                    entry_id=entry.id,
                    index=i,
                    part=part,
                    parts=len(chunks),
                    tokens=tokens,
                    glossary=gl,
                )
                plan.segments.append((seg, joiner))
    return plans


@dataclass
class Work:
    """What a translate run has to do: the online path and the batch path share it."""

    plans: list[SectionPlan]
    prompt: Prompt
    journal: JsonlCache
    todo: dict[str, Segment]  # segments neither cached nor in memory, by key
    batches: list[list[Segment]]  # ``todo`` packed into requests
    glossary: Glossary
    glossary_added: int  # terms the glossary gained from this run's digests


def plan_work(settings: Settings, *, write_glossary: bool) -> Work:
    """Plan every section of ``OUT/entries.jsonl``; pack what is not cached into requests."""
    out = OutDir(settings.out_dir)
    entries = out.load_entries()
    memo = PlanMemo(
        out.journal_path("translate-plan"), settings.llm.chat_model, settings.translate.max_section_tokens
    )
    glossary, added = glossary_for(settings, entries, write=write_glossary, pairs=memo.pairs)
    memory = load_memory(settings.translate.memory_files)
    prompt = load_prompt(settings, settings.translate.prompt)
    plans = plan_sections(entries, settings, prompt, glossary, memory, memo)
    if write_glossary:  # not on --dry-run: it writes nothing
        memo.save()
    journal = JsonlCache(OutDir(settings.out_dir).journal_path("translate"))
    todo: dict[str, Segment] = {}
    for plan in plans:
        for seg, _ in plan.segments:
            if seg.part in plan.memory_parts or cached_result(journal, seg.key) or seg.key in todo:
                continue
            todo[seg.key] = seg
    batches = pack(list(todo.values()), settings.translate.batch_tokens)
    return Work(plans, prompt, journal, todo, batches, glossary, added)


def fit_to_endpoint(settings: Settings, llm: LLM, work: Work) -> None:
    """Smaller requests for a small or slow server (its probed context window and speed),
    unless ``translate.batch_tokens`` was set.  Probes an unknown endpoint: called only
    when there are requests to make."""
    if "batch_tokens" in settings.translate.model_fields_set:
        return
    budget = llm.batch_tokens(settings.translate.batch_tokens)
    if budget < settings.translate.batch_tokens:
        log.info(
            "%d source tokens per request suit %s (translate.batch_tokens to override)", budget, llm.host
        )
        work.batches = pack(list(work.todo.values()), budget)


def cached_result(journal: JsonlCache, key: str) -> bool:
    """Does the journal hold a usable translation for this segment key?"""
    value = journal.get(key)
    return isinstance(value, dict) and isinstance(value.get("text"), str)


def journal_results(journal: JsonlCache, results: dict[str, SegResult], model: str) -> int:
    """Journal every result that was tried: a usable one with its text (a re-run reuses it), a
    failed one as FAILED with its reason (not a cached result: the next run retries it).
    Returns how many usable results were journaled."""
    done = {k: {"text": r.text, "flags": r.flags, "model": model} for k, r in results.items() if r.ok}
    failed = {
        k: {"failed": "; ".join(r.flags)[:400], "model": model}
        for k, r in results.items()
        if not r.ok and r.tried
    }
    journal.put_many({**failed, **done})
    return len(done)
